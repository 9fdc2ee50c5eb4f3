// Seat-tier estimate from 5-hour windows. Pure: no I/O, no clock.
//
// Each eligible user's typical heavy window is the 75th percentile of their closed windows' billed
// tokens. Users sorted by it fall into tiers: a new tier begins where a user's value exceeds the
// previous user's by more than 1.8x.

import type { UsageWindow } from "./windows.ts";

export const MIN_WINDOWS_FOR_ESTIMATE = 3;
export const MEDIUM_CONFIDENCE_WINDOWS = 10;
// 1.8 as a fraction, so the boundary test stays exact on integers (1.8 has no exact binary form).
const TIER_STEP_NUMERATOR = 9;
const TIER_STEP_DENOMINATOR = 5;

export type TierConfidence = "low" | "medium" | "confirmed";

export interface UserWindows {
  /** Sort tie-break, so the same data always yields the same tiers. */
  email: string;
  /** The user's windows in the selected range; only closed ones with billed tokens > 0 count. */
  windows: readonly Pick<UsageWindow, "open" | "billedTokens">[];
  /** Limit events the user has in the selected range; any makes the estimate "confirmed". */
  limitEventsInRange: number;
}

export interface TierEstimate {
  email: string;
  /** 1 = lightest. */
  tier: number;
  /** "Tier 1", "Tier 2", ... */
  label: string;
  /** Nearest-rank 75th percentile of the counted windows' billed tokens. */
  p75BilledTokens: number;
  /** Closed windows with billed tokens > 0. */
  windowCount: number;
  confidence: TierConfidence;
}

/**
 * Nearest-rank percentile: sort ascending, take the value at 1-based rank ceil(percent/100 * n).
 * Always one of the inputs (no interpolation). Undefined for an empty list.
 */
export function nearestRankPercentile(values: readonly number[], percent: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[rank - 1];
}

/** A user's standing before tiers are drawn: their p75 window, how many windows, how sure. */
export type TypicalWindow = Omit<TierEstimate, "tier" | "label">;

/**
 * One user's typical heavy window, or null with fewer than 3 counted windows. Per user, so a
 * large organisation's job can take it a batch of users at a time.
 */
export function typicalWindow(user: UserWindows): TypicalWindow | null {
  const billed = user.windows.filter((w) => !w.open && w.billedTokens > 0).map((w) => w.billedTokens);
  const p75 = nearestRankPercentile(billed, 75);
  if (p75 === undefined || billed.length < MIN_WINDOWS_FOR_ESTIMATE) return null;
  return {
    email: user.email,
    p75BilledTokens: p75,
    windowCount: billed.length,
    confidence: confidenceFor(billed.length, user.limitEventsInRange),
  };
}

/**
 * Tiers across users, ordered by p75 then email (code-unit order, not locale, so it does not
 * depend on the runtime).
 */
export function assignTiers(typical: readonly TypicalWindow[]): TierEstimate[] {
  const eligible = [...typical].sort(
    (a, b) => a.p75BilledTokens - b.p75BilledTokens || (a.email < b.email ? -1 : a.email > b.email ? 1 : 0),
  );
  const estimates: TierEstimate[] = [];
  let tier = 1;
  let previous: number | undefined;
  for (const user of eligible) {
    const value = user.p75BilledTokens;
    // value > previous * 1.8, exactly: value * 5 > previous * 9.
    if (previous !== undefined && value * TIER_STEP_DENOMINATOR > previous * TIER_STEP_NUMERATOR) tier++;
    previous = value;
    estimates.push({ ...user, tier, label: `Tier ${tier}` });
  }
  return estimates;
}

/** Tier estimates for users with at least 3 counted windows; users with fewer are left out. */
export function estimateTiers(users: readonly UserWindows[]): TierEstimate[] {
  return assignTiers(users.map(typicalWindow).filter((t): t is TypicalWindow => t !== null));
}

function confidenceFor(windowCount: number, limitEvents: number): TierConfidence {
  if (limitEvents > 0) return "confirmed";
  return windowCount >= MEDIUM_CONFIDENCE_WINDOWS ? "medium" : "low";
}
