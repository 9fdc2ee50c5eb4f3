// GET /admin/api/people.csv and .json: one row per person over a range, for scripts: division,
// tokens, cost, limit hits by type, 5-hour and 7-day window figures, tier and the seat
// recommendation with its reason. Pure: the overview's people in, rows out.
import type { PersonUsage } from "../analytics/overview.ts";
import type { SeatAdvice } from "../analytics/seats.ts";
import { csvCell, type ExportFormat } from "./export.ts";

export interface PersonExportRow {
  email: string;
  division: string | null;
  billed_tokens: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  /** The priced part at API list prices; null when nothing had a price. */
  cost_usd: number | null;
  /** Models with usage but no price, `;`-separated; their tokens are not in cost_usd. */
  unpriced_models: string;
  active_days: number;
  limit_hits: number;
  limit_hits_5h: number;
  limit_hits_weekly: number;
  limit_hits_weekly_opus: number;
  limit_hits_weekly_sonnet: number;
  limit_hits_type_not_reported: number;
  limit_days: number;
  last_limit_at: string | null;
  peak_5h_billed_tokens: number | null;
  peak_7d_billed_tokens: number | null;
  limit_window_billed_tokens: number | null;
  windows_with_limit: number | null;
  anchored_windows: number | null;
  tier: number | null;
  tier_confidence: string | null;
  recommendation: string | null;
  reason: string | null;
}

export const PERSON_COLUMNS: readonly (keyof PersonExportRow)[] = [
  "email",
  "division",
  "billed_tokens",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cost_usd",
  "unpriced_models",
  "active_days",
  "limit_hits",
  "limit_hits_5h",
  "limit_hits_weekly",
  "limit_hits_weekly_opus",
  "limit_hits_weekly_sonnet",
  "limit_hits_type_not_reported",
  "limit_days",
  "last_limit_at",
  "peak_5h_billed_tokens",
  "peak_7d_billed_tokens",
  "limit_window_billed_tokens",
  "windows_with_limit",
  "anchored_windows",
  "tier",
  "tier_confidence",
  "recommendation",
  "reason",
];

/** The rows, ranked as the dashboard ranks people: by billed tokens, then email. */
export function personRows(people: readonly PersonUsage[], advice: readonly SeatAdvice[]): PersonExportRow[] {
  const adviceOf = new Map(advice.map((a) => [a.email, a]));
  return [...people]
    .sort((a, b) => b.input + b.output - (a.input + a.output) || (a.email < b.email ? -1 : 1))
    .map((p) => {
      const w = p.windows;
      const a = adviceOf.get(p.email);
      return {
        email: p.email,
        division: p.division,
        billed_tokens: p.input + p.output,
        input_tokens: p.input,
        output_tokens: p.output,
        cache_read_tokens: p.cacheRead,
        cache_write_tokens: p.cacheWrite,
        cost_usd: p.cost.priced ? Math.round(p.cost.usd * 1e6) / 1e6 : null,
        unpriced_models: p.cost.unpricedModels.join(";"),
        active_days: p.activeDays,
        limit_hits: p.limits.total,
        limit_hits_5h: p.limits.byType.five_hour,
        limit_hits_weekly: p.limits.byType.seven_day,
        limit_hits_weekly_opus: p.limits.byType.seven_day_opus,
        limit_hits_weekly_sonnet: p.limits.byType.seven_day_sonnet,
        limit_hits_type_not_reported: p.limits.byType.other,
        limit_days: p.limits.days,
        last_limit_at: p.limits.last,
        peak_5h_billed_tokens: w?.peakBilledTokens ?? null,
        peak_7d_billed_tokens: w?.peakWeekBilledTokens ?? null,
        limit_window_billed_tokens: w?.limitBilledTokens ?? null,
        windows_with_limit: w?.limitWindows ?? null,
        anchored_windows: w?.anchoredWindows ?? null,
        tier: w?.tier ?? null,
        tier_confidence: w?.confidence ?? null,
        recommendation: a?.kind ?? null,
        reason: a?.reason ?? null,
      };
    });
}

/** The whole export as text: a CSV with a header line, or a JSON array of objects. */
export function personExport(format: ExportFormat, rows: readonly PersonExportRow[]): string {
  if (format === "json") return `[${rows.map((row) => `\n${JSON.stringify(row)}`).join(",")}\n]\n`;
  return `${PERSON_COLUMNS.join(",")}\r\n${rows
    .map((row) => `${PERSON_COLUMNS.map((column) => csvCell(row[column])).join(",")}\r\n`)
    .join("")}`;
}
