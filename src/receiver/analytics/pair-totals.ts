// Each user and model's totals over any range of days: their totals through its last day less
// their totals through the day before its first. Totals through a day come from the running totals
// (usage_cumulative: two index lookups per pair), and a copy is kept in memory for as long as no
// day up to it has changed (usage_day_writes, migration 14). Reports arrive for today, so the
// copies for a range's start (and a past range's end) stay right; each view of a range after the
// first is then one scan of user_models.
import type { Database } from "../db/database.ts";
import type { PricedUsage } from "./cost.ts";
import { type DayRange, dayBefore } from "./ranges.ts";

export type PairRow = PricedUsage & { email: string; turns: number; activeDays: number };

/**
 * Copies of totals through a day kept at most: a view needs its range's start and end and the
 * start of the period before, so this covers switching between two or three ranges.
 */
const KEPT_DAYS = 6;

const COLUMNS = (table: string) => `${table}.email, ${table}.model, ${table}.input_tokens AS input,
  ${table}.output_tokens AS output, ${table}.cache_read_tokens AS cacheRead,
  ${table}.cache_write_tokens AS cacheWrite, ${table}.cache_write_5m_tokens AS cacheWrite5m,
  ${table}.cache_write_1h_tokens AS cacheWrite1h, ${table}.turns, ${table}.active_days AS activeDays`;

function pairKey(row: { email: string; model: string }): string {
  return `${row.email}\u0000${row.model}`;
}

function minus(end: PairRow, start: PairRow | undefined): PairRow {
  if (!start) return end;
  return {
    email: end.email,
    model: end.model,
    input: end.input - start.input,
    output: end.output - start.output,
    cacheRead: end.cacheRead - start.cacheRead,
    cacheWrite: end.cacheWrite - start.cacheWrite,
    cacheWrite5m: end.cacheWrite5m - start.cacheWrite5m,
    cacheWrite1h: end.cacheWrite1h - start.cacheWrite1h,
    turns: end.turns - start.turns,
    activeDays: end.activeDays - start.activeDays,
  };
}

export function createPairTotals(db: Database) {
  // All time, for pairs with a day after ?1: a range that ends today ends at these.
  const sinceDay = db.query<PairRow, [string]>(
    `SELECT ${COLUMNS("p")} FROM user_models p WHERE p.last_day > ?`,
  );
  // A pair whose last day is on or before ?1 ends at its own totals; the others need the lookup.
  const throughDay = db.query<PairRow, [string]>(
    `SELECT ${COLUMNS("p")} FROM user_models p WHERE p.last_day <= ?1
     UNION ALL
     SELECT ${COLUMNS("c")} FROM user_models p JOIN usage_cumulative c ON c.email = p.email AND c.model = p.model
       AND c.day = (SELECT max(day) FROM usage_cumulative WHERE email = p.email AND model = p.model AND day <= ?1)
     WHERE p.first_day <= ?1 AND p.last_day > ?1`,
  );
  const writesThrough = db.query<{ writes: number }, [string]>(
    "SELECT total(writes) AS writes FROM usage_day_writes WHERE day <= ?",
  );
  const kept = new Map<string, { writes: number; totals: Map<string, PairRow> }>();

  /** Every pair's totals through the end of `day`, by pairKey. */
  function totalsThrough(day: string): Map<string, PairRow> {
    // Read before the totals: a write in between makes the copy look older than it is, never newer.
    const writes = writesThrough.get(day)?.writes ?? 0;
    const copy = kept.get(day);
    kept.delete(day);
    if (copy && copy.writes === writes) {
      kept.set(day, copy);
      return copy.totals;
    }
    const totals = new Map(throughDay.all(day).map((row) => [pairKey(row), row]));
    kept.set(day, { writes, totals });
    for (const old of kept.keys()) if (kept.size > KEPT_DAYS) kept.delete(old);
    return totals;
  }

  return {
    /** Each pair's totals over the range, for every pair that may have usage in it. */
    pairTotals(range: DayRange, today: string): PairRow[] {
      const before = dayBefore(range.from);
      // All time starts before any day there can be (dayBefore keeps it where it is): nothing to subtract.
      const start = before === range.from ? new Map<string, PairRow>() : totalsThrough(before);
      const ends = range.to >= today ? sinceDay.all(before) : totalsThrough(range.to).values();
      const pairs: PairRow[] = [];
      for (const end of ends) pairs.push(minus(end, start.get(pairKey(end))));
      return pairs;
    },
  };
}
