// Rows for GET /admin/api/usage.csv and .json: usage_daily in key order, one page at a time.
import type { Database } from "../db/database.ts";
import { type RangeKey, rangeStartDay } from "./ranges.ts";

export interface UsageExportRow {
  day: string;
  email: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  requests: number;
  turns: number;
}

export const EXPORT_COLUMNS: readonly (keyof UsageExportRow)[] = [
  "day",
  "email",
  "model",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "requests",
  "turns",
];

export function createUsageExport(db: Database) {
  // One row-value bound only, so each page starts right at its key in the day index.
  const exportPage = db.query<UsageExportRow, [string, string, string, number]>(
    `SELECT day, email, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
       cache_write_5m_tokens, cache_write_1h_tokens, requests, turns
     FROM usage_daily WHERE (day, email, model) > (?, ?, ?)
     ORDER BY day, email, model LIMIT ?`,
  );
  return {
    /** Rows of usage_daily in the range after the given key, in key order: for streamed exports. */
    exportPage(
      range: RangeKey,
      now: number,
      after: { day: string; email: string; model: string },
      limit: number,
    ): UsageExportRow[] {
      const startDay = rangeStartDay(range, now);
      // Before the range, start at its first day: ("", "") sorts before every email and model.
      const from = after.day < startDay ? { day: startDay, email: "", model: "" } : after;
      return exportPage.all(from.day, from.email, from.model, limit);
    },
  };
}
