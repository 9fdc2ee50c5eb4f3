// No session missed: hooks that ran while the launcher was still downloading the binary (the first
// session after an install or an upgrade) are counted by the binary's first run, and a session whose
// last turn no hook counted is caught up by the next SessionStart in its project.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../src/reporter/files.ts";
import { assistant, jsonl, REPO_ROOT, usageLimitLine } from "./helpers.ts";
import { type FakeHome, fakeHome, sumReports } from "./session.ts";

const LAUNCHER = join(REPO_ROOT, "release", "plugin", "bin", "ccflux-launcher");

let home: FakeHome;
afterEach(() => home?.remove());

/** Runs the real launcher as a hook, with no binary and no release server: it can only spool. */
function hookWithoutBinary(h: FakeHome, sessionId: string, event: string, extra = {}): void {
  const result = Bun.spawnSync(["sh", LAUNCHER, "hook", event], {
    env: {
      ...h.env,
      CLAUDE_PLUGIN_DATA: join(h.dir, "plugin-data"),
      CCFLUX_RELEASE_BASE: "http://127.0.0.1:9",
    },
    stdin: Buffer.from(h.hookInput(sessionId, event, extra)),
  });
  expect([result.exitCode, result.stdout.toString(), result.stderr.toString()]).toEqual([0, "", ""]);
}

describe("the first session after an install or upgrade", () => {
  test("a one-shot session whose every hook ran before the binary arrived is counted by its first run", () => {
    home = fakeHome();
    home.append(home.transcript("first"), jsonl(assistant({ id: "a1", output: 7, sessionId: "first" })));
    hookWithoutBinary(home, "first", "SessionStart");
    hookWithoutBinary(home, "first", "Stop");
    // Its second turn hit the usage limit.
    home.append(home.transcript("first"), jsonl(usageLimitLine({ sessionId: "first" })));
    hookWithoutBinary(home, "first", "StopFailure", { error: "rate_limit" });
    hookWithoutBinary(home, "first", "SessionEnd");
    const spool = statePaths(home.env).spool;
    expect(readdirSync(spool)).toHaveLength(4);
    expect(home.outbox()).toEqual([]);

    // Days later, the next session's first hook runs the binary.
    home.append(home.transcript("next"), jsonl(assistant({ id: "b1", output: 11, sessionId: "next" })));
    home.hook("next", "SessionStart");
    const reports = home.reports();
    // The hook's own turn first, then the kept ones.
    expect(reports.map((r) => [r.session_id, r.models["claude-opus-4-6"]?.output_tokens])).toEqual([
      ["next", 11],
      ["first", 7],
    ]);
    const limits = home.outbox().filter((entry) => entry.kind === "limit-event");
    expect(limits.map((entry) => JSON.parse(entry.body).session_id)).toEqual(["first"]);
    expect(readdirSync(spool)).toEqual([]);

    // Nothing is counted again, whatever runs next.
    home.hook("first", "SessionEnd");
    home.hook("next", "Stop");
    expect(home.reports()).toHaveLength(2);
  });

  test("more kept inputs than one hook handles are worked off over the next hooks, each once", () => {
    home = fakeHome();
    // Kept as the launcher keeps them (its own test above): <seconds>-<pid>.json.
    const spool = statePaths(home.env).spool;
    for (let i = 0; i < 60; i++) {
      home.append(home.transcript(`s${i}`), jsonl(assistant({ id: `m${i}`, output: 1, sessionId: `s${i}` })));
      home.append(join(spool, `1800000000-${1000 + i}.json`), home.hookInput(`s${i}`, "Stop"));
    }
    home.hook("s0", "Stop");
    expect(home.reports().length).toBeLessThan(60);
    // How many the next hooks take depends on the machine's speed (their time budget), but each
    // takes at least one.
    for (let hooks = 1; readdirSync(spool).length > 0 && hooks < 60; hooks++) home.hook("s0", "Stop");
    const { totals } = sumReports(home.reports());
    expect(totals["claude-opus-4-6"]?.output_tokens).toBe(60);
    expect(readdirSync(spool)).toEqual([]);
  });

  test("a kept input that is not hook JSON is dropped and changes nothing", () => {
    home = fakeHome();
    const spool = statePaths(home.env).spool;
    home.append(join(spool, "1700000000-1.json"), "not json {");
    home.append(join(spool, "1700000000-2.json"), '{"session_id": 5}');
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1", sessionId: "s1" })));
    home.hook("s1");
    expect(home.reports()).toHaveLength(1);
    expect(readdirSync(spool)).toEqual([]);
  });

  test("not configured yet: the kept inputs wait, and are counted once it is", () => {
    home = fakeHome({ CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "", CLAUDE_PLUGIN_OPTION_API_TOKEN: "" });
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1", sessionId: "s1" })));
    hookWithoutBinary(home, "s1", "Stop");
    home.hook("s1");
    expect(existsSync(statePaths(home.env).state)).toBe(false);
    home.env.CLAUDE_PLUGIN_OPTION_API_ENDPOINT = "https://ccflux.example.org/report";
    home.env.CLAUDE_PLUGIN_OPTION_API_TOKEN = "rtok_test";
    home.hook("s2", "SessionStart");
    expect(home.reports().map((r) => r.session_id)).toEqual(["s1"]);
  });
});

describe("catch-up at SessionStart", () => {
  test("a session whose last turn no hook counted is counted by the next SessionStart in its project", () => {
    home = fakeHome();
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1", output: 3, sessionId: "s1" })));
    home.hook("s1");
    // The last turn's Stop and SessionEnd never ran (killed, or the lock was busy).
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m2", output: 5, sessionId: "s1" })));
    // A transcript from before the reporter (never seen) is not its to count.
    home.append(home.transcript("old"), jsonl(assistant({ id: "o1", output: 100, sessionId: "old" })));
    home.hook("s2", "SessionStart");
    expect(home.reports().map((r) => [r.session_id, r.models["claude-opus-4-6"]?.output_tokens])).toEqual([
      ["s1", 3],
      ["s1", 5],
    ]);
    home.hook("s1", "SessionEnd");
    home.hook("s3", "SessionStart");
    expect(home.reports()).toHaveLength(2);
  });
});
