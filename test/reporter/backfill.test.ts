// `ccflux backfill [--days N]` and the plugin option backfill_days: the sessions of the last N days
// from before the install are reported once, whatever the hooks, a resumed copy or an earlier
// backfill already counted.

import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../src/reporter/files.ts";
import { assistant, jsonl, ccflux as run } from "./helpers.ts";
import { type FakeHome, fakeHome, sumReports } from "./session.ts";

let home: FakeHome;
afterEach(() => home?.remove());

const ccflux = (args: string[], stdin = "") => run(home.env, args, stdin);

const DAY = 86_400_000;

/** A transcript in a project folder of its own, last written `daysAgo` days ago. */
function session(h: FakeHome, project: string, sessionId: string, daysAgo: number, lines: string[]): string {
  const path = join(h.configDir, "projects", project, `${sessionId}.jsonl`);
  h.append(path, jsonl(...lines));
  const at = new Date(Date.now() - daysAgo * DAY);
  utimesSync(path, at, at);
  return path;
}

const output = (h: FakeHome) => {
  const totals: Record<string, number> = {};
  for (const r of h.reports())
    totals[r.session_id] = (totals[r.session_id] ?? 0) + (r.models["claude-opus-4-6"]?.output_tokens ?? 0);
  return totals;
};

test("the last N days of every project are reported once; older sessions and what was counted are not", () => {
  home = fakeHome();
  const day = (ago: number) => new Date(Date.now() - ago * DAY).toISOString();
  session(home, "-work-a", "a-recent", 3, [assistant({ id: "a1", output: 5, timestamp: day(3) })]);
  session(home, "-work-b", "b-recent", 20, [assistant({ id: "b1", output: 7, timestamp: day(20) })]);
  session(home, "-work-b", "b-old", 40, [assistant({ id: "o1", output: 1000, timestamp: day(40) })]);
  // A session the hooks already counted in part, and a resumed copy of one of its responses.
  const known = session(home, "-work-a", "known", 1, [
    assistant({ id: "k1", output: 11, sessionId: "known" }),
  ]);
  home.hook("known", "Stop", { transcript_path: known });
  home.append(known, jsonl(assistant({ id: "k2", output: 13, sessionId: "known" })));
  session(home, "-work-a", "copy", 1, [
    assistant({ id: "k1", requestId: "req_resumed", output: 11, sessionId: "copy" }),
    assistant({ id: "c1", output: 17, sessionId: "copy" }),
  ]);

  const first = ccflux(["backfill", "--days", "30"]);
  expect(first).toEqual({
    code: 0,
    stdout:
      "queued 4 reports from 4 sessions of the last 30 days; they are sent in the background (ccflux status shows the outbox)\n",
    stderr: "",
  });
  expect(output(home)).toEqual({ known: 11 + 13, "a-recent": 5, "b-recent": 7, copy: 17 });
  const reports = home.reports().length;

  // Again, or a longer look back: only what is new is sent.
  expect(ccflux(["backfill"]).stdout).toStartWith("queued 0 reports from 0 sessions of the last 30 days");
  expect(ccflux(["backfill", "--days=60"]).stdout).toStartWith(
    "queued 1 reports from 1 sessions of the last 60 days",
  );
  expect(home.reports()).toHaveLength(reports + 1);
  expect(output(home)["b-old"]).toBe(1000);
  expect(JSON.parse(readFileSync(statePaths(home.env).backfill, "utf8")).days).toBe(60);
});

test("bad days are bad usage (2); without a configuration or with a revoked key nothing is read (1)", () => {
  home = fakeHome();
  for (const args of [
    ["--days"],
    ["--days", "0"],
    ["--days", "366"],
    ["--days", "3x"],
    ["--weeks", "2"],
    ["--days", "3", "4"],
  ]) {
    const result = ccflux(["backfill", ...args]);
    expect([result.code, result.stdout]).toEqual([2, ""]);
    expect(result.stderr).toContain("--days takes a whole number from 1 to 365");
  }
  session(home, "-work-a", "s1", 1, [assistant({ id: "m1" })]);
  home.env.CLAUDE_PLUGIN_OPTION_API_TOKEN = "";
  expect(ccflux(["backfill"])).toEqual({
    code: 1,
    stdout: "",
    stderr: "ccflux backfill: not configured: set api_endpoint and api_token first\n",
  });
  home.env.CLAUDE_PLUGIN_OPTION_API_TOKEN = "rtok_test";
  home.append(statePaths(home.env).revokedKey, "revoked\n");
  expect(ccflux(["backfill"])).toEqual({
    code: 1,
    stdout: "",
    stderr: "ccflux backfill: this device's key was revoked by IT: nothing is sent\n",
  });
  expect(home.outbox()).toEqual([]);
});

test("the plugin option backfill_days: SessionStart starts the backfill in the background, once", async () => {
  home = fakeHome({
    // The sender may run (the backfill starts it), but only against a port that refuses at once.
    CCFLUX_SENDER: "",
    CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "http://127.0.0.1:9/report",
    CCFLUX_ALLOW_HTTP: "1",
    CCFLUX_BACKOFF_MS: "1",
    CLAUDE_PLUGIN_OPTION_BACKFILL_DAYS: "30",
  });
  session(home, "-work-a", "history", 5, [assistant({ id: "h1", output: 9, sessionId: "history" })]);
  const result = ccflux(["hook", "session-start"], home.hookInput("now", "SessionStart"));
  expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
  const done = statePaths(home.env).backfill;
  const deadline = Date.now() + 20_000;
  while (!existsSync(done) && Date.now() < deadline) await Bun.sleep(50);
  expect(JSON.parse(readFileSync(done, "utf8")).days).toBe(30);
  expect(sumReports(home.reports()).totals["claude-opus-4-6"]?.output_tokens).toBe(9);
  // Done once: the next SessionStart does not start it again.
  ccflux(["hook", "session-start"], home.hookInput("later", "SessionStart"));
  await Bun.sleep(500);
  expect(home.reports()).toHaveLength(1);
}, 30_000);
