// Token sums the dashboard's queries share. Pure: no I/O.
import { fromSqlTime } from "../../protocol/index.ts";
import type { ActivityPoint } from "./windows.ts";

export interface TokenTotals {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface DayUsage extends TokenTotals {
  day: string;
}

/** The four token sums as `input, output, cacheRead, cacheWrite`, for rollup queries. */
export const SUMS = `sum(input_tokens) AS input, sum(output_tokens) AS output,
  sum(cache_read_tokens) AS cacheRead, sum(cache_write_tokens) AS cacheWrite`;

/** The cache-write split by lifetime, for pricing: `cacheWrite5m, cacheWrite1h`. */
export const CACHE_SPLIT_SUMS = `sum(cache_write_5m_tokens) AS cacheWrite5m, sum(cache_write_1h_tokens) AS cacheWrite1h`;

/** Four zero counts, to add into. */
export function noTokens(): TokenTotals {
  return { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
}
/**
 * A user's latest turn (`at`), to the second, from the newest hour row: one index lookup.
 * Hours written before the column existed fall back to the hour.
 */
export const LAST_ACTIVE = `SELECT coalesce(last_event_at, hour) AS at FROM usage_hourly WHERE email = ?
  ORDER BY hour DESC LIMIT 1`;

/** Adds `row`'s four token counts into `into`. */
export function addTokens(into: TokenTotals, row: TokenTotals): void {
  into.input += row.input;
  into.output += row.output;
  into.cacheRead += row.cacheRead;
  into.cacheWrite += row.cacheWrite;
}

/** One user-hour of usage_hourly. */
export interface HourRow extends TokenTotals {
  hour: string;
  turns: number;
}

export const HOUR_COLUMNS = `hour, input_tokens AS input, output_tokens AS output, cache_read_tokens AS cacheRead,
  cache_write_tokens AS cacheWrite, turns`;

export function hourPoint(row: HourRow): ActivityPoint {
  return {
    at: fromSqlTime(row.hour),
    input: row.input,
    output: row.output,
    cacheRead: row.cacheRead,
    cacheWrite: row.cacheWrite,
    turns: row.turns,
  };
}
