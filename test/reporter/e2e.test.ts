// End to end: the compiled reporter, run as Claude Code runs it (one `ccflux hook stop` process per
// turn, hook JSON on stdin, the sender detached), against the compiled receiver. A replayed real
// session must arrive with exactly its expected totals, whatever happens on the way.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../src/reporter/files.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { FakeReceiver } from "./fake-receiver.ts";
import { FIXTURES, FIXTURES_MISSING, HAVE_FIXTURES, REPO_ROOT } from "./helpers.ts";
import { expectedSession, type FakeHome, fakeHome, SESSION_FILES } from "./session.ts";

const REPORTER = join(REPO_ROOT, "dist", "ccflux-linux-x86_64");
const SESSION = "ae4a77f8-aedd-4bc1-888f-c94edc91af04";
const TOKEN = "rtok_e2e_0123456789";

let receiver: TestReceiver | undefined;
let front: FakeReceiver | undefined;
let home: FakeHome | undefined;
afterEach(async () => {
  front?.stop();
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
  home?.remove();
});

/** The compiled receiver with one provisioned user, behind a scriptable front; a fake Claude home using it. */
async function setup(): Promise<{ receiver: TestReceiver; front: FakeReceiver; home: FakeHome }> {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: { REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "10000" },
  });
  receiver.sql(
    `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('${TOKEN}', 'dev@example.org', 'eng', datetime('now', '+365 days'));`,
  );
  front = new FakeReceiver(receiver.url);
  home = fakeHome({
    CLAUDE_PLUGIN_OPTION_API_ENDPOINT: `${front.url}/report`,
    CLAUDE_PLUGIN_OPTION_API_TOKEN: TOKEN,
    CCFLUX_ALLOW_HTTP: "1",
    CCFLUX_BACKOFF_MS: "20",
    CCFLUX_SENDER: "",
  });
  return { receiver, front, home };
}

/** The session's files, cut into turns: the main transcript at arbitrary bytes, sub-agent files whole. */
function turns(h: FakeHome): (() => void)[] {
  const main = readFileSync(join(FIXTURES, SESSION_FILES.main));
  const cuts = [
    0,
    70_000,
    200_001,
    350_000,
    500_000,
    650_000,
    800_000,
    950_000,
    1_100_000,
    1_300_000,
    1_500_000,
    main.length,
  ];
  const steps = cuts
    .slice(1)
    .map((end, i) => () => h.append(h.transcript(SESSION), main.subarray(cuts[i], end)));
  for (const [i, file] of SESSION_FILES.subagents.entries()) {
    const folder = join(h.projectDir, SESSION, "subagents");
    steps.splice(3 + i * 4, 0, () =>
      h.append(join(folder, file.split("/").pop() ?? ""), readFileSync(join(FIXTURES, file))),
    );
  }
  return steps;
}

/** One turn's Stop, as Claude Code runs it: the compiled binary, hook JSON on stdin; silent, exit 0. */
function stop(h: FakeHome): void {
  const result = Bun.spawnSync([REPORTER, "hook", "stop"], {
    env: h.env,
    stdin: Buffer.from(h.hookInput(SESSION)),
  });
  expect([result.exitCode, result.stdout.toString(), result.stderr.toString()]).toEqual([0, "", ""]);
}

async function waitFor(
  what: string,
  condition: () => boolean,
  story = () => "",
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${story()}`);
    await Bun.sleep(50);
  }
}

/** Waits until the outbox is empty and no sender runs. */
async function delivered(h: FakeHome): Promise<void> {
  const paths = statePaths(h.env);
  const story = () =>
    `${h.outbox().length} reports queued, sender lock ${existsSync(paths.senderLock) ? "held" : "free"}; activity.log:\n${
      existsSync(paths.activityLog) ? readFileSync(paths.activityLog, "utf8") : ""
    }`;
  await waitFor("the outbox to empty", () => h.outbox().length === 0 && !existsSync(paths.senderLock), story);
}

/** The receiver's stored totals per model, in the shape of expectedSession(). */
function storedTotals(r: TestReceiver): ReturnType<typeof expectedSession> {
  const rows = r.sql(
    `SELECT model, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
            sum(coalesce(subagent_input_tokens, 0)), sum(coalesce(subagent_output_tokens, 0)),
            sum(coalesce(subagent_cache_read_tokens, 0)), sum(coalesce(subagent_cache_write_tokens, 0))
     FROM usage_events WHERE session_id = '${SESSION}' GROUP BY model ORDER BY model;`,
  );
  const totals: Record<string, Record<string, number>> = {};
  const subagent: Record<string, Record<string, number>> = {};
  for (const row of rows.split("\n").filter(Boolean)) {
    const [model = "", ...n] = row.split("|");
    const [a, b, c, d, e, f, g, h] = n.map(Number);
    totals[model] = {
      input_tokens: a ?? 0,
      output_tokens: b ?? 0,
      cache_read_tokens: c ?? 0,
      cache_write_tokens: d ?? 0,
    };
    if ((e ?? 0) + (f ?? 0) + (g ?? 0) + (h ?? 0) > 0) {
      subagent[model] = {
        input_tokens: e ?? 0,
        output_tokens: f ?? 0,
        cache_read_tokens: g ?? 0,
        cache_write_tokens: h ?? 0,
      };
    }
  }
  return { totals, subagent };
}

describe("the compiled reporter against the compiled receiver", () => {
  if (!HAVE_FIXTURES) {
    test.skip(FIXTURES_MISSING, () => {});
    return;
  }

  test("a session replayed turn by turn arrives with exactly its expected totals, signed", async () => {
    const { receiver: r, home: h } = await setup();
    for (const step of turns(h)) {
      step();
      stop(h);
    }
    await delivered(h);
    expect(storedTotals(r)).toEqual(expectedSession());
    const [devices, unsigned, version] = r
      .sql(
        `SELECT count(DISTINCT public_key), sum(public_key IS NULL OR public_key = ''), max(claude_code_version) FROM usage_events;`,
      )
      .split("|");
    expect([devices, unsigned, version]).toEqual(["1", "0", "2.1.39"]);
  }, 120_000);

  test("receiver stopped for three turns, 503, 429 and a sender killed mid-send: totals still exact", async () => {
    const { receiver: first, front: f, home: h } = await setup();
    const steps = turns(h);
    const turn = () => {
      steps.shift()?.();
      stop(h);
    };
    turn();
    turn();
    await delivered(h);

    // The receiver is down for three turns (its reverse proxy answers 502); reports wait.
    await first.stop();
    turn();
    turn();
    turn();
    await Bun.sleep(300);
    expect(h.outbox().length).toBeGreaterThan(0);
    receiver = await first.restart();
    turn();
    await delivered(h);

    // Busy database (503) and rate limit (429, Retry-After honoured).
    f.plan("/report", { status: 503 }, { status: 503 });
    turn();
    await delivered(h);
    f.plan("/report", { status: 429, retryAfter: 1 });
    turn();
    await delivered(h);
    expect(f.seen.filter((s) => s.path === "/report").length).toBeGreaterThan(0);

    // The sender dies (kill -9) while its report is in flight; the receiver stores it after all.
    f.plan("/report", { status: 200, passThrough: true, delayMs: 1500 });
    const inFlight = f.count("/report");
    turn();
    const paths = statePaths(h.env);
    await waitFor(
      "the report to be in flight",
      () => f.count("/report") > inFlight && existsSync(paths.senderLock),
    );
    const pid = Number.parseInt(readFileSync(paths.senderLock, "utf8"), 10);
    process.kill(pid, "SIGKILL");
    await Bun.sleep(1700);
    // Its report is still queued (no 200 reached it); the next turn's sender sends it again.
    expect(h.outbox().length).toBeGreaterThan(0);
    while (steps.length > 0) turn();
    await delivered(h);

    expect(storedTotals(receiver)).toEqual(expectedSession());
    const errors = readFileSync(paths.errorsLog, "utf8");
    expect(errors).toContain("receiver unavailable (502)");
    expect(errors).toContain("receiver unavailable (503)");
    expect(errors).toContain("receiver busy (429)");
  }, 120_000);

  test("a revoked device key: the device goes silent", async () => {
    const { receiver: r, front: f, home: h } = await setup();
    const steps = turns(h);
    for (const step of steps.splice(0, 3)) {
      step();
      stop(h);
    }
    await delivered(h);
    const storedBefore = r.sql("SELECT count(*) FROM usage_events;");
    const publicKey = r.sql("SELECT public_key FROM device_keys;");
    r.sql(`UPDATE device_keys SET revoked = 1 WHERE public_key = '${publicKey}';`);
    steps.shift()?.();
    stop(h);
    const paths = statePaths(h.env);
    await waitFor(
      "the sender to go silent",
      () => existsSync(paths.revokedKey) && !existsSync(paths.senderLock),
    );
    const requestsAfterRevocation = f.seen.length;
    const last = steps.pop();
    for (const step of steps) {
      step();
      stop(h);
    }
    await Bun.sleep(500);
    expect(f.seen.length).toBe(requestsAfterRevocation);
    expect(h.outbox()).toEqual([]);
    expect(r.sql("SELECT count(*) FROM usage_events;")).toBe(storedBefore);
    expect(readFileSync(paths.errorsLog, "utf8")).toContain("device key revoked by IT (403 key-revoked)");

    // A lost laptop: whoever has it deletes device-key.revoked. The reporter makes a new key and
    // registers it under the same device id, with the same refresh token: it is refused as
    // revoked, so the laptop goes silent again and nothing of it is stored.
    rmSync(paths.revokedKey);
    last?.();
    stop(h);
    await waitFor(
      "the sender to go silent again",
      () => existsSync(paths.revokedKey) && !existsSync(paths.senderLock),
    );
    const registrations = f.seen.slice(requestsAfterRevocation).filter((s) => s.path === "/register-key");
    expect(registrations).toHaveLength(1);
    expect(JSON.parse(registrations[0]!.body).public_key).not.toBe(publicKey);
    expect(r.sql("SELECT count(*) FROM device_keys;")).toBe("1");
    expect(r.sql("SELECT count(*) FROM usage_events;")).toBe(storedBefore);
  }, 120_000);
});
