// An admin holding a write lock for 10 s, with the compiled reporter: while an admin's sqlite3
// session holds BEGIN IMMEDIATE, the compiled receiver answers reports with a prompt 503 (not a
// hang, not a 500), the compiled reporter keeps them in its outbox, and once the lock is released
// every turn arrives exactly once with its exact totals.
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../src/reporter/files.ts";
import { assistant, jsonl, REPO_ROOT, userLine } from "../reporter/helpers.ts";
import { type FakeHome, fakeHome } from "../reporter/session.ts";
import { Client, report } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { provision } from "./support.ts";

const REPORTER = join(REPO_ROOT, "dist", "ccflux-linux-x86_64");
const SESSION = "11111111-2222-4333-8444-555555555555";
const TOKEN = "rtok_admin_lock_0123456789";
const LOCK_MS = 10_000;

let receiver: TestReceiver | undefined;
let home: FakeHome | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
  home?.remove();
});

function run(h: FakeHome, args: string[], stdin = ""): { ms: number } {
  const started = performance.now();
  const result = Bun.spawnSync([REPORTER, ...args], { env: h.env, stdin: Buffer.from(stdin) });
  expect([result.exitCode, result.stdout.toString(), result.stderr.toString()]).toEqual([0, "", ""]);
  return { ms: performance.now() - started };
}

test("BEGIN IMMEDIATE held for 10 s: prompt 503s, the reporter keeps its turns, all arrive once after", async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: { REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "10000", TIER_INFERENCE_INTERVAL_SECS: "3600" },
  });
  receiver.sql(
    `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('${TOKEN}', 'dev@example.org', 'eng', datetime('now', '+365 days'));`,
  );
  const h = fakeHome({
    CLAUDE_PLUGIN_OPTION_API_ENDPOINT: `${receiver.url}/report`,
    CLAUDE_PLUGIN_OPTION_API_TOKEN: TOKEN,
    CCFLUX_ALLOW_HTTP: "1",
    CCFLUX_BACKOFF_MS: "20",
    CCFLUX_SENDER: "none",
  });
  home = h;
  const expected = { input: 0, output: 0, read: 0, write: 0 };
  let turn = 0;
  const takeTurn = () => {
    turn++;
    const input = 100 * turn;
    const output = 7 * turn;
    h.append(
      h.transcript(SESSION),
      jsonl(
        userLine(),
        assistant({
          id: `msg_${turn}`,
          sessionId: SESSION,
          input,
          output,
          cacheRead: 1000 + turn,
          cacheWrite: 50 + turn,
          timestamp: new Date().toISOString(),
        }),
      ),
    );
    expected.input += input;
    expected.output += output;
    expected.read += 1000 + turn;
    expected.write += 50 + turn;
    run(h, ["hook", "stop"], h.hookInput(SESSION));
  };

  // A turn before the lock: delivered, and the device key is registered.
  takeTurn();
  run(h, ["send"]);
  expect(h.outbox().length).toBe(0);
  expect(receiver.sql("SELECT count(*) FROM usage_events;")).toBe("1");

  const [direct] = await provision(receiver, 1, "direct");
  const admin = Bun.spawn(["sqlite3", receiver.dbPath], { stdin: "pipe", stdout: "pipe" });
  admin.stdin.write(
    "BEGIN IMMEDIATE;\nUPDATE refresh_tokens SET division = 'eng' WHERE token = 'none';\nSELECT 'locked';\n",
  );
  admin.stdin.flush();
  await admin.stdout.getReader().read(); // the admin now holds the write lock
  const lockedAt = performance.now();

  const client = new Client(receiver.url);
  let sends = 0;
  while (performance.now() - lockedAt < LOCK_MS - 2500) {
    takeTurn();
    const { ms } = run(h, ["send"]);
    sends++;
    // The foreground sender got its 503s promptly (1 s busy timeout per try) and kept the turns.
    expect(ms).toBeLessThan(8000);
    expect(h.outbox().length).toBe(turn - 1);
    const health = await fetch(`${receiver.url}/health`);
    expect(health.status).toBe(503);
    await Bun.sleep(300);
  }
  // A signed report sent directly sees the 503 itself, promptly (the busy timeout is 1 s).
  const started = performance.now();
  const refused = await client.send(direct!.accessToken, report({ session_id: "direct" }), direct!.device);
  expect(refused.status).toBe(503);
  expect(performance.now() - started).toBeLessThan(3000);
  const log = readFileSync(statePaths(h.env).activityLog, "utf8");
  expect(log).toMatch(/503/);

  // Release after 10 s.
  await Bun.sleep(Math.max(0, LOCK_MS - (performance.now() - lockedAt)));
  admin.stdin.write("COMMIT;\n.quit\n");
  admin.stdin.end();
  await admin.exited;

  run(h, ["send"]);
  expect(h.outbox().length).toBe(0);
  expect(existsSync(statePaths(h.env).senderLock)).toBe(false);
  expect(sends).toBeGreaterThanOrEqual(3);
  const rows = receiver.sql(
    `SELECT count(*), count(DISTINCT turn_index), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens) FROM usage_events WHERE session_id = '${SESSION}';`,
  );
  expect(rows).toBe(
    `${turn}|${turn}|${expected.input}|${expected.output}|${expected.read}|${expected.write}`,
  );
  expect(receiver.output()).not.toMatch(/" 500 | status=500/);
  expect(receiver.output()).toMatch(/503/);
}, 60_000);
