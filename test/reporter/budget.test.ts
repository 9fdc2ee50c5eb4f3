// A hook's time budget: past its deadline a hook stops reading where it is, and the next reads go
// on from there, so a transcript read for the first time (however large) never holds up a hook and
// still counts every response exactly once.

import { afterEach, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { collectNewUsage, sessionFiles } from "../../src/reporter/collect.ts";
import { statePaths } from "../../src/reporter/files.ts";
import { runHook } from "../../src/reporter/hook.ts";
import { keepForLater, SPOOL_LIMIT } from "../../src/reporter/spool.ts";
import { loadState, sessionState } from "../../src/reporter/state.ts";
import { USAGE_FIELDS } from "../../src/reporter/transcript.ts";
import { assistant, jsonl, usageLimitLine } from "./helpers.ts";
import { type FakeHome, fakeHome, sumReports } from "./session.ts";

let home: FakeHome;
afterEach(() => home?.remove());

/** About 6 MB of one session: several of the reader's chunks; three lines (content blocks) per response. */
function bigTranscript(sessionId: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    for (const output of [1, 2, 3]) {
      lines.push(assistant({ id: `m${i}`, output: output * (i % 7), cacheRead: 100 + i, sessionId }));
    }
    lines.push(JSON.stringify({ type: "user", padding: "x".repeat(1500) }));
    if (i === 2500) lines.push(usageLimitLine({ sessionId }));
  }
  return lines;
}
const BIG_OUTPUT = [...Array(3000).keys()].reduce((sum, i) => sum + 3 * (i % 7), 0);

test("a session's last hook cut short by its budget keeps its input; a hook of another project finishes the read", () => {
  home = fakeHome();
  home.append(home.transcript("big"), jsonl(...bigTranscript("big")));
  // No budget at all: the hook reads one chunk and keeps the rest for later.
  runHook("SessionEnd", home.hookInput("big", "SessionEnd"), home.env, 0);
  const spool = statePaths(home.env).spool;
  expect(readdirSync(spool)).toHaveLength(1);
  const firstPart = sumReports(home.reports()).totals["claude-opus-4-6"]?.output_tokens ?? 0;
  expect(firstPart).toBeGreaterThan(0);
  expect(firstPart).toBeLessThan(BIG_OUTPUT);
  // Days later, a session elsewhere.
  const elsewhere = join(home.configDir, "projects", "-somewhere-else", "s2.jsonl");
  home.append(elsewhere, jsonl(assistant({ id: "e1", output: 1, sessionId: "s2" })));
  const input = JSON.stringify({ session_id: "s2", transcript_path: elsewhere, hook_event_name: "Stop" });
  for (let i = 0; i < 50 && readdirSync(spool).length > 0; i++) runHook("Stop", input, home.env);
  expect(readdirSync(spool)).toEqual([]);
  const totals = sumReports(home.reports().filter((r) => r.session_id === "big")).totals;
  expect(totals["claude-opus-4-6"]?.output_tokens).toBe(BIG_OUTPUT);
  expect(home.outbox().filter((entry) => entry.kind === "limit-event")).toHaveLength(1);
});

test("however slow the machine, each hook works off at least one kept input", () => {
  home = fakeHome();
  const spool = statePaths(home.env).spool;
  for (let i = 0; i < 3; i++) {
    home.append(home.transcript(`s${i}`), jsonl(assistant({ id: `m${i}`, output: 1, sessionId: `s${i}` })));
    home.append(join(spool, `1800000000-${1000 + i}.json`), home.hookInput(`s${i}`, "Stop"));
  }
  // No budget at all, as when a hook's own turn took all of it.
  for (const left of [2, 1, 0]) {
    runHook("Stop", home.hookInput("s0", "Stop"), home.env, 0);
    expect(readdirSync(spool)).toHaveLength(left);
  }
  expect(sumReports(home.reports()).totals["claude-opus-4-6"]?.output_tokens).toBe(3);
});

test("reads cut off by the deadline add up, over several hooks, to one full read", () => {
  home = fakeHome();
  const lines = bigTranscript("big");
  home.append(home.transcript("big"), jsonl(...lines));

  const read = (deadline: number) => {
    const state = loadState(statePaths(home.env));
    const sums = Object.fromEntries(USAGE_FIELDS.map((field) => [field, 0]));
    let reads = 0;
    let limits = 0;
    for (;;) {
      const session = sessionState(state, "big", Date.now());
      const before = JSON.stringify(session.offsets);
      const files = sessionFiles(home.transcript("big"), "big", session);
      const collected = collectNewUsage(files, "big", session, state, deadline);
      if (JSON.stringify(session.offsets) === before) break;
      reads++;
      limits += collected.limits.length;
      for (const usage of Object.values(
        collected.totals.toReports({
          sessionId: "big",
          firstTurnIndex: 0,
          sessionStart: "",
          userEmail: "",
          pluginVersion: "test",
        })[0]?.models ?? {},
      )) {
        for (const field of USAGE_FIELDS)
          sums[field] = (sums[field] ?? 0) + ((usage as unknown as Record<string, number>)[field] ?? 0);
      }
    }
    return { sums, reads, limits };
  };
  // A deadline long past: one chunk per hook.
  const piecemeal = read(0);
  home.remove();
  home = fakeHome();
  home.append(home.transcript("big"), jsonl(...lines));
  const whole = read(Number.POSITIVE_INFINITY);
  expect(whole.reads).toBe(1);
  expect(piecemeal.reads).toBeGreaterThan(2);
  expect(piecemeal.sums).toEqual(whole.sums);
  expect(whole.sums.output_tokens).toBe(BIG_OUTPUT);
  expect([piecemeal.limits, whole.limits]).toEqual([1, 1]);
});

test("the spool stays bounded: past its limit a hook keeps nothing more", () => {
  home = fakeHome();
  const paths = statePaths(home.env);
  for (let i = 0; i < SPOOL_LIMIT; i++) home.append(join(paths.spool, `1800000000-${i}.json`), "{}");
  keepForLater(paths, { session_id: "s1" }, Date.now());
  expect(readdirSync(paths.spool)).toHaveLength(SPOOL_LIMIT);
});
