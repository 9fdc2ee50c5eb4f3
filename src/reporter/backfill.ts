// `ccflux backfill [--days N]`: the counts of sessions from before the plugin was installed, so an
// organisation sees the last weeks on day one. Every main transcript under Claude Code's projects
// folder with activity in the last N days is read like a hook reads it: what the hooks have read is
// skipped (offsets), and every response already counted anywhere is skipped too (the ledger and the
// seen files), so nothing is reported twice. The session's turns are read in short steps under the
// state lock, so hooks running meanwhile wait at most one step.

import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { toRfc3339 } from "../protocol/index.ts";
import { loadConfig } from "./config.ts";
import {
  acquireLock,
  claudeConfigDir,
  type Env,
  ensureStateDir,
  isObject,
  readJson,
  type StatePaths,
  statePaths,
  writeFileAtomic,
} from "./files.ts";
import { countInput, type HookInput, type OutboxItem, STATE_LOCK_STALE_MS, startSender } from "./hook.ts";
import { isKeyRevoked } from "./keys.ts";
import { logger } from "./log.ts";
import { appendOutbox } from "./outbox.ts";
import { loadState, saveState } from "./state.ts";

export const BACKFILL_DEFAULT_DAYS = 30;
/** The seen files, which keep a resumed copy from counting twice, go back 400 days. */
export const BACKFILL_MAX_DAYS = 365;
const DAY_MS = 86_400_000;
/** One step's reading under the state lock; a hook waits for it at most this long (plus a chunk). */
const STEP_MS = 100;
/** The backfill waits longer for the lock than a hook: it is not in anyone's way. */
const LOCK_WAIT_MS = 5_000;

/** The main transcript of every session of every project with activity since `since` (ms), oldest first. */
export function historyTranscripts(env: Env, since: number): HookInput[] {
  const projects = join(claudeConfigDir(env), "projects");
  const found: { input: HookInput; mtime: number }[] = [];
  for (const project of list(projects)) {
    for (const name of list(join(projects, project))) {
      if (!name.endsWith(".jsonl")) continue;
      const transcriptPath = join(projects, project, name);
      let mtime: number;
      try {
        const stat = statSync(transcriptPath);
        if (!stat.isFile()) continue;
        mtime = stat.mtimeMs;
      } catch {
        continue;
      }
      if (mtime < since) continue;
      const sessionId = basename(name, ".jsonl");
      if (sessionId.length < 1 || sessionId.length > 64) continue;
      found.push({
        input: { sessionId, transcriptPath, event: "backfill", agentTranscriptPath: "" },
        mtime,
      });
    }
  }
  return found.sort((a, b) => a.mtime - b.mtime).map((f) => f.input);
}

function list(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch {
    return [];
  }
}

export interface BackfillDone {
  days: number;
  at: string;
}

/** The last backfill that ran to its end (backfill.json), or null. */
export function lastBackfill(paths: StatePaths): BackfillDone | null {
  const done = readJson(paths.backfill);
  return isObject(done) && typeof done.days === "number" && typeof done.at === "string"
    ? { days: done.days, at: done.at }
    : null;
}

export type BackfillResult = { ok: true; sessions: number; reports: number } | { ok: false; message: string };

export function runBackfill(env: Env, days: number, now = Date.now()): BackfillResult {
  const paths = statePaths(env);
  const config = loadConfig(env, paths);
  if (!config) return { ok: false, message: "not configured: set api_endpoint and api_token first" };
  if (isKeyRevoked(paths))
    return { ok: false, message: "this device's key was revoked by IT: nothing is sent" };
  ensureStateDir(paths);
  const release = acquireLock(paths.backfillLock, { waitMs: 0, staleAfterMs: 0 });
  if (!release) return { ok: false, message: "a backfill is already running" };
  const log = logger(paths);
  let sessions = 0;
  let reports = 0;
  try {
    for (const input of historyTranscripts(env, now - days * DAY_MS)) {
      const queued = backfillSession(paths, env, input, log);
      if (queued === null) return { ok: false, message: "the hooks kept the state busy; run it again later" };
      if (queued > 0) sessions++;
      reports += queued;
    }
    writeFileAtomic(paths.backfill, JSON.stringify({ days, at: toRfc3339(now) } satisfies BackfillDone));
  } finally {
    release();
  }
  log.info("backfill queued the history", { days, sessions, reports });
  if (reports > 0 && env.CCFLUX_SENDER !== "none") startSender(env);
  return { ok: true, sessions, reports };
}

/** Reads one session to its end in short steps; the reports queued, or null when the lock stayed busy. */
function backfillSession(paths: StatePaths, env: Env, input: HookInput, log: ReturnType<typeof logger>) {
  let queued = 0;
  for (;;) {
    const release = acquireLock(paths.stateLock, { waitMs: LOCK_WAIT_MS, staleAfterMs: STATE_LOCK_STALE_MS });
    if (!release) return null;
    let cutShort: boolean;
    try {
      const now = Date.now();
      const state = loadState(paths, now);
      const counted = countInput(input, now, state, env, log, now + STEP_MS);
      const entries: OutboxItem[] = counted.entries;
      appendOutbox(paths.outbox, entries, log);
      saveState(paths, state);
      queued += entries.filter((entry) => entry.kind === "report").length;
      cutShort = counted.cutShort;
    } finally {
      release();
    }
    if (!cutShort) return queued;
  }
}

/**
 * The plugin option `backfill_days` (set by IT for a rollout): at SessionStart, when no backfill of
 * that many days has run yet, one starts in the background. It runs once; a person can run
 * `ccflux backfill` again at any time, and it never counts anything twice.
 */
export function wantedBackfillDays(env: Env, paths: StatePaths): number {
  const days = Math.floor(Number(env.CLAUDE_PLUGIN_OPTION_BACKFILL_DAYS ?? ""));
  if (!(days > 0)) return 0;
  const wanted = Math.min(days, BACKFILL_MAX_DAYS);
  return (lastBackfill(paths)?.days ?? 0) >= wanted ? 0 : wanted;
}
