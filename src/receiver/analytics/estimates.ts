// The stored 5-hour window figures and tier estimates (table tier_estimates): read by the
// overview and user pages, written by the background job (recompute.ts).
import type { Database } from "../db/database.ts";
import type { RangeKey } from "./ranges.ts";
import type { TierConfidence } from "./tiers.ts";

export interface WindowFigures {
  windowCount: number;
  peakBilledTokens: number;
  averageBilledTokens: number;
  limitWindows: number;
  p75BilledTokens: number | null;
  countedWindows: number;
  tier: number | null;
  confidence: TierConfidence | null;
  computedAt: string;
  /** Median billed tokens of the user's windows that held a limit event; null without one. */
  limitBilledTokens: number | null;
  /** Windows anchored on a confirmed limit's reset time (resets_at − 5 h) rather than inferred. */
  anchoredWindows: number;
  /** Largest billed total over any 7 days in a row. */
  peakWeekBilledTokens: number;
}

interface EstimateRow {
  email: string;
  window_count: number;
  peak_billed_tokens: number;
  average_billed_tokens: number;
  limit_windows: number;
  p75_billed_tokens: number | null;
  counted_windows: number;
  tier: number | null;
  confidence: TierConfidence | null;
  computed_at: string;
  limit_billed_tokens: number | null;
  anchored_windows: number;
  peak_week_billed_tokens: number;
}

function figures(row: EstimateRow): WindowFigures {
  return {
    windowCount: row.window_count,
    peakBilledTokens: row.peak_billed_tokens,
    averageBilledTokens: row.average_billed_tokens,
    limitWindows: row.limit_windows,
    p75BilledTokens: row.p75_billed_tokens,
    countedWindows: row.counted_windows,
    tier: row.tier,
    confidence: row.confidence,
    computedAt: row.computed_at,
    limitBilledTokens: row.limit_billed_tokens,
    anchoredWindows: row.anchored_windows,
    peakWeekBilledTokens: row.peak_week_billed_tokens,
  };
}

export function createEstimateReader(db: Database) {
  const estimatesFor = db.query<EstimateRow, [string]>("SELECT * FROM tier_estimates WHERE range_key = ?");
  const estimateOf = db.query<EstimateRow, [string, string]>(
    "SELECT * FROM tier_estimates WHERE range_key = ? AND email = ?",
  );
  const lastComputed = db.query<{ at: string | null }, []>(
    "SELECT max(computed_at) AS at FROM tier_estimates",
  );
  return {
    /** Every user's stored figures for one range. */
    forRange(range: RangeKey): Map<string, WindowFigures> {
      return new Map(estimatesFor.all(range).map((row) => [row.email, figures(row)]));
    },
    of(range: RangeKey, email: string): WindowFigures | null {
      const row = estimateOf.get(range, email);
      return row ? figures(row) : null;
    },
    /** When the stored figures were computed; null before the first run. */
    computedAt(): string | null {
      return lastComputed.get()?.at ?? null;
    },
  };
}
