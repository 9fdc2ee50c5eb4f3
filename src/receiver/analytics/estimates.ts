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

// Read straight into WindowFigures' names: 20,000 rows a view, no second object per row.
const FIGURES = `window_count AS windowCount, peak_billed_tokens AS peakBilledTokens,
  average_billed_tokens AS averageBilledTokens, limit_windows AS limitWindows,
  p75_billed_tokens AS p75BilledTokens, counted_windows AS countedWindows, tier, confidence,
  computed_at AS computedAt, limit_billed_tokens AS limitBilledTokens,
  anchored_windows AS anchoredWindows, peak_week_billed_tokens AS peakWeekBilledTokens`;

export function createEstimateReader(db: Database) {
  const estimatesFor = db.query<WindowFigures & { email: string }, [string]>(
    `SELECT email, ${FIGURES} FROM tier_estimates WHERE range_key = ?`,
  );
  const estimateOf = db.query<WindowFigures, [string, string]>(
    `SELECT ${FIGURES} FROM tier_estimates WHERE range_key = ? AND email = ?`,
  );
  return {
    /** Every user's stored figures for one range. */
    forRange(range: RangeKey): Map<string, WindowFigures> {
      return new Map(estimatesFor.all(range).map((row) => [row.email, row]));
    },
    of(range: RangeKey, email: string): WindowFigures | null {
      return estimateOf.get(range, email);
    },
  };
}
