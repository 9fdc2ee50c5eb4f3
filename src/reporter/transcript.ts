// The counting rule (../shared/fixtures/transcripts/README.md), free of I/O so it can be tested alone.
//
// Claude Code writes one JSONL line per content block of an API response; every line of one response
// shares message.id and requestId. Older versions write growing streaming snapshots, newer ones repeat
// the final usage, so per response we keep the line with the largest output_tokens (the later on a tie).

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
}

export const USAGE_FIELDS = [
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
] as const satisfies readonly (keyof Usage)[];

/** One API response as the transcript shows it (its best line so far). */
export interface ResponseUsage {
  /** message.id and requestId: the same response seen in any file has the same key. */
  key: string;
  /** message.id alone (the key when there is none): what a replay or resumed copy shares with it. */
  replayKey: string;
  model: string;
  usage: Usage;
  /** The line carried usage.cache_creation, so the 5m/1h split is known. */
  hasCacheSplit: boolean;
  /** Spent by a sub-agent or by compaction rather than the main conversation. */
  subagent: boolean;
  sessionId: string;
  timestamp: string;
  claudeCodeVersion: string;
}

/**
 * A turn refused by the seat's own usage limit, as Claude Code records it: a synthetic assistant line
 * (`isApiErrorMessage`, `error: "rate_limit"`, `apiError: "usage_limit_reached"`) whose
 * `apiErrorParams.rate_limit_info` has `status: "rejected"`. Transient 429s, "Request rejected (429)",
 * credit-required refusals and organisation-wide pauses share `error: "rate_limit"` but not this shape.
 */
export interface LimitHit {
  /** The line's uuid: one limit line is one event, however often the file is read. */
  key: string;
  timestamp: string;
  /** rateLimitType (five_hour, seven_day, seven_day_opus, …); "" when absent. */
  limitType: string;
  /** resetsAt in milliseconds, or null when absent. */
  resetsAt: number | null;
  /** overageStatus (allowed, allowed_warning, rejected); "" when absent. */
  overageStatus: string;
}

export interface ChunkScan {
  /** Best line per response within the chunk, in order of first appearance. */
  responses: Map<string, ResponseUsage>;
  /** Usage-limit refusals of the main conversation, in file order. */
  limits: LimitHit[];
  /** Bytes up to and including the last newline: a half-written last line waits for the next read. */
  consumed: number;
  /** Complete lines mentioning usage that were not UTF-8 or not JSON, passed over. */
  skipped: number;
}

/** Not a model: Claude Code's marker for messages it made up itself (errors, interruptions). */
export const SYNTHETIC_MODEL = "<synthetic>";

const NEWLINE = 0x0a;
// Only lines that mention usage (or usage_limit_reached) can count; skipping the rest unparsed keeps a
// large first read cheap.
const USAGE_MARK = Buffer.from('"usage');
const utf8 = new TextDecoder("utf-8", { fatal: true });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tokens(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Claude Code's own clamp of the lifetime split: 1h ≤ total, then 5m ≤ total − 1h. */
function usageOf(source: Record<string, unknown>): { usage: Usage; hasCacheSplit: boolean } {
  const split = isObject(source.cache_creation) ? source.cache_creation : null;
  const cacheWrite = tokens(source.cache_creation_input_tokens);
  const oneHour = Math.min(tokens(split?.ephemeral_1h_input_tokens), cacheWrite);
  return {
    usage: {
      input_tokens: tokens(source.input_tokens),
      output_tokens: tokens(source.output_tokens),
      cache_read_tokens: tokens(source.cache_read_input_tokens),
      cache_write_tokens: cacheWrite,
      cache_write_5m_tokens: Math.min(tokens(split?.ephemeral_5m_input_tokens), cacheWrite - oneHour),
      cache_write_1h_tokens: oneHour,
    },
    hasCacheSplit: split !== null,
  };
}

/**
 * Reads one parsed transcript line: nothing unless it is a top-level assistant line with usage; else
 * its response, then one entry per advisor iteration. An advisor call (usage.iterations[] of type
 * advisor_message) runs on its own model and is billed apart: the top-level usage leaves it out.
 * Other iterations (message, fallback_message, compaction) are in the top-level usage or not billed.
 */
export function responsesFromLine(line: unknown, inSubagentFile: boolean): ResponseUsage[] {
  if (!isObject(line) || line.type !== "assistant" || !isObject(line.message)) return [];
  const message = line.message;
  const usage = message.usage;
  const model = text(message.model);
  if (!isObject(usage) || model === "" || model === SYNTHETIC_MODEL) return [];
  const messageId = text(message.id);
  const requestId = text(line.requestId);
  // A line without ids cannot be grouped with others: it stands alone under its own uuid.
  const key = messageId || requestId ? `${messageId}\u0000${requestId}` : `line\u0000${text(line.uuid)}`;
  const common = {
    subagent: inSubagentFile || line.isSidechain === true,
    sessionId: text(line.sessionId),
    timestamp: text(line.timestamp),
    claudeCodeVersion: text(line.version),
  };
  // A replay (/btw) or a resumed copy keeps message.id under a new requestId: the id alone names it.
  const responses: ResponseUsage[] = [
    { key, replayKey: messageId || key, model, ...usageOf(usage), ...common },
  ];
  if (!Array.isArray(usage.iterations)) return responses;
  usage.iterations.forEach((iteration: unknown, index) => {
    if (!isObject(iteration) || iteration.type !== "advisor_message") return;
    const advisorModel = text(iteration.model);
    if (advisorModel === "" || advisorModel === SYNTHETIC_MODEL) return;
    const part = `\u0000advisor\u0000${index}`;
    responses.push({
      key: key + part,
      replayKey: (messageId || key) + part,
      model: advisorModel,
      ...usageOf(iteration),
      ...common,
    });
  });
  return responses;
}

/** A word such as five_hour or allowed_warning: Claude Code's own identifiers, never free text. */
const IDENTIFIER = /^[a-z][a-z0-9_]{0,31}$/;
/** resetsAt is unix seconds; anything outside 2001–2286 is not one. */
const MIN_UNIX_SECONDS = 1e9;
const MAX_UNIX_SECONDS = 1e10;

function identifier(value: unknown): string {
  return typeof value === "string" && IDENTIFIER.test(value) ? value : "";
}

/**
 * Reads one parsed line; null unless it is a usage-limit refusal of the main conversation (a helper
 * query inside a sub-agent that hits a limit is not the person's turn failing).
 */
export function limitFromLine(line: unknown, inSubagentFile: boolean): LimitHit | null {
  if (inSubagentFile || !isObject(line) || line.type !== "assistant" || line.isSidechain === true)
    return null;
  if (line.isApiErrorMessage !== true || line.error !== "rate_limit") return null;
  if (line.apiError !== "usage_limit_reached" || line.apiErrorIsTransient === true) return null;
  const params = line.apiErrorParams;
  const info = isObject(params) ? params.rate_limit_info : null;
  // dailyCapPaused: the organisation paused usage for everyone, which says nothing about this seat.
  if (!isObject(info) || info.status !== "rejected" || info.dailyCapPaused === true) return null;
  const key = text(line.uuid);
  if (key === "") return null;
  const resets = info.resetsAt;
  return {
    key: `limit\u0000${key}`,
    timestamp: text(line.timestamp),
    limitType: identifier(info.rateLimitType),
    resetsAt:
      typeof resets === "number" && resets >= MIN_UNIX_SECONDS && resets <= MAX_UNIX_SECONDS
        ? Math.round(resets * 1000)
        : null,
    overageStatus: identifier(info.overageStatus),
  };
}

/** The rule's choice between two lines of one response: more output wins, the later one on a tie. */
export function supersedes(later: Usage, earlier: Usage): boolean {
  return later.output_tokens >= earlier.output_tokens;
}

/** Scans the complete lines of a chunk of transcript bytes. */
export function scanChunk(bytes: Uint8Array, inSubagentFile: boolean): ChunkScan {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const responses = new Map<string, ResponseUsage>();
  const limits: LimitHit[] = [];
  let skipped = 0;
  let start = 0;
  for (let end = buffer.indexOf(NEWLINE, start); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
    const line = buffer.subarray(start, end);
    start = end + 1;
    if (line.indexOf(USAGE_MARK) === -1) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(line));
    } catch {
      skipped++;
      continue;
    }
    const limit = limitFromLine(parsed, inSubagentFile);
    if (limit) limits.push(limit);
    for (const response of responsesFromLine(parsed, inSubagentFile)) {
      const seen = responses.get(response.key);
      if (!seen || supersedes(response.usage, seen.usage)) responses.set(response.key, response);
    }
  }
  return { responses, limits, consumed: start, skipped };
}

export function emptyUsage(): Usage {
  return {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cache_write_5m_tokens: 0,
    cache_write_1h_tokens: 0,
  };
}

export function addUsage(total: Usage, more: Usage): void {
  for (const field of USAGE_FIELDS) total[field] += more[field];
}
