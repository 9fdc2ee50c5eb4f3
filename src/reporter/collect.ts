// Reads what a session's transcript files gained since the last hook and counts it through the ledger.

import { closeSync, type Dirent, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { toRfc3339 } from "../protocol/index.ts";
import type { HookInput } from "./hook.ts";
import type { Contribution } from "./ledger.ts";
import type { SessionState, State } from "./state.ts";
import { TurnTotals } from "./totals.ts";
import { type LimitHit, type ResponseUsage, scanChunk } from "./transcript.ts";

export interface TranscriptFile {
  path: string;
  /** Every response in it is a sub-agent's (or compaction's). */
  subagent: boolean;
  /** Old-style sibling agent files hold other sessions' agents too: count only this session's lines. */
  onlySession: string | null;
}

/** Allow for clock steps and slow writes when deciding whether a sibling agent file is recent. */
const SIBLING_GRACE_MS = 60_000;

/** Sub-agent files nest (workflows: `subagents/workflows/wf_<id>/agent-<id>.jsonl`): so many folders deep at most. */
const SUBAGENT_DEPTH = 4;
/** A workflow's `journal.jsonl` records its steps; it is not a transcript. */
const NOT_TRANSCRIPTS = new Set(["journal.jsonl"]);

/**
 * The main transcript, every transcript under `<session>/subagents/` (nested too), the file a
 * SubagentStop names (`agent_transcript_path`), and (before 2.1.2) sibling `agent-*.jsonl`.
 */
export function sessionFiles(
  transcriptPath: string,
  sessionId: string,
  session: SessionState,
  agentTranscriptPath = "",
): TranscriptFile[] {
  const files: TranscriptFile[] = [{ path: transcriptPath, subagent: false, onlySession: null }];
  const folder = dirname(transcriptPath);
  const subagents = join(folder, basename(transcriptPath, ".jsonl"), "subagents");
  for (const path of listTranscripts(subagents, SUBAGENT_DEPTH)) {
    files.push({ path, subagent: true, onlySession: null });
  }
  const named = agentTranscriptPath ? resolve(agentTranscriptPath) : "";
  if (
    named.endsWith(".jsonl") &&
    !NOT_TRANSCRIPTS.has(basename(named)) &&
    !files.some((file) => resolve(file.path) === named)
  ) {
    files.push({ path: named, subagent: true, onlySession: null });
  }
  for (const path of listTranscripts(folder, 0)) {
    if (!basename(path).startsWith("agent-")) continue;
    try {
      if (statSync(path).mtimeMs < session.firstSeen - SIBLING_GRACE_MS) continue;
    } catch {
      continue;
    }
    files.push({ path, subagent: true, onlySession: sessionId });
  }
  return files;
}

/** `.jsonl` transcripts in the folder and its sub-folders down to `depth`, sorted by path. */
function listTranscripts(folder: string, depth: number): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (depth > 0) found.push(...listTranscripts(path, depth - 1));
    } else if (entry.name.endsWith(".jsonl") && !NOT_TRANSCRIPTS.has(entry.name)) {
      found.push(path);
    }
  }
  return found;
}

export function offsetKey(sessionId: string, path: string): string {
  return Bun.hash(`${sessionId}\u0000${path}`).toString(36);
}

/** Small enough that a hook's deadline is checked often (a chunk takes tens of milliseconds). */
const FIRST_CHUNK_BYTES = 2 * 1024 * 1024;

export interface Collected {
  totals: TurnTotals;
  /** Usage-limit refusals read for the first time. */
  limits: LimitHit[];
  /** Lines mentioning usage that were not UTF-8 or not JSON. */
  skippedLines: number;
  /** The deadline came before the end of the files: a later read must go on. */
  cutShort: boolean;
}

type Counted = Pick<State, "ledger" | "seen">;

/** What the response adds to the totals; null when nothing (or when it was counted before). */
function contribution(response: ResponseUsage, { ledger, seen }: Counted): Contribution | null {
  if (ledger.has(response.key)) return ledger.take(response);
  // Not in the ledger: new, or a /btw replay or resumed copy of a response the ledger forgot. Either
  // way the ledger records it, so its later lines add only what grows.
  const copy = seen.claim(response);
  const counted = ledger.take(response);
  return copy ? null : counted;
}

/**
 * Reads every file from its saved offset, advancing the offsets in `session`; records what it
 * counted. Past `deadline` (ms) it stops after the chunk in hand: the offsets say where the next
 * read goes on.
 */
export function collectNewUsage(
  files: TranscriptFile[],
  sessionId: string,
  session: SessionState,
  counted: Counted,
  deadline = Number.POSITIVE_INFINITY,
): Collected {
  const totals = new TurnTotals();
  const limits: LimitHit[] = [];
  let skippedLines = 0;
  let cutShort = false;
  for (const [i, file] of files.entries()) {
    if (i > 0 && Date.now() >= deadline) {
      cutShort = true;
      break;
    }
    const key = offsetKey(sessionId, file.path);
    const result = readFrom(file, session.offsets[key] ?? 0, deadline, (bytes) => {
      const scan = scanChunk(bytes, file.subagent);
      skippedLines += scan.skipped;
      for (const response of scan.responses.values()) {
        if (file.onlySession !== null && response.sessionId !== file.onlySession) continue;
        const added = contribution(response, counted);
        if (added) totals.add(response, added);
      }
      for (const limit of scan.limits) if (counted.ledger.firstSight(limit.key)) limits.push(limit);
      return scan.consumed;
    });
    if (result === null) continue;
    session.offsets[key] = result.position;
    cutShort ||= result.cutShort;
  }
  if (!session.start && totals.firstCall !== null) session.start = toRfc3339(totals.firstCall);
  return { totals, limits, skippedLines, cutShort };
}

/**
 * Feeds the file's complete lines from `offset` on to `consume` (which returns the bytes it used) and
 * returns the new offset (and whether the deadline stopped it first), or null when the file cannot
 * be read. A file shorter than the offset was replaced or truncated: it is read again from the
 * start, and the ledger keeps that from counting twice.
 */
function readFrom(
  file: TranscriptFile,
  offset: number,
  deadline: number,
  consume: (bytes: Uint8Array) => number,
): { position: number; cutShort: boolean } | null {
  let fd: number;
  try {
    fd = openSync(file.path, "r");
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    let position = size < offset ? 0 : offset;
    let chunkBytes = FIRST_CHUNK_BYTES;
    while (position < size) {
      const length = Math.min(chunkBytes, size - position);
      const buffer = Buffer.allocUnsafe(length);
      const read = readSync(fd, buffer, 0, length, position);
      if (read === 0) break;
      const consumed = consume(buffer.subarray(0, read));
      position += consumed;
      if (Date.now() >= deadline) return { position, cutShort: position < size };
      if (consumed === 0) {
        // No newline in what is left: a half-written last line, read again next time.
        if (read < chunkBytes) break;
        // Or one line longer than the chunk: read more at once.
        chunkBytes *= 2;
      }
    }
    return { position, cutShort: false };
  } finally {
    closeSync(fd);
  }
}

/** Sessions the catch-up looks at: seen this recently, at most this many per SessionStart. */
const CATCH_UP_AGE_MS = 7 * 24 * 3600 * 1000;
const CATCH_UP_LIMIT = 20;

/**
 * Other sessions of the same project folder that the reporter has seen and whose transcript grew
 * after their last hook (a last turn whose hooks were killed, or gave up on the state lock), as hook
 * inputs for SessionStart to count. Sessions never seen are left alone: their history predates the
 * reporter (that is `ccflux backfill`'s, if anyone's).
 */
export function unfinishedSessions(
  state: { sessions: Record<string, SessionState> },
  current: { sessionId: string; transcriptPath: string },
  now: number,
): HookInput[] {
  if (!current.transcriptPath) return [];
  const folder = dirname(current.transcriptPath);
  const found: HookInput[] = [];
  for (const transcriptPath of listTranscripts(folder, 0)) {
    const sessionId = basename(transcriptPath, ".jsonl");
    const session = state.sessions[sessionId];
    if (sessionId === current.sessionId || !session || now - session.lastSeen > CATCH_UP_AGE_MS) continue;
    try {
      if (statSync(transcriptPath).size <= (session.offsets[offsetKey(sessionId, transcriptPath)] ?? 0))
        continue;
    } catch {
      continue;
    }
    found.push({ sessionId, transcriptPath, event: "catch-up", agentTranscriptPath: "" });
    if (found.length >= CATCH_UP_LIMIT) break;
  }
  return found;
}
