// `ccflux hook <event>`: local work only. Read what the transcripts gained, count it, append one frozen
// report per turn to the outbox, start the sender, and return. Never prints, never fails the turn.

import {
  type LimitEvent,
  parseRfc3339,
  toRfc3339,
  validateLimitEvent,
  validateReport,
} from "../protocol/index.ts";
import { VERSION } from "../protocol/version.ts";
import { wantedBackfillDays } from "./backfill.ts";
import { collectNewUsage, sessionFiles, unfinishedSessions } from "./collect.ts";
import { loadConfig, resolveEndpoints, userEmail } from "./config.ts";
import {
  acquireLock,
  type Env,
  ensureStateDir,
  isObject,
  removeStaleTemporaries,
  statePaths,
} from "./files.ts";
import { isKeyRevoked } from "./keys.ts";
import { type Logger, logger } from "./log.ts";
import { appendOutbox, listOutbox, type OutboxKind } from "./outbox.ts";
import { hasSpool, keepForLater, readSpool, removeSpooled, type Spooled } from "./spool.ts";
import { loadState, type State, saveState, sessionState } from "./state.ts";
import type { LimitHit } from "./transcript.ts";

export interface HookInput {
  sessionId: string;
  transcriptPath: string;
  /** hook_event_name, e.g. "Stop" ("" when absent). */
  event: string;
  /** SubagentStop only: the sub-agent's own transcript ("" when absent). */
  agentTranscriptPath: string;
}

/** The hook JSON Claude Code writes on stdin; null when it is not one. */
export function parseHookInput(text: string): HookInput | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(json)) return null;
  const sessionId = typeof json.session_id === "string" ? json.session_id : "";
  if (sessionId.length < 1 || sessionId.length > 64) return null;
  const string = (value: unknown) => (typeof value === "string" ? value : "");
  return {
    sessionId,
    transcriptPath: string(json.transcript_path),
    event: string(json.hook_event_name),
    agentTranscriptPath: string(json.agent_transcript_path),
  };
}

/**
 * A limit event from the transcript's usage-limit line. The line, not StopFailure, is the source: it
 * alone tells a usage limit from a transient 429 (both reach StopFailure as `rate_limit`), it names
 * the limit and its reset, headless runs kill StopFailure before it can send, and an interactive
 * StopFailure runs before the line is written. Each line is read once (offsets, and the ledger on a
 * re-read), so an event is queued once whichever hook reads it first.
 */
function limitEvent(sessionId: string, limit: LimitHit, now: number): LimitEvent {
  const event: LimitEvent = {
    schema_version: 2,
    session_id: sessionId,
    timestamp_utc: toRfc3339(parseRfc3339(limit.timestamp) ?? now),
    kind: "rate_limit",
  };
  if (limit.resetsAt !== null) event.resets_at = toRfc3339(limit.resetsAt);
  if (limit.limitType) event.limit_type = limit.limitType;
  if (limit.overageStatus) event.overage_status = limit.overageStatus;
  return event;
}

/**
 * How long a hook waits for another hook's state lock. Short, so no hook outlasts its budget
 * (SessionEnd gets 1.5 s at most): a turn missed here is counted by the session's next hook, or, for
 * a session's last one, by the catch-up at the next SessionStart.
 */
export const STATE_LOCK_WAIT_MS = 250;
/** No hook holds the state lock this long: such a lock belongs to a hung process. */
export const STATE_LOCK_STALE_MS = 30_000;
/**
 * A hook stops reading transcripts this long after it started (lock wait included), keeping what it
 * read: a huge transcript read for the first time (a resumed old session, a catch-up) is finished
 * by the next hooks, and SessionEnd stays far inside its 1.5 s.
 */
export const HOOK_BUDGET_MS = 150;

const isSessionStart = (event: string) => event.toLowerCase().replace(/[-_]/g, "") === "sessionstart";

export function runHook(event: string, stdin: string, env: Env, budgetMs = HOOK_BUDGET_MS): void {
  const deadline = Date.now() + budgetMs;
  const paths = statePaths(env);
  const config = loadConfig(env, paths);
  // Not set up, or silenced after IT revoked this device's key: do nothing at all.
  if (!config || isKeyRevoked(paths)) return;
  const input = parseHookInput(stdin);
  if (!input && !hasSpool(paths)) return;
  ensureStateDir(paths);
  const log = logger(paths);
  const release = acquireLock(paths.stateLock, {
    waitMs: STATE_LOCK_WAIT_MS,
    staleAfterMs: STATE_LOCK_STALE_MS,
  });
  if (!release) {
    // Kept without the lock (a file of its own): the next hook counts it, whichever session it runs.
    if (input) keepForLater(paths, hookJson(input), Date.now());
    log.info("another hook held the state lock; this turn is kept for the next hook", { event });
    return;
  }
  try {
    const now = Date.now();
    for (const dir of [paths.dir, paths.outbox]) removeStaleTemporaries(dir, now);
    const state = loadState(paths, now);
    const endpoints = resolveEndpoints(config.endpoint, env);
    state.config = {
      source: config.source,
      origin: endpoints.ok ? endpoints.value.origin : "invalid",
      at: now,
    };
    // This hook's own turn first; then, while the budget lasts, the kept inputs (of hooks that ran
    // before this binary existed, or were cut short by their budget) and, at SessionStart, the
    // project's sessions whose last turn no hook counted. What the budget leaves is kept for the next
    // hook, whichever session it belongs to.
    const spooled = readSpool(paths);
    const entries: OutboxItem[] = [];
    const count = (each: HookInput): boolean => {
      const counted = countInput(each, now, state, env, log, deadline);
      entries.push(...counted.entries);
      return !counted.cutShort;
    };
    if (input && !count(input)) keepForLater(paths, hookJson(input), now);
    const handled: Spooled[] = [];
    for (const [i, kept] of spooled.entries()) {
      // At least one per hook, however slow the machine: the spool shrinks even when the hook's own
      // turn took the whole budget.
      if (i > 0 && Date.now() >= deadline) break;
      const keptInput = parseHookInput(kept.text);
      // One the budget cut short stays kept, for the next hook to go on with.
      if (!keptInput || count(keptInput)) handled.push(kept);
    }
    if (input && isSessionStart(input.event || event)) {
      for (const missed of unfinishedSessions(state, input, now)) {
        if (Date.now() >= deadline) break;
        if (!count(missed)) keepForLater(paths, hookJson(missed), now);
      }
    }
    // The outbox first, then the spool and the state: a crash in between re-reads the same lines into
    // a report with the same turn index, which the receiver stores once. (Lines written during that
    // gap would ride on the repeated turn index and be taken for a retry: a window of one file write,
    // accepted.)
    appendOutbox(paths.outbox, entries, log);
    removeSpooled(handled);
    saveState(paths, state);
  } finally {
    release();
  }
  if (env.CCFLUX_SENDER !== "none" && listOutbox(paths.outbox).length > 0) startSender(env);
  // An org rollout asked for the history (plugin option backfill_days): it runs once, in the background.
  const backfillDays = input && isSessionStart(input.event || event) ? wantedBackfillDays(env, paths) : 0;
  if (backfillDays > 0 && env.CCFLUX_SENDER !== "none")
    startDetached(env, "backfill", "--days", String(backfillDays));
}

export type OutboxItem = { kind: OutboxKind; body: string };

/** The hook JSON Claude Code would have given for this input (what the spool keeps). */
function hookJson(input: HookInput): object {
  return {
    session_id: input.sessionId,
    transcript_path: input.transcriptPath,
    hook_event_name: input.event,
    agent_transcript_path: input.agentTranscriptPath,
  };
}

/**
 * One hook input's new usage and usage limits, as outbox entries; advances the session's state.
 * `cutShort`: the deadline stopped the read before the end.
 */
export function countInput(
  input: HookInput,
  now: number,
  state: State,
  env: Env,
  log: Logger,
  deadline: number,
): { entries: OutboxItem[]; cutShort: boolean } {
  const entries: OutboxItem[] = [];
  if (!input.transcriptPath) return { entries, cutShort: false };
  const session = sessionState(state, input.sessionId, now);
  const files = sessionFiles(input.transcriptPath, input.sessionId, session, input.agentTranscriptPath);
  const { totals, limits, skippedLines, cutShort } = collectNewUsage(
    files,
    input.sessionId,
    session,
    state,
    deadline,
  );
  if (skippedLines > 0)
    log.info("skipped transcript lines that were not UTF-8 JSON", { count: skippedLines });
  // Only a turn with something to report reads the email (.claude.json can be large).
  const reports = totals.isEmpty
    ? []
    : totals.toReports({
        sessionId: input.sessionId,
        firstTurnIndex: session.turn,
        sessionStart: session.start,
        userEmail: userEmail(env),
        pluginVersion: VERSION,
      });
  session.turn += reports.length;
  for (const report of reports) {
    const checked = validateReport(report);
    if (checked.ok) entries.push({ kind: "report", body: JSON.stringify(report) });
    else log.error(`a report failed its own check and was not queued (${checked.message}); please tell IT`);
  }
  for (const limit of limits) {
    const body = limitEvent(input.sessionId, limit, now);
    if (validateLimitEvent(body).ok) entries.push({ kind: "limit-event", body: JSON.stringify(body) });
  }
  return { entries, cutShort };
}

/** Starts `ccflux send` detached, so the network never holds up Claude Code. */
export function startSender(env: Env): void {
  startDetached(env, "send");
}

/** Runs `ccflux <args>` detached, in the background. */
function startDetached(env: Env, ...args: string[]): void {
  // Compiled, the binary is its own entry; from source, bun runs the entry script.
  const self = /\.[cm]?[jt]s$/.test(Bun.main) ? [process.execPath, Bun.main] : [process.execPath];
  const child = Bun.spawn([...self, ...args], {
    env,
    stdio: ["ignore", "ignore", "ignore"],
    detached: true,
  });
  child.unref();
}
