// The sender: a process of its own (started detached by the hooks) that empties the outbox in order.
// A report leaves the outbox only when the receiver answers 200 (or refuses it as invalid for good);
// everything else keeps it for a later attempt, with backoff.

import { readHeld } from "../protocol/delivery.ts";
import { CAP_REFUSALS, describe, describeCap, describeRefusal } from "./answers.ts";
import { Client, REQUEST_TIMEOUT_MS, readAccessToken } from "./client.ts";
import { type Config, type Endpoints, loadConfig, resolveEndpoints } from "./config.ts";
import {
  Deliveries,
  type DeliveryState,
  type Numbered,
  numberedBody,
  readDeliveryState,
} from "./deliveries.ts";
import {
  acquireLock,
  type Env,
  isObject,
  readJson,
  type StatePaths,
  statePaths,
  touchLock,
  writeFileAtomic,
} from "./files.ts";
import type { JournalEntry } from "./journal.ts";
import { type DeviceKey, isKeyRevoked, loadOrCreateDeviceKey, setKeyAside } from "./keys.ts";
import { type Logger, logger } from "./log.ts";
import { clearOutbox, listOutbox, type OutboxEntry, readOutboxEntry, removeOutboxEntry } from "./outbox.ts";

/** sender.json: what `ccflux status` shows, and when the next attempt may be made. */
export interface SenderStatus {
  lastSuccessAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  failures: number;
  nextAttemptAt: number;
  /** Hashes of (receiver, public key) pairs where this device's key is registered. */
  registered: string[];
  delivery: DeliveryState;
  /** Hash of the (receiver, refresh token) last refused with 401: a different token is tried at once. */
  refusedToken: string | null;
}

export function readSenderStatus(paths: StatePaths): SenderStatus {
  const raw = readJson(paths.sender);
  const file = isObject(raw) ? raw : {};
  const number = (value: unknown) => (typeof value === "number" ? value : null);
  return {
    lastSuccessAt: number(file.lastSuccessAt),
    lastError: typeof file.lastError === "string" ? file.lastError : null,
    lastErrorAt: number(file.lastErrorAt),
    failures: number(file.failures) ?? 0,
    nextAttemptAt: number(file.nextAttemptAt) ?? 0,
    registered: Array.isArray(file.registered) ? file.registered.filter((x) => typeof x === "string") : [],
    delivery: readDeliveryState(file.delivery),
    refusedToken: typeof file.refusedToken === "string" ? file.refusedToken : null,
  };
}

export function registrationKey(endpoints: Endpoints, key: DeviceKey): string {
  return Bun.hash(`${endpoints.registerKey}\u0000${key.publicKeyBase64}`).toString(36);
}

/**
 * Backoff and lifetime scale with CCFLUX_BACKOFF_MS (default 1000 ms) so tests need not wait:
 * retries wait 1, 2, 4 … up to 60 units, Retry-After is honoured up to 3,600 units (the limit-event
 * cap asks for an hour), a refusal by one of the receiver's caps waits 600 units, and one sender
 * process gives up after 120 units without settling a delivery (the next hook starts another).
 */
export function timing(env: Env) {
  const unit = Math.max(1, Number(env.CCFLUX_BACKOFF_MS) || 1000);
  return {
    backoff: (failures: number) => Math.min(unit * 2 ** Math.max(0, failures - 1), unit * 60),
    retryAfterCap: unit * 3600,
    capWait: unit * 600,
    lifetime: unit * 120,
  };
}

/**
 * A sender starts no request more than its lifetime after it took the lock or last settled a
 * delivery (each settled delivery refreshes the lock); one delivery makes at most three requests.
 */
export function senderLockStaleMs(env: Env): number {
  return timing(env).lifetime + 3 * REQUEST_TIMEOUT_MS + 5_000;
}

/** An outbox entry, or a journaled delivery sent again to a receiver that lost it. */
type Item = { resend: false; entry: OutboxEntry } | { resend: true; entry: JournalEntry };

type Outcome =
  | { kind: "sent"; held: number | null }
  | { kind: "drop"; reason: string }
  | { kind: "revoked" }
  | { kind: "token-refused"; reason: string }
  | { kind: "retry"; reason: string; retryAfter?: number | null; capped?: boolean };

type Access = { ok: true; token: string } | { ok: false; outcome: Outcome };

class Sender {
  private readonly log: Logger;
  private readonly status: SenderStatus;
  private readonly deliveries: Deliveries;
  private accessToken: string | null = null;
  private sentCount = 0;
  private resentCount = 0;

  constructor(
    private readonly client: Client,
    private readonly env: Env,
    private readonly paths: StatePaths,
    private config: Config,
    private readonly endpoints: Endpoints,
  ) {
    this.log = logger(paths);
    this.status = readSenderStatus(paths);
    this.deliveries = new Deliveries(paths.journal, this.status.delivery);
  }

  /** "empty": outbox drained; "waiting": gave up for now (backoff past this process's lifetime); "silent": revoked. */
  async drain(): Promise<"empty" | "waiting" | "silent"> {
    const { backoff, retryAfterCap, capWait, lifetime } = timing(this.env);
    let deadline = Date.now() + lifetime;
    try {
      for (;;) {
        if (isKeyRevoked(this.paths)) return "silent";
        let item = this.nextItem();
        if (!item) return "empty";
        const key = loadOrCreateDeviceKey(this.paths);
        // A new key has numbers of its own: what was picked to send again belonged to the old one.
        if (this.deliveries.useKey(Bun.hash(key.publicKeyBase64).toString(36))) item = this.nextItem();
        if (!item) return "empty";
        // A refresh token other than the one last refused (IT issued a new one) is tried at once.
        const refused = this.status.refusedToken;
        const wait =
          refused !== null && refused !== this.tokenKey() ? 0 : this.status.nextAttemptAt - Date.now();
        if (wait > 0) {
          if (Date.now() + wait > deadline) return "waiting";
          await Bun.sleep(wait);
        }
        // Bounded lifetime, so a lock not refreshed for longer than it (plus one delivery) can only be
        // a hung sender's.
        if (Date.now() > deadline) return "waiting";
        const outcome = await this.deliver(item, key);
        if (outcome.kind === "sent" || outcome.kind === "drop") {
          this.settle(item, outcome);
          // Working, not waiting: a receiver that answers, however slowly, keeps this sender going (a
          // report a hook added meanwhile has no other sender: the one that hook started found the
          // lock held).
          deadline = Date.now() + lifetime;
          touchLock(this.paths.senderLock);
          continue;
        }
        if (outcome.kind === "revoked") {
          this.goSilent();
          return "silent";
        }
        this.status.failures++;
        if (outcome.kind === "token-refused") {
          this.status.refusedToken = this.tokenKey();
          this.status.nextAttemptAt = Date.now() + backoff(this.status.failures);
          this.fail(outcome.reason);
          // The settings may have a new token by now: the config file is read again; the plugin
          // settings reach only a new process, so this one stops and the next hook's sender has them.
          const fresh = loadConfig(this.env, this.paths);
          if (fresh && fresh.endpoint === this.config.endpoint && fresh.token !== this.config.token) {
            this.config = fresh;
            continue;
          }
          return "waiting";
        }
        const retryAfterMs =
          outcome.retryAfter != null ? Math.min(outcome.retryAfter * 1000, retryAfterCap) : 0;
        // A cap holds until IT acts: a retry sooner than capWait would only be refused again.
        const waitMs = Math.max(backoff(this.status.failures), retryAfterMs, outcome.capped ? capWait : 0);
        this.status.nextAttemptAt = Date.now() + waitMs;
        this.fail(outcome.reason);
      }
    } finally {
      if (this.sentCount > 0)
        this.log.info("reports sent", { count: this.sentCount, receiver: this.endpoints.origin });
      if (this.resentCount > 0)
        this.log.info("journaled reports sent again", {
          count: this.resentCount,
          receiver: this.endpoints.origin,
        });
      this.save();
    }
  }

  /** What the receiver lost comes first, then the outbox in order. */
  private nextItem(): Item | null {
    const resend = this.deliveries.nextResend();
    if (resend) return { resend: true, entry: resend };
    for (const name of listOutbox(this.paths.outbox)) {
      const entry = readOutboxEntry(this.paths.outbox, name);
      if (entry) return { resend: false, entry };
    }
    return null;
  }

  /** Journal first, then the status, then the outbox file: a crash in between sends it again, never loses it. */
  private settle(item: Item, outcome: Extract<Outcome, { kind: "sent" | "drop" }>): void {
    const seq = item.resend ? item.entry.seq : (this.status.delivery.pending?.seq ?? 0);
    if (outcome.kind === "sent") {
      const heal = this.deliveries.acknowledged(
        { kind: item.entry.kind, body: item.entry.body, seq, resend: item.resend },
        outcome.held,
        Date.now(),
      );
      if (heal) this.log.info(heal, { receiver: this.endpoints.origin });
      if (item.resend) this.resentCount++;
      else this.sentCount++;
      this.succeed();
    } else {
      this.deliveries.refused({ seq, resend: item.resend });
      this.fail(outcome.reason);
    }
    if (!item.resend) removeOutboxEntry(this.paths.outbox, item.entry.name);
  }

  private succeed(): void {
    this.status.lastSuccessAt = Date.now();
    this.status.failures = 0;
    this.status.nextAttemptAt = 0;
    this.save();
  }

  private fail(reason: string): void {
    // Repeating the same failure every retry would flood the log; the status keeps its latest time.
    if (reason !== this.status.lastError) this.log.error(reason, { receiver: this.endpoints.origin });
    this.status.lastError = reason;
    this.status.lastErrorAt = Date.now();
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.paths.sender, JSON.stringify(this.status));
  }

  private goSilent(): void {
    // While this file exists the device stays silent (see isKeyRevoked).
    setKeyAside(this.paths, this.paths.revokedKey);
    this.deliveries.reset();
    const dropped = clearOutbox(this.paths.outbox);
    const reason = `device key revoked by IT (403 key-revoked): reporting stopped and ${dropped} queued reports were dropped; once IT has re-provisioned you, delete the file device-key.revoked beside this log to start again with a new key`;
    this.log.error(reason, { receiver: this.endpoints.origin });
    this.status.lastError = reason;
    this.status.lastErrorAt = Date.now();
    this.save();
  }

  private async deliver(item: Item, key: DeviceKey): Promise<Outcome> {
    const { kind, body } = item.entry;
    const url = kind === "report" ? this.endpoints.report : this.endpoints.limitEvent;
    let reauthorised = false;
    let reregistered = false;
    for (;;) {
      const access = await this.access();
      if (!access.ok) return access.outcome;
      const registration = await this.ensureRegistered(access.token, key);
      if (registration) return registration;
      const answer = await this.client.sendSigned(
        url,
        access.token,
        key,
        numberedBody(body, this.number(item)),
      );
      if (answer.status === 200) return { kind: "sent", held: readHeld(answer.json) };
      if (answer.status === 401 && !reauthorised) {
        // The cached access token expired early or was revoked: exchange the refresh token once more.
        reauthorised = true;
        this.forgetAccessToken();
        continue;
      }
      if (answer.status === 0) return { kind: "retry", reason: describe(answer, kind) };
      const cap = describeCap(answer.error);
      // Kept with its number, not dropped: once IT makes room the same delivery goes out once.
      if (cap && answer.status === 400) return { kind: "retry", reason: cap, capped: true };
      if (cap && answer.status === 429)
        return { kind: "retry", reason: cap, retryAfter: answer.retryAfter ?? null };
      if (answer.status === 400 || answer.status === 413) {
        return {
          kind: "drop",
          reason: `receiver refused a ${kind} as invalid (${answer.status}) and it was dropped; update the ccflux plugin if this repeats`,
        };
      }
      if (answer.status === 404 && kind === "limit-event") {
        return {
          kind: "drop",
          reason:
            "receiver does not take limit events (404): ask IT to update the receiver; the event was dropped",
        };
      }
      if (answer.status === 403) {
        if (answer.error === "key-revoked") return { kind: "revoked" };
        if (answer.error === "key-not-registered" && !reregistered) {
          reregistered = true;
          this.forgetRegistration(key);
          continue;
        }
        return { kind: "retry", reason: describeRefusal(answer) };
      }
      return { kind: "retry", reason: describe(answer, kind), retryAfter: answer.retryAfter };
    }
  }

  /**
   * A fresh entry's number is saved with the status after the attempt (fail or succeed). A sender
   * that dies in mid-send saved nothing, so the next one gives the same head entry the same number.
   */
  private number(item: Item): Numbered {
    return item.resend ? this.deliveries.numberResend(item.entry) : this.deliveries.number(item.entry.name);
  }

  private tokenKey(): string {
    return Bun.hash(`${this.endpoints.token}\u0000${this.config.token}`).toString(36);
  }

  private async access(): Promise<Access> {
    if (this.accessToken) return { ok: true, token: this.accessToken };
    const cacheKey = this.tokenKey();
    const cached = readJson(this.paths.accessToken);
    // A minute's margin, so a token never expires between reading it and the receiver checking it.
    if (
      isObject(cached) &&
      cached.key === cacheKey &&
      typeof cached.token === "string" &&
      typeof cached.expiresAt === "number" &&
      cached.expiresAt - 60_000 > Date.now()
    ) {
      this.accessToken = cached.token;
      return { ok: true, token: cached.token };
    }
    const answer = await this.client.exchangeToken(this.endpoints.token, this.config.token);
    if (answer.status === 401) {
      return {
        ok: false,
        outcome: {
          kind: "token-refused",
          reason:
            "refresh token rejected (401): ask IT for a new token, then update it in Claude Code's plugin settings",
        },
      };
    }
    const granted = answer.status === 200 ? readAccessToken(answer.json) : null;
    if (!granted) {
      const retryAfter = answer.status === 429 ? answer.retryAfter : null;
      return {
        ok: false,
        outcome: { kind: "retry", reason: describe(answer, "token exchange"), retryAfter },
      };
    }
    writeFileAtomic(
      this.paths.accessToken,
      JSON.stringify({ key: cacheKey, token: granted.token, expiresAt: granted.expiresAt }),
    );
    this.status.refusedToken = null;
    this.accessToken = granted.token;
    return { ok: true, token: granted.token };
  }

  private forgetAccessToken(): void {
    this.accessToken = null;
    writeFileAtomic(this.paths.accessToken, "{}");
  }

  private forgetRegistration(key: DeviceKey): void {
    const mark = registrationKey(this.endpoints, key);
    this.status.registered = this.status.registered.filter((x) => x !== mark);
  }

  /** Null when the key is registered (now or before); otherwise why the report must wait. */
  private async ensureRegistered(accessToken: string, key: DeviceKey): Promise<Outcome | null> {
    const mark = registrationKey(this.endpoints, key);
    if (this.status.registered.includes(mark)) return null;
    const answer = await this.client.registerKey(this.endpoints.registerKey, accessToken, key);
    if (answer.status === 200) {
      this.status.registered = [...this.status.registered.slice(-9), mark];
      this.log.info("device key registered", { receiver: this.endpoints.origin });
      this.save();
      return null;
    }
    if (answer.status === 403 && answer.error === "key-revoked") return { kind: "revoked" };
    if (answer.status === 403 && answer.error === "too-many-devices")
      return { kind: "retry", reason: CAP_REFUSALS["too-many-devices"], capped: true };
    if (answer.status === 401) this.forgetAccessToken();
    if (answer.status === 409) {
      // The key belongs to another user on this receiver (the token changed hands): this user gets a key of their own.
      setKeyAside(this.paths, `${this.paths.deviceKey}.other-user`);
      return {
        kind: "retry",
        reason:
          "device key belongs to another user on this receiver (409): made a new key, registering it next",
      };
    }
    return {
      kind: "retry",
      reason: describe(answer, "key registration"),
      retryAfter: answer.retryAfter ?? null,
    };
  }
}

/** Runs one sender unless another one already runs; returns when the outbox is empty or must wait. */
export async function runSender(env: Env): Promise<void> {
  const paths = statePaths(env);
  const config = loadConfig(env, paths);
  if (!config) return;
  const endpoints = resolveEndpoints(config.endpoint, env);
  if (!endpoints.ok) {
    logger(paths).error(endpoints.message);
    return;
  }
  const client = Client.create(env);
  if (typeof client === "string") {
    logger(paths).error(client);
    return;
  }
  for (;;) {
    const release = acquireLock(paths.senderLock, { waitMs: 0, staleAfterMs: senderLockStaleMs(env) });
    if (!release) return;
    let result: Awaited<ReturnType<Sender["drain"]>>;
    try {
      result = await new Sender(client, env, paths, config, endpoints.value).drain();
    } finally {
      release();
    }
    // A hook may have added a report after the last listing but before the lock was released,
    // and the sender it started found the lock still held: look once more.
    if (result !== "empty" || listOutbox(paths.outbox).length === 0) return;
  }
}
