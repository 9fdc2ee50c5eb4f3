// Usage priced at API list prices, as a comparison figure. Pure: rows in, dollars out.
//
// Cache writes a reporter did not split by lifetime (protocol v1) are priced at the 5-minute
// rate, Claude Code's default. A model missing from the price table is never priced at $0: its
// tokens are counted as unpriced, and a figure made only of them is shown as "unpriced".
import { type PriceTable, priceOf } from "./prices.ts";

/** One model's token counts (a rollup row or a sum of them). */
export interface PricedUsage {
  model: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
}

export interface Cost {
  /** Dollars for the priced part; 0 when nothing was priced. */
  usd: number;
  /** Whether any usage at all had a price. */
  priced: boolean;
  /**
   * Models with tokens but no price, in name order: the first UNPRICED_NAMES_LISTED, and one
   * more when there are others, so that summing a flood of model names stays cheap.
   */
  unpricedModels: string[];
}

export const NO_COST: Cost = { usd: 0, priced: false, unpricedModels: [] };

export const UNPRICED_NAMES_LISTED = 10;

function firstNames(names: Iterable<string>): string[] {
  return [...new Set(names)].sort().slice(0, UNPRICED_NAMES_LISTED + 1);
}

/** `firstNames` of both lists; when `kept` is full, a name sorting after its last cannot enter. */
function mergeNames(kept: string[], more: string[]): string[] {
  if (more.length === 0) return kept;
  const last = kept[UNPRICED_NAMES_LISTED];
  if (last !== undefined && more.every((name) => name >= last)) return kept;
  return firstNames([...kept, ...more]);
}

const PER_MILLION = 1_000_000;

/** Dollars for one model's usage, or null when the table has no price for the model. */
export function usageCost(table: PriceTable, usage: PricedUsage): number | null {
  const price = priceOf(table, usage.model);
  if (!price) return null;
  const split = Math.min(usage.cacheWrite, usage.cacheWrite5m + usage.cacheWrite1h);
  const unsplit = usage.cacheWrite - split;
  const dollars =
    usage.input * price.input +
    usage.output * price.output +
    usage.cacheRead * price.cacheRead +
    (usage.cacheWrite5m + unsplit) * price.cacheWrite5m +
    usage.cacheWrite1h * price.cacheWrite1h;
  return dollars / PER_MILLION;
}

/** The cost of several models' usage together. */
export function totalCost(table: PriceTable, usages: Iterable<PricedUsage>): Cost {
  let usd = 0;
  let priced = false;
  const unpriced = new Set<string>();
  for (const usage of usages) {
    const dollars = usageCost(table, usage);
    if (dollars === null) {
      if (usage.input + usage.output + usage.cacheRead + usage.cacheWrite > 0) unpriced.add(usage.model);
    } else {
      usd += dollars;
      priced = true;
    }
  }
  return { usd, priced, unpricedModels: unpriced.size === 0 ? [] : firstNames(unpriced) };
}

/** Adds `more` into `into`. */
export function addCost(into: Cost, more: Cost): Cost {
  return {
    usd: into.usd + more.usd,
    priced: into.priced || more.priced,
    unpricedModels: mergeNames(into.unpricedModels, more.unpricedModels),
  };
}
