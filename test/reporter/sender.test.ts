import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { doctor, status } from "../../src/reporter/commands.ts";
import { statePaths } from "../../src/reporter/files.ts";
import { Journal } from "../../src/reporter/journal.ts";
import { readSenderStatus, runSender } from "../../src/reporter/sender.ts";
import { FakeReceiver } from "./fake-receiver.ts";
import { assistant, jsonl, usageLimitLine } from "./helpers.ts";
import { type FakeHome, fakeHome } from "./session.ts";

let home: FakeHome;
let receiver: FakeReceiver;
afterEach(() => {
  receiver?.stop();
  home?.remove();
});

/** A fake Claude Code home pointed at a fake receiver, with `turns` reports queued. */
function setup(turns: number, env: Record<string, string> = {}): void {
  receiver = new FakeReceiver();
  home = fakeHome({
    CLAUDE_PLUGIN_OPTION_API_ENDPOINT: `${receiver.url}/report`,
    CCFLUX_ALLOW_HTTP: "1",
    CCFLUX_BACKOFF_MS: "5",
    ...env,
  });
  queue(turns);
}

let nextId = 0;
function queue(turns: number): void {
  for (let i = 0; i < turns; i++) {
    home.append(home.transcript("s1"), jsonl(assistant({ id: `m${nextId++}`, output: 10 })));
    home.hook("s1");
  }
}

const paths = () => statePaths(home.env);
const reportsSeen = () => receiver.seen.filter((r) => r.path === "/report");
const turnsSeen = () => reportsSeen().map((r) => JSON.parse(r.body).turn_index);
const errors = () => (existsSync(paths().errorsLog) ? readFileSync(paths().errorsLog, "utf8") : "");

test("sends the outbox in order, signed with the registered device key, and empties it", async () => {
  setup(3);
  await runSender(home.env);
  expect(receiver.count("/token")).toBe(1);
  expect(receiver.count("/register-key")).toBe(1);
  expect(turnsSeen()).toEqual([0, 1, 2]);
  const registered = JSON.parse(receiver.seen.find((r) => r.path === "/register-key")?.body ?? "{}");
  expect(registered.public_key).toHaveLength(44);
  expect(registered.device_id.length).toBeGreaterThan(0);
  for (const report of reportsSeen()) {
    expect(report.signatureValid).toBe(true);
    expect(report.publicKey).toBe(registered.public_key);
    expect(report.authorization).toBe("Bearer at_1");
  }
  expect(home.outbox()).toEqual([]);
  expect(statSync(paths().deviceKey).mode & 0o777).toBe(0o600);
  expect(readSenderStatus(paths()).lastSuccessAt).not.toBeNull();
  expect(readFileSync(paths().activityLog, "utf8")).toContain("reports sent count=3");

  // A later sender reuses the cached access token and the registration.
  queue(1);
  await runSender(home.env);
  expect(receiver.count("/token")).toBe(1);
  expect(receiver.count("/register-key")).toBe(1);
  expect(turnsSeen()).toEqual([0, 1, 2, 3]);
});

test("a sender that keeps delivering is not stopped by its lifetime, which bounds waiting only", async () => {
  // 5 ms units: a lifetime of 600 ms; four answers of 250 ms each take longer than that.
  setup(4);
  const slow = { status: 200, passThrough: true, delayMs: 250 };
  receiver.plan("/report", slow, slow, slow, slow);
  await runSender(home.env);
  expect(turnsSeen()).toEqual([0, 1, 2, 3]);
  expect(home.outbox()).toEqual([]);
  expect(readFileSync(paths().activityLog, "utf8")).toContain("reports sent count=4");
});

test("503 and a dropped connection keep the report; it is sent once the receiver answers", async () => {
  setup(2);
  receiver.plan("/report", { status: 503 }, { status: 503 }, { status: 502 });
  await runSender(home.env);
  expect(turnsSeen()).toEqual([0, 0, 0, 0, 1]);
  expect(home.outbox()).toEqual([]);
  // The same failure is logged once, not on every retry.
  expect(errors().match(/receiver unavailable \(503\)/g)).toHaveLength(1);
  expect(readSenderStatus(paths()).failures).toBe(0);
});

test("429 is honoured: the retry waits for Retry-After", async () => {
  // 20 ms units: the 1 s wait fits in one sender's lifetime (120 units).
  setup(1, { CCFLUX_BACKOFF_MS: "20" });
  receiver.plan("/report", { status: 429, retryAfter: 1 });
  await runSender(home.env);
  const [first, second] = reportsSeen();
  expect(second).toBeDefined();
  expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);
  expect(home.outbox()).toEqual([]);
});

test("an unreachable receiver: the sender gives up for now and keeps everything", async () => {
  setup(2, { CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "http://127.0.0.1:9/report" });
  const started = Date.now();
  await runSender(home.env);
  // 120 backoff units of 5 ms: the process does not linger.
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(home.outbox()).toHaveLength(2);
  expect(errors()).toContain("receiver not reachable");
  expect(readSenderStatus(paths()).nextAttemptAt).toBeGreaterThan(0);
});

test("401 on a report: the access token is exchanged again and the report retried once", async () => {
  setup(1);
  receiver.plan("/report", { status: 401 });
  await runSender(home.env);
  expect(receiver.count("/token")).toBe(2);
  expect(reportsSeen().map((r) => r.authorization)).toEqual(["Bearer at_1", "Bearer at_2"]);
  expect(home.outbox()).toEqual([]);
});

test("a rejected refresh token keeps the reports and says what to do", async () => {
  setup(2);
  receiver.plan("/token", ...Array.from({ length: 500 }, () => ({ status: 401 })));
  await runSender(home.env);
  expect(receiver.count("/report")).toBe(0);
  expect(home.outbox()).toHaveLength(2);
  expect(errors()).toContain(
    "refresh token rejected (401): ask IT for a new token, then update it in Claude Code's plugin settings",
  );
});

test("a refused refresh token stops the sender at once; the next turn's new token is used without waiting", async () => {
  // A minute's backoff: waiting for it would time the test out.
  setup(1, { CCFLUX_BACKOFF_MS: "60000", CLAUDE_PLUGIN_OPTION_API_TOKEN: "rtok_old" });
  receiver.plan("/token", { status: 401 });
  await runSender(home.env);
  expect(receiver.count("/token")).toBe(1);
  expect(home.outbox()).toHaveLength(1);
  // IT's new token reaches the hooks through the plugin settings: the next sender tries it at once.
  await runSender({ ...home.env, CLAUDE_PLUGIN_OPTION_API_TOKEN: "rtok_new" });
  expect(receiver.seen.filter((r) => r.path === "/token").map((r) => r.authorization)).toEqual([
    "Bearer rtok_old",
    "Bearer rtok_new",
  ]);
  expect(home.outbox()).toEqual([]);
  expect(readSenderStatus(paths()).refusedToken).toBeNull();
});

test("a refused refresh token makes a running sender read the config file again", async () => {
  setup(0, { CCFLUX_BACKOFF_MS: "60000", CLAUDE_PLUGIN_OPTION_API_TOKEN: "" });
  const write = (token: string) =>
    writeFileSync(paths().config, JSON.stringify({ endpoint: `${receiver.url}/report`, token }));
  mkdirSync(paths().dir, { recursive: true });
  write("rtok_old");
  queue(1);
  // While the old token is being refused, IT's new one is placed in the config file.
  receiver.plan("/token", { status: 401, delayMs: 50 });
  const sending = runSender(home.env);
  await Bun.sleep(20);
  write("rtok_new");
  await sending;
  expect(receiver.seen.filter((r) => r.path === "/token").map((r) => r.authorization)).toEqual([
    "Bearer rtok_old",
    "Bearer rtok_new",
  ]);
  expect(home.outbox()).toEqual([]);
});

test("key-not-registered: the key is registered again and the report kept until it is taken", async () => {
  setup(1);
  receiver.plan("/report", { status: 403, error: "key-not-registered" });
  await runSender(home.env);
  expect(receiver.count("/register-key")).toBe(2);
  expect(reportsSeen().map((r) => r.signatureValid)).toEqual([true, true]);
  expect(home.outbox()).toEqual([]);
});

test("key-revoked: the outbox is cleared and the device goes silent until the revoked key is removed", async () => {
  setup(3);
  receiver.plan("/report", { status: 403, error: "key-revoked" });
  await runSender(home.env);
  expect(home.outbox()).toEqual([]);
  expect(existsSync(paths().revokedKey)).toBe(true);
  expect(errors()).toContain("device key revoked by IT (403 key-revoked)");
  const before = receiver.seen.length;
  queue(2);
  await runSender(home.env);
  expect(home.outbox()).toEqual([]);
  expect(receiver.seen.length).toBe(before);
  expect(status(home.env).join("\n")).toContain("revoked by IT");
});

test("400 drops the invalid report and goes on; timestamp-stale keeps it and names the clock", async () => {
  setup(2);
  receiver.plan("/report", { status: 400 }, { status: 403, error: "timestamp-stale" });
  await runSender(home.env);
  expect(turnsSeen()).toEqual([0, 1, 1]);
  expect(errors()).toContain("refused a report as invalid (400)");
  expect(errors()).toMatch(/clock is (-?\d+ s )?off/);
  expect(home.outbox()).toEqual([]);
});

describe("the receiver's caps: each is named in the log, waited out, and nothing is lost or sent twice", () => {
  const seqs = () => reportsSeen().map((r) => JSON.parse(r.body).delivery_seq);
  const waitLeft = () => readSenderStatus(paths()).nextAttemptAt - Date.now();

  test("400 too-many-models keeps the report and tries it again only after the cap wait", async () => {
    // 2 ms units: the cap wait is 600 units (1.2 s), longer than one sender's lifetime (240 ms).
    setup(2, { CCFLUX_BACKOFF_MS: "2" });
    receiver.plan("/report", { status: 400, error: "too-many-models" });
    await runSender(home.env);
    expect(turnsSeen()).toEqual([0]);
    expect(home.outbox()).toHaveLength(2);
    expect(errors()).toContain("400 too-many-models");
    expect(errors()).not.toContain("as invalid");
    expect(waitLeft()).toBeGreaterThan(900);
    // The next turn's sender does not hammer the receiver meanwhile.
    await runSender(home.env);
    expect(turnsSeen()).toEqual([0]);
    // IT made room: after the wait the same delivery (same number) goes out once, then the rest.
    await Bun.sleep(Math.max(0, waitLeft()) + 20);
    await runSender(home.env);
    expect(turnsSeen()).toEqual([0, 0, 1]);
    expect(seqs()).toEqual([1, 1, 2]);
    expect(home.outbox()).toEqual([]);
  });

  test("403 too-many-devices keeps the reports and registers again at most once per cap wait", async () => {
    setup(1, { CCFLUX_BACKOFF_MS: "2" });
    receiver.plan("/register-key", { status: 403, error: "too-many-devices" });
    await runSender(home.env);
    expect(receiver.count("/register-key")).toBe(1);
    expect(receiver.count("/report")).toBe(0);
    expect(errors()).toContain("403 too-many-devices");
    expect(errors()).not.toContain("unexpected answer");
    expect(waitLeft()).toBeGreaterThan(900);
    queue(1);
    await runSender(home.env);
    expect(receiver.count("/register-key")).toBe(1);
    // IT revoked an old device: the next try after the wait registers and sends both turns once.
    await Bun.sleep(Math.max(0, waitLeft()) + 20);
    await runSender(home.env);
    expect(receiver.count("/register-key")).toBe(2);
    expect(turnsSeen()).toEqual([0, 1]);
    expect(home.outbox()).toEqual([]);
  });

  test("429 too-many-limit-events is waited out as long as Retry-After asks, beyond the usual cap", async () => {
    setup(0);
    home.append(home.transcript("s1"), jsonl(assistant({ id: "x" }), usageLimitLine()));
    home.hook("s1", "StopFailure", { error: "rate_limit" });
    receiver.plan("/limit-event", { status: 429, error: "too-many-limit-events", retryAfter: 3600 });
    await runSender(home.env);
    expect(receiver.count("/limit-event")).toBe(1);
    expect(home.outbox().length).toBeGreaterThan(0);
    expect(errors()).toContain("429 too-many-limit-events");
    // 3600 s in 5 ms units is 18 s: more than the 300 units (1.5 s) other Retry-After values are held to.
    expect(waitLeft()).toBeGreaterThan(15_000);
    await runSender(home.env);
    expect(receiver.count("/limit-event")).toBe(1);
  });

  test("429 rate-limited (per token or per person) names the limit and waits as asked", async () => {
    setup(1, { CCFLUX_BACKOFF_MS: "20" });
    receiver.plan("/report", { status: 429, error: "rate-limited", retryAfter: 1 });
    await runSender(home.env);
    const [first, second] = reportsSeen();
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(errors()).toContain("429 rate-limited");
    expect(errors()).toContain("RATE_LIMIT_PER_MINUTE");
    expect(seqs()).toEqual([1, 1]);
    expect(home.outbox()).toEqual([]);
  });
});

test("a limit event goes to /limit-event, and an old receiver's 404 drops it", async () => {
  setup(0);
  home.append(home.transcript("s1"), jsonl(assistant({ id: "x" }), usageLimitLine()));
  home.hook("s1", "StopFailure", { error: "rate_limit" });
  home.append(home.transcript("s1"), jsonl(usageLimitLine({ timestamp: "2026-05-11T04:00:00Z" })));
  home.hook("s1", "SessionEnd");
  receiver.plan("/limit-event", { status: 404 });
  await runSender(home.env);
  expect(receiver.count("/limit-event")).toBe(2);
  expect(receiver.seen.filter((r) => r.path === "/limit-event").every((r) => r.signatureValid)).toBe(true);
  expect(errors()).toContain("receiver does not take limit events (404)");
  expect(home.outbox()).toEqual([]);
});

test("409 on registration: the key belongs to another user, so this user gets a new one", async () => {
  setup(1);
  receiver.plan("/register-key", { status: 409 });
  await runSender(home.env);
  const keys = receiver.seen
    .filter((r) => r.path === "/register-key")
    .map((r) => JSON.parse(r.body).public_key);
  expect(keys).toHaveLength(2);
  expect(keys[0]).not.toBe(keys[1]);
  expect(reportsSeen()[0]?.publicKey).toBe(keys[1]);
});

test("two senders at once: one sends, each report exactly once", async () => {
  setup(5);
  receiver.plan("/report", { status: 200, delayMs: 100 });
  await Promise.all([runSender(home.env), runSender(home.env), runSender(home.env)]);
  expect(turnsSeen()).toEqual([0, 1, 2, 3, 4]);
});

test("doctor checks health, token exchange and registration, and says what to fix", async () => {
  setup(0);
  const good = await doctor(home.env);
  expect(good).toEqual({
    ok: true,
    lines: [
      `receiver: ${receiver.url}`,
      "health: ok",
      "token exchange: ok",
      expect.stringMatching(/^device key: registered/),
    ],
  });
  receiver.plan("/token", { status: 401 });
  const bad = await doctor(home.env);
  expect(bad.ok).toBe(false);
  expect(bad.lines.at(-1)).toContain("refresh token rejected (401): ask IT for a new token");
  home.env.CLAUDE_PLUGIN_OPTION_API_ENDPOINT = "http://127.0.0.1:9";
  expect((await doctor(home.env)).lines.at(-1)).toMatch(/^health: not reachable \(\w+\)/);
});

test("an unreadable CCFLUX_CA_CERT is named in the log and by doctor, and nothing is sent", async () => {
  setup(1, { CCFLUX_CA_CERT: "/nonexistent/company-ca.pem" });
  await runSender(home.env);
  expect(receiver.seen).toEqual([]);
  expect(home.outbox()).toHaveLength(1);
  const message = "CCFLUX_CA_CERT names a file that cannot be read (ENOENT)";
  expect(errors()).toContain(message);
  expect(errors()).not.toContain("/nonexistent");
  expect((await doctor(home.env)).lines[0]).toStartWith(message);
});

/** [delivery_seq, turn_index, delivery_journal_from] of every report the fake receiver saw. */
const sent = () =>
  receiver.seen
    .filter((r) => r.path === "/report")
    .map((r) => {
      const body = JSON.parse(r.body);
      return [body.delivery_seq, body.turn_index, body.delivery_journal_from];
    });
const journal = () => Journal.load(paths().journal, Date.now());
const activity = () => (existsSync(paths().activityLog) ? readFileSync(paths().activityLog, "utf8") : "");

// Delivery numbers and the journal, against the fake receiver answering delivery_held by the
// receiver's own rule: numbers without gaps, kept across retries and sender processes; a receiver
// that says it lost deliveries gets exactly the journaled ones above its answer again.
describe("delivery numbers and healing", () => {
  test("numbers 1, 2, 3 …: a retry keeps its number, a report refused for good gives it back", async () => {
    setup(0);
    queue(3);
    receiver.plan("/report", { status: 503 }, { status: 400 });
    await runSender(home.env);
    // [delivery_seq, turn_index, delivery_journal_from]
    expect(sent()).toEqual([
      [1, 0, 1],
      [1, 0, 1],
      [1, 1, 1],
      [2, 2, 1],
    ]);
    expect(journal().size).toBe(2);
    expect(readSenderStatus(paths()).delivery).toMatchObject({ next: 3, pending: null });
  });

  test("a number given to a report survives the sender process that gave it", async () => {
    setup(0);
    queue(1);
    receiver.plan("/report", ...Array.from({ length: 200 }, () => ({ status: 503 })));
    await runSender(home.env); // the sender gives up for now; the report waits with its number
    expect(readSenderStatus(paths()).delivery.pending).toMatchObject({ seq: 1 });
    receiver.unplan("/report");
    queue(1);
    await runSender(home.env);
    expect(sent().slice(-2)).toEqual([
      [1, 0, 1],
      [2, 1, 1],
    ]);
    expect(
      new Set(
        sent()
          .slice(0, -1)
          .map(([seq]) => seq),
      ),
    ).toEqual(new Set([1]));
  });

  test("a receiver restored to an earlier point gets again exactly what it lost, once, oldest first", async () => {
    setup(0);
    queue(5);
    await runSender(home.env);
    const key = receiver.seen.find((r) => r.path === "/report")?.publicKey ?? "";
    expect(receiver.held.get(key)).toBe(5);

    receiver.held.set(key, 2); // the database now holds deliveries 1 and 2 only
    const before = receiver.seen.length;
    queue(1);
    await runSender(home.env);
    expect(sent().slice(-5)).toEqual([
      [6, 5, 1], // the new turn: its answer says 2
      [3, 2, 1],
      [4, 3, 1],
      [5, 4, 1],
      [6, 5, 1], // once more, so the receiver's unbroken run reaches it
    ]);
    expect(receiver.seen.length - before).toBe(5);
    expect(receiver.held.get(key)).toBe(6);
    expect(journal().size).toBe(6); // re-sends are not journaled twice
    expect(status(home.env)).toContain(
      "journal:      6 reports acknowledged in the last 7 days, kept to send again if the receiver is restored",
    );
    expect(activity()).toContain("receiver lost reports it had acknowledged");
    expect(activity()).toContain("journaled reports sent again count=4");

    // Healed: the next turn is one request again.
    queue(1);
    await runSender(home.env);
    expect(sent().slice(-1)).toEqual([[7, 6, 1]]);
    expect(receiver.seen.length - before).toBe(6);
  });

  test("a heal cut short by a failure goes on with the next turn", async () => {
    // 20 ms units: the first run gets through its two usual answers even on a busy machine.
    setup(0, { CCFLUX_BACKOFF_MS: "20" });
    queue(4);
    await runSender(home.env);
    const key = receiver.seen.find((r) => r.path === "/report")?.publicKey ?? "";
    receiver.held.set(key, 0);
    // The new turn and the first re-send are answered as usual; then the receiver fails until this
    // sender gives up.
    const usual = { status: 200, passThrough: true };
    receiver.plan("/report", usual, usual, ...Array.from({ length: 200 }, () => ({ status: 503 })));
    queue(1);
    await runSender(home.env);
    expect(receiver.held.get(key)).toBe(1);
    receiver.unplan("/report");
    const before = sent().length;
    queue(1);
    await runSender(home.env);
    expect(
      sent()
        .slice(before)
        .map(([seq]) => seq),
    ).toEqual([6, 2, 3, 4, 5, 6]);
    expect(receiver.held.get(key)).toBe(6);
  });

  test("limit events share the numbers, and are sent again to /limit-event", async () => {
    setup(0);
    home.append(home.transcript("s1"), jsonl(assistant({ id: "le" }), usageLimitLine()));
    home.hook("s1", "StopFailure", { error: "rate_limit" });
    await runSender(home.env);
    const numbered = () =>
      receiver.seen
        .filter((r) => r.path === "/report" || r.path === "/limit-event")
        .map((r) => [r.path, JSON.parse(r.body).delivery_seq]);
    expect(numbered()).toEqual([
      ["/report", 1],
      ["/limit-event", 2],
    ]);
    const key = receiver.seen.find((r) => r.path === "/report")?.publicKey ?? "";
    receiver.held.set(key, 0);
    queue(1);
    await runSender(home.env);
    expect(numbered().slice(2)).toEqual([
      ["/report", 3],
      ["/report", 1],
      ["/limit-event", 2],
      ["/report", 3],
    ]);
    expect(receiver.held.get(key)).toBe(3);
  });

  test("a receiver that keeps no numbers: every report says 1, nothing is journaled", async () => {
    setup(0);
    receiver.keepsDeliveryNumbers = false;
    queue(3);
    await runSender(home.env);
    expect(sent().map(([seq]) => seq)).toEqual([1, 1, 1]);
    expect(existsSync(paths().journal)).toBe(false);
  });

  test("a new device key starts its own numbers with an empty journal", async () => {
    setup(0);
    queue(2);
    await runSender(home.env);
    expect(journal().size).toBe(2);
    rmSync(paths().deviceKey);
    queue(1);
    await runSender(home.env);
    expect(sent().slice(-1)).toEqual([[1, 2, 1]]);
    expect(journal().size).toBe(1);
  });
});
