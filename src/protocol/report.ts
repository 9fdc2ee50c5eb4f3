// The /report and /limit-event bodies (docs/protocol.md §3, §4): types, limits and validation.
import { parseRfc3339 } from "./time.ts";

// Hand-written rather than a schema library so the reporter binary carries no server framework.

export const MAX_MODELS = 20;
/** v2 `hours`: the UTC hours one report's calls may spread over (a longer turn takes more reports). */
export const MAX_HOURS = 24;
export const MAX_TOKENS = 10_000_000_000;
export const MAX_SESSION_ID = 64;
export const MAX_MODEL_NAME = 128;
export const MAX_VERSION = 64;
export const MAX_DEVICE_ID = 255;

export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

export interface ModelUsage extends TokenCounts {
  /** v2: the split of cache_write_tokens by cache lifetime. */
  cache_write_5m_tokens?: number;
  cache_write_1h_tokens?: number;
  /** v2: how many API responses this usage came from. */
  requests?: number;
  /** v2: the part of this usage that came from sub-agents and compaction. */
  subagent?: TokenCounts;
  /**
   * v2: how the four counts spread over the UTC hours of the calls (`2026-05-11T03:00:00Z` → counts),
   * adding up to them exactly. Absent: all of it in the hour of `timestamp_utc`.
   */
  hours?: Record<string, TokenCounts>;
}

export interface Report {
  schema_version: 1 | 2;
  session_id: string;
  user_email?: string;
  turn_index: number;
  timestamp_utc: string;
  session_start_utc?: string;
  models: Record<string, ModelUsage>;
  plugin_version?: string;
  claude_code_version?: string;
}

export interface LimitEvent {
  schema_version: 2;
  session_id: string;
  timestamp_utc: string;
  kind: string;
  resets_at?: string;
  /** v2.1: which limit refused the turn (Claude Code's rateLimitType: five_hour, seven_day, …). */
  limit_type?: string;
  /** v2.1: whether usage credits could carry on past the limit (allowed, allowed_warning, rejected). */
  overage_status?: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

class Invalid extends Error {}

function fail(message: string): never {
  throw new Invalid(message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function count(value: unknown, name: string, max = MAX_TOKENS): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    fail(`${name} must be a whole number from 0 to ${max}`);
  }
  return value;
}

function text(value: unknown, name: string, min: number, max: number): string {
  if (typeof value !== "string" || value.length < min || value.length > max) {
    fail(`${name} must be a string of ${min} to ${max} characters`);
  }
  return value;
}

function optionalText(value: unknown, name: string, max: number): string | undefined {
  return value === undefined || value === null ? undefined : text(value, name, 0, max);
}

export const TOKEN_FIELDS = [
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
] as const satisfies readonly (keyof TokenCounts)[];

function tokenCounts(value: unknown, name: string): TokenCounts {
  if (!isObject(value)) fail(`${name} must be an object of token counts`);
  return {
    input_tokens: count(value.input_tokens, `${name}.input_tokens`),
    output_tokens: count(value.output_tokens, `${name}.output_tokens`),
    cache_read_tokens: count(value.cache_read_tokens, `${name}.cache_read_tokens`),
    cache_write_tokens: count(value.cache_write_tokens, `${name}.cache_write_tokens`),
  };
}

function modelUsage(value: unknown, name: string, v2: boolean): ModelUsage {
  const usage: ModelUsage = tokenCounts(value, name);
  if (!v2 || !isObject(value)) return usage;
  // v2 extras are optional: a v2 reporter may not know every split.
  for (const key of ["cache_write_5m_tokens", "cache_write_1h_tokens", "requests"] as const) {
    if (value[key] !== undefined && value[key] !== null) usage[key] = count(value[key], `${name}.${key}`);
  }
  if (value.subagent !== undefined && value.subagent !== null) {
    usage.subagent = tokenCounts(value.subagent, `${name}.subagent`);
  }
  if (value.hours !== undefined && value.hours !== null) usage.hours = hourSplit(value.hours, name, usage);
  return usage;
}

const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/;

function hourSplit(value: unknown, name: string, total: TokenCounts): Record<string, TokenCounts> {
  if (!isObject(value)) fail(`${name}.hours must be an object of UTC hour to token counts`);
  const hours = Object.keys(value);
  if (hours.length < 1 || hours.length > MAX_HOURS) fail(`${name}.hours must name 1 to ${MAX_HOURS} hours`);
  const split: Record<string, TokenCounts> = {};
  const sum: TokenCounts = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
  for (const hour of hours) {
    if (!HOUR.test(hour) || parseRfc3339(hour) === null)
      fail(`${name}.hours keys must be whole UTC hours such as 2026-05-11T03:00:00Z`);
    const counts = tokenCounts(value[hour], `${name}.hours["${hour}"]`);
    for (const field of TOKEN_FIELDS) sum[field] += counts[field];
    split[hour] = counts;
  }
  for (const field of TOKEN_FIELDS) {
    if (sum[field] !== total[field]) fail(`${name}.hours must add up to the model's ${field}`);
  }
  return split;
}

function run<T>(body: unknown, read: (body: Record<string, unknown>) => T): Validated<T> {
  try {
    if (!isObject(body)) fail("the body must be a JSON object");
    return { ok: true, value: read(body) };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, message: error.message };
    throw error;
  }
}

function sessionId(value: unknown): string {
  return text(value, "session_id", 1, MAX_SESSION_ID);
}

export function validateReport(body: unknown): Validated<Report> {
  return run(body, (b) => {
    const version = b.schema_version;
    if (version !== 1 && version !== 2) fail("schema_version must be 1 or 2");
    if (!isObject(b.models)) fail("models must be an object of model name to token counts");
    const names = Object.keys(b.models);
    if (names.length > MAX_MODELS) fail(`models may name at most ${MAX_MODELS} models`);
    const models: Record<string, ModelUsage> = {};
    for (const name of names) {
      text(name, "a model name", 1, MAX_MODEL_NAME);
      models[name] = modelUsage(b.models[name], `models["${name.slice(0, 40)}"]`, version === 2);
    }
    const report: Report = {
      schema_version: version,
      session_id: sessionId(b.session_id),
      turn_index: count(b.turn_index, "turn_index", Number.MAX_SAFE_INTEGER),
      timestamp_utc: optionalText(b.timestamp_utc, "timestamp_utc", MAX_VERSION) ?? "",
      models,
    };
    const email = optionalText(b.user_email, "user_email", 320);
    if (email !== undefined) report.user_email = email;
    const start = optionalText(b.session_start_utc, "session_start_utc", MAX_VERSION);
    if (start !== undefined) report.session_start_utc = start;
    const plugin = optionalText(b.plugin_version, "plugin_version", MAX_VERSION);
    if (plugin !== undefined) report.plugin_version = plugin;
    if (version === 2) {
      const cc = optionalText(b.claude_code_version, "claude_code_version", MAX_VERSION);
      if (cc !== undefined) report.claude_code_version = cc;
    }
    return report;
  });
}

const KIND = /^[a-z][a-z0-9_]{0,31}$/;

export function validateLimitEvent(body: unknown): Validated<LimitEvent> {
  return run(body, (b) => {
    if (b.schema_version !== 2) fail("schema_version must be 2 for a limit event");
    const timestamp = text(b.timestamp_utc, "timestamp_utc", 1, MAX_VERSION);
    if (parseRfc3339(timestamp) === null) fail("timestamp_utc must be an RFC 3339 instant");
    if (typeof b.kind !== "string" || !KIND.test(b.kind))
      fail("kind must be a short lower-case word such as rate_limit");
    const event: LimitEvent = {
      schema_version: 2,
      session_id: sessionId(b.session_id),
      timestamp_utc: timestamp,
      kind: b.kind,
    };
    const resets = optionalText(b.resets_at, "resets_at", MAX_VERSION);
    if (resets !== undefined && resets !== "") {
      if (parseRfc3339(resets) === null) fail("resets_at must be an RFC 3339 instant");
      event.resets_at = resets;
    }
    for (const key of ["limit_type", "overage_status"] as const) {
      const value = b[key];
      if (value === undefined || value === null || value === "") continue;
      if (typeof value !== "string" || !KIND.test(value))
        fail(`${key} must be a short lower-case word such as five_hour`);
      event[key] = value;
    }
    return event;
  });
}
