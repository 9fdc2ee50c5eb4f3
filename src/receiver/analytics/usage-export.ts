// Rows for GET /admin/api/usage.csv and .json: usage_daily in key order, one page at a time.
import type { Database } from "../db/database.ts";
import { usageCost } from "./cost.ts";
import type { PriceTable } from "./prices.ts";
import type { DayRange } from "./ranges.ts";

export interface UsageExportRow {
  day: string;
  email: string;
  /** The division of the user's newest refresh token that has one; null when none has. */
  division: string | null;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  requests: number;
  turns: number;
  /** At API list prices; null when the model has no price (never 0 for an unknown model). */
  cost_usd: number | null;
}

export const EXPORT_COLUMNS: readonly (keyof UsageExportRow)[] = [
  "day",
  "email",
  "division",
  "model",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "requests",
  "turns",
  "cost_usd",
];

type StoredRow = Omit<UsageExportRow, "division" | "cost_usd">;

export function createUsageExport(db: Database, prices: PriceTable) {
  // One row-value bound only, so each page starts right at its key in the day index.
  const exportPage = db.query<StoredRow, [string, string, string, string, number]>(
    `SELECT day, email, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
       cache_write_5m_tokens, cache_write_1h_tokens, requests, turns
     FROM usage_daily WHERE (day, email, model) > (?, ?, ?) AND day <= ?
     ORDER BY day, email, model LIMIT ?`,
  );
  // Later tokens win: ORDER BY id makes the newest division the one kept.
  const divisions = db.query<{ email: string; division: string }, []>(
    "SELECT email, division FROM refresh_tokens WHERE division IS NOT NULL AND division != '' ORDER BY id",
  );
  return {
    /** Rows of usage_daily in the range after the given key, in key order: for streamed exports. */
    exportPage(
      range: DayRange,
      after: { day: string; email: string; model: string },
      limit: number,
    ): UsageExportRow[] {
      // Before the range, start at its first day: ("", "") sorts before every email and model.
      const from = after.day < range.from ? { day: range.from, email: "", model: "" } : after;
      const rows = exportPage.all(from.day, from.email, from.model, range.to, limit);
      if (rows.length === 0) return [];
      const divisionOf = new Map(divisions.all().map((row) => [row.email, row.division]));
      return rows.map((row) => {
        const cost = usageCost(prices, {
          model: row.model,
          input: row.input_tokens,
          output: row.output_tokens,
          cacheRead: row.cache_read_tokens,
          cacheWrite: row.cache_write_tokens,
          cacheWrite5m: row.cache_write_5m_tokens,
          cacheWrite1h: row.cache_write_1h_tokens,
        });
        const { day, email, ...counts } = row;
        return {
          day,
          email,
          division: divisionOf.get(email) ?? null,
          ...counts,
          cost_usd: cost === null ? null : Math.round(cost * 1e6) / 1e6,
        };
      });
    },
  };
}
