// state.json: what the hooks have read so far. Changed only under state.lock and replaced atomically,
// so concurrent hooks (several sessions, Stop beside SessionEnd) never see half of it.
// It holds counters, byte offsets under hashed file names, and hashed response keys: never a prompt,
// a path or code.

import { isObject, readJson, type StatePaths, writeFileAtomic } from "./files.ts";
import { Ledger } from "./ledger.ts";
import { SeenResponses } from "./seen.ts";

/** Sessions kept; the least recently active beyond this are forgotten. */
export const SESSION_LIMIT = 1_000;

export interface SessionState {
  /** Next turn_index: reports of one session never reuse one, so the receiver never drops one as a retry. */
  turn: number;
  /** RFC 3339 instant of the session's first counted API call ("" until known). */
  start: string;
  /** When the reporter first saw the session (ms); older sibling agent files are not its own. */
  firstSeen: number;
  lastSeen: number;
  /** Bytes already read, per file (keyed by a hash of session id and path). */
  offsets: Record<string, number>;
}

export interface ConfigSeen {
  source: string;
  /** scheme://host[:port] only. */
  origin: string;
  at: number;
}

export interface State {
  sessions: Record<string, SessionState>;
  ledger: Ledger;
  /** Every response counted in the last SEEN_DAYS days, by message id (its own files, read as needed). */
  seen: SeenResponses;
  /** How the last hook found the reporter configured, for `ccflux status` outside Claude Code. */
  config: ConfigSeen | null;
}

function readSession(value: unknown): SessionState | null {
  if (!isObject(value) || typeof value.turn !== "number" || !isObject(value.offsets)) return null;
  const offsets: Record<string, number> = {};
  for (const [key, offset] of Object.entries(value.offsets)) {
    if (typeof offset === "number" && offset >= 0) offsets[key] = offset;
  }
  return {
    turn: value.turn,
    start: typeof value.start === "string" ? value.start : "",
    firstSeen: typeof value.firstSeen === "number" ? value.firstSeen : 0,
    lastSeen: typeof value.lastSeen === "number" ? value.lastSeen : 0,
    offsets,
  };
}

export function loadState(paths: StatePaths, now = Date.now()): State {
  const raw = readJson(paths.state);
  const file = isObject(raw) ? raw : {};
  const sessions: Record<string, SessionState> = {};
  if (isObject(file.sessions)) {
    for (const [id, value] of Object.entries(file.sessions)) {
      const session = readSession(value);
      if (session) sessions[id] = session;
    }
  }
  const ledger = new Ledger(file.ledger);
  const config = isObject(file.config) ? (file.config as unknown as ConfigSeen) : null;
  return { sessions, ledger, seen: new SeenResponses(paths.seen, now), config };
}

export function saveState(paths: StatePaths, state: State): void {
  const ids = Object.keys(state.sessions);
  if (ids.length > SESSION_LIMIT) {
    ids.sort((a, b) => (state.sessions[a]?.lastSeen ?? 0) - (state.sessions[b]?.lastSeen ?? 0));
    for (const id of ids.slice(0, ids.length - SESSION_LIMIT)) delete state.sessions[id];
  }
  writeFileAtomic(
    paths.state,
    JSON.stringify({ sessions: state.sessions, ledger: state.ledger, config: state.config }),
  );
  // After state.json: a crash between the two leaves the ledger, which covers the same responses.
  state.seen.save();
}

export function sessionState(state: State, sessionId: string, now: number): SessionState {
  let session = state.sessions[sessionId];
  if (!session) {
    session = { turn: 0, start: "", firstSeen: now, lastSeen: now, offsets: {} };
    state.sessions[sessionId] = session;
  }
  session.lastSeen = now;
  return session;
}
