// Shared by the fault and hostile-input tests: many provisioned users with registered devices,
// a signed load generator that records which reports were acknowledged, and checks that the
// database holds exactly those (rows, rollups, integrity).
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { toRfc3339 } from "../../src/protocol/index.ts";
import { Client, type Device, guideToken, newDevice, signHeaders } from "../support/client.ts";
import type { TestReceiver } from "../support/receiver.ts";

export interface User {
  email: string;
  refreshToken: string;
  accessToken: string;
  device: Device;
}

/** Provisions `count` users with the guide's INSERT (one sqlite3 run), exchanges and registers each. */
export async function provision(receiver: TestReceiver, count: number, prefix = "user"): Promise<User[]> {
  const users = Array.from({ length: count }, (_, i) => ({
    email: `${prefix}${i}@example.org`,
    refreshToken: guideToken(),
    device: newDevice(),
  }));
  receiver.sql(
    `BEGIN; ${users
      .map(
        (u, i) =>
          `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('${u.refreshToken}', '${u.email}', 'div${i % 5}', datetime('now', '+365 days'));`,
      )
      .join("\n")} COMMIT;`,
  );
  const client = new Client(receiver.url);
  const out: User[] = [];
  for (const u of users) {
    const accessToken = await client.exchange(u.refreshToken);
    const registered = await client.registerKey(accessToken, u.device, `host-${u.email}`);
    if (registered.status !== 200) throw new Error(`/register-key answered ${registered.status}`);
    out.push({ ...u, accessToken });
  }
  return out;
}

/** A report body POSTed as `user`, with their access token and signed by their device. */
export function signedPost(user: User, body: string): RequestInit & { headers: Record<string, string> } {
  return {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${user.accessToken}`,
      ...signHeaders(body, user.device),
    },
    body,
  };
}

/** A small seeded PRNG (mulberry32): fuzz and load are reproducible from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pieces of the fuzz generators, driven by `rng`.
export type Random = () => number;
export const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
export const int = (r: Random, n: number) => Math.floor(r() * n);

export function randomBytes(r: Random, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = int(r, 256);
  return bytes;
}

export function randomText(r: Random, max: number): string {
  const alphabets = [
    "abcdefghijklmnopqrstuvwxyz0123456789-_.@",
    "'\";--/*%_\\\0\t\n",
    "<>&\"'`=/script",
    "é漢字🙂\u202e\u0000\uffff\ud800",
  ];
  const alphabet = [...pick(r, alphabets)];
  return Array.from({ length: int(r, max + 1) }, () => pick(r, alphabet)).join("");
}

/** Percent-encoding; a lone surrogate becomes the percent-encoded invalid UTF-8 it would be. */
export function enc(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return "%ED%A0%80";
  }
}

/** An HTML form's urlencoded body. */
export function formBody(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .join("&");
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

export interface SentReport {
  user: User;
  session: string;
  turn: number;
  models: Record<string, Usage>;
}

const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"];

/** Key of one usage_events row. */
export function rowKey(email: string, session: string, turn: number, model: string): string {
  return `${email}|${session}|${turn}|${model}`;
}

/**
 * Signed reports from many users over several concurrent connections. Each report is unique; one
 * that got no answer (or a non-200) is retried later with a fresh signature. `acked` holds every
 * report that got a 200, with the values it carried.
 */
export class Load {
  readonly acked = new Map<string, Usage>();
  /** When (Date.now()) each acknowledged row got its 200. */
  readonly ackedAt = new Map<string, number>();
  readonly statuses = new Map<string, number>();
  private pending: SentReport[] = [];
  private turns = new Map<string, number>();
  private running = false;
  private workers: Promise<void>[] = [];
  sent = 0;

  constructor(
    private url: string,
    private readonly users: User[],
    private readonly random: () => number,
    private readonly connections = 8,
  ) {}

  setUrl(url: string): void {
    this.url = url;
  }

  private next(): SentReport {
    const retry = this.pending.shift();
    if (retry) return retry;
    const user = this.users[Math.floor(this.random() * this.users.length)]!;
    const session = `sess-${user.email}-${Math.floor(this.random() * 3)}`;
    const turn = this.turns.get(session) ?? 0;
    this.turns.set(session, turn + 1);
    const models: Record<string, Usage> = {};
    const count = 1 + Math.floor(this.random() * 2);
    for (let i = 0; i < count; i++) {
      models[MODELS[(turn + i) % MODELS.length]!] = {
        input_tokens: Math.floor(this.random() * 5000),
        output_tokens: Math.floor(this.random() * 2000),
        cache_read_tokens: Math.floor(this.random() * 100_000),
        cache_write_tokens: Math.floor(this.random() * 10_000),
      };
    }
    return { user, session, turn, models };
  }

  private count(status: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  /** Sends one report; true when it was acknowledged. */
  async sendOne(report: SentReport, url = this.url): Promise<boolean> {
    const body = JSON.stringify({
      schema_version: 1,
      session_id: report.session,
      user_email: report.user.email,
      turn_index: report.turn,
      timestamp_utc: toRfc3339(Date.now()),
      models: report.models,
    });
    this.sent++;
    try {
      const response = await fetch(`${url}/report`, signedPost(report.user, body));
      await response.arrayBuffer();
      this.count(String(response.status));
      if (response.status !== 200) return false;
      for (const [model, usage] of Object.entries(report.models)) {
        const key = rowKey(report.user.email, report.session, report.turn, model);
        this.acked.set(key, usage);
        this.ackedAt.set(key, Date.now());
      }
      return true;
    } catch {
      this.count("network-error");
      return false;
    }
  }

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: this.connections }, async () => {
      while (this.running) {
        const report = this.next();
        if (!(await this.sendOne(report))) {
          this.pending.push(report);
          await Bun.sleep(20);
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Resends everything not yet acknowledged until it is (the receiver must be up). */
  async drain(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (this.pending.length > 0) {
      if (Date.now() > deadline) throw new Error(`${this.pending.length} reports never acknowledged`);
      const report = this.pending.shift()!;
      if (!(await this.sendOne(report))) {
        this.pending.push(report);
        await Bun.sleep(50);
      }
    }
  }
}

/**
 * The database holds exactly the acknowledged rows, with their values; rollups are the sums of
 * the raw rows; the file passes integrity_check. Returns problems found (empty when all is well).
 */
export function checkDatabase(receiver: TestReceiver, acked: Map<string, Usage>): string[] {
  const problems: string[] = [];
  const integrity = receiver.sql("PRAGMA integrity_check;");
  if (integrity !== "ok") problems.push(`integrity_check: ${integrity}`);
  const rows = receiver
    .sql(
      "SELECT email, session_id, turn_index, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM usage_events;",
    )
    .split("\n")
    .filter(Boolean);
  const seen = new Set<string>();
  for (const line of rows) {
    const [email, session, turn, model, input, output, read, write] = line.split("|");
    const key = rowKey(email!, session!, Number(turn), model!);
    if (seen.has(key)) problems.push(`stored twice: ${key}`);
    seen.add(key);
    const want = acked.get(key);
    if (!want) {
      problems.push(`stored but never acknowledged: ${key}`);
      continue;
    }
    const got = [input, output, read, write].map(Number);
    const expected = [want.input_tokens, want.output_tokens, want.cache_read_tokens, want.cache_write_tokens];
    if (got.join() !== expected.join()) problems.push(`${key}: stored ${got} but sent ${expected}`);
  }
  for (const key of acked.keys()) if (!seen.has(key)) problems.push(`acknowledged but lost: ${key}`);
  const daily = receiver.sql(`
    SELECT count(*) FROM (
      SELECT email, model, sum(input_tokens) i, sum(output_tokens) o, sum(cache_read_tokens) r, sum(cache_write_tokens) w, sum(turns) t FROM usage_daily GROUP BY email, model
      EXCEPT
      SELECT email, model, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), count(*) FROM usage_events GROUP BY email, model
    );`);
  if (daily !== "0") problems.push(`usage_daily differs from usage_events for ${daily} (email, model) pairs`);
  const hourly = receiver.sql(`
    SELECT count(*) FROM (
      SELECT email, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(turns) FROM usage_hourly GROUP BY email
      EXCEPT
      SELECT email, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), count(DISTINCT session_id || '|' || turn_index) FROM usage_events GROUP BY email
    );`);
  if (hourly !== "0") problems.push(`usage_hourly differs from usage_events for ${hourly} users`);
  const sessions = receiver.sql(`
    SELECT count(*) FROM (
      SELECT email, session_id, sum(turns) FROM session_days GROUP BY email, session_id
      EXCEPT
      SELECT email, session_id, count(DISTINCT turn_index) FROM usage_events GROUP BY email, session_id
    );`);
  if (sessions !== "0") problems.push(`session_days differs from usage_events for ${sessions} sessions`);
  return problems;
}

/** Resident memory of a process in KiB, from /proc/<pid>/status. */
export function rssKib(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

/**
 * Sends raw bytes over one TCP connection (what fetch will not send: no Host, bad Host, a body cut
 * short) and returns everything the receiver answered before closing, as Latin-1 text. With
 * `closeAfterMs` the client hangs up itself after that long, like one that aborts an upload.
 */
export function rawExchange(port: number, raw: Uint8Array | string, closeAfterMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write(raw));
    let data = "";
    const timer = setTimeout(() => socket.destroy(), closeAfterMs);
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.on("error", () => {});
  });
}

/** The status of a raw answer, or "closed" when there was none. */
export function rawStatus(answer: string): string {
  return /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? "closed";
}

/** What every receiver logs over a run: start, requests, admin actions, registrations, the tier job, stop. */
export const ROUTINE_LOG_MESSAGES = [
  "started",
  "request",
  "admin",
  "device key registered",
  "tier estimates recomputed",
  "stopping",
  "stopped",
] as const;

/** Findings in a receiver's log: stack traces, JavaScript errors, and messages not in `expected`. */
export function logFindings(log: string, expected: readonly string[]): string[] {
  const traces = [...log.matchAll(/^\s+at .*|.*(?:TypeError|RangeError|SyntaxError).*/gm)].map((m) => m[0]);
  const messages = new Set(
    [...log.matchAll(/^\d{4}-\d\d-\d\dT[\d:.]+Z (info|warn|error) (.+?)(?= [a-z_]+=|$)/gm)].map((m) => m[2]!),
  );
  return [...traces, ...[...messages].filter((m) => !expected.includes(m))];
}
