// Each user and model's totals over any range of days: their totals through its last day less
// their totals through the day before its first. Totals through a day come from the running totals
// (usage_cumulative: two index lookups per pair), and a copy is kept in memory for as long as no
// day up to it has changed (usage_day_writes, migration 14). Reports arrive for today, so the
// copies for a range's start (and a past range's end) stay right; each view of a range after the
// first is then one scan of user_models.
import type { Database } from "../db/database.ts";
import type { PricedUsage } from "./cost.ts";
import { type DayRange, dayBefore, dayOf } from "./ranges.ts";

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

const COUNTS = [
  "input",
  "output",
  "cacheRead",
  "cacheWrite",
  "cacheWrite5m",
  "cacheWrite1h",
  "turns",
  "activeDays",
] as const;

/**
 * Every pair's totals through a day, packed: numbers in one array, names shared between copies
 * (measured: 1.3 MiB a copy at 6,000 pairs, against 2.1 MiB as row objects).
 */
interface TotalsCopy {
  /** usage_day_writes summed through the day when the copy was read. */
  writes: number;
  /** Each pair's row number, by pairKey. */
  rowOf: Map<string, number>;
  emails: string[];
  models: string[];
  counts: Float64Array;
}

function countsAt(copy: TotalsCopy, row: number, field: number): number {
  return copy.counts[row * COUNTS.length + field]!;
}

/** `end` less the copy's row (when the pair has one). */
function minus(end: PairRow, start: TotalsCopy, row: number | undefined): PairRow {
  if (row === undefined) return end;
  const less = (field: number) => countsAt(start, row, field);
  return {
    email: end.email,
    model: end.model,
    input: end.input - less(0),
    output: end.output - less(1),
    cacheRead: end.cacheRead - less(2),
    cacheWrite: end.cacheWrite - less(3),
    cacheWrite5m: end.cacheWrite5m - less(4),
    cacheWrite1h: end.cacheWrite1h - less(5),
    turns: end.turns - less(6),
    activeDays: end.activeDays - less(7),
  };
}

function rowAt(copy: TotalsCopy, row: number): PairRow {
  const at = (field: number) => countsAt(copy, row, field);
  return {
    email: copy.emails[row]!,
    model: copy.models[row]!,
    input: at(0),
    output: at(1),
    cacheRead: at(2),
    cacheWrite: at(3),
    cacheWrite5m: at(4),
    cacheWrite1h: at(5),
    turns: at(6),
    activeDays: at(7),
  };
}

const EMPTY: TotalsCopy = { writes: 0, rowOf: new Map(), emails: [], models: [], counts: new Float64Array() };

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
  const kept = new Map<string, TotalsCopy>();
  const names = new Map<string, string>();
  const shared = (text: string) => {
    const known = names.get(text);
    if (known !== undefined) return known;
    names.set(text, text);
    return text;
  };

  /** Every pair's totals through the end of `day`. */
  function totalsThrough(day: string): TotalsCopy {
    // Read before the totals: a write in between makes the copy look older than it is, never newer.
    const writes = writesThrough.get(day)?.writes ?? 0;
    const found = kept.get(day);
    kept.delete(day);
    if (found && found.writes === writes) {
      kept.set(day, found);
      return found;
    }
    const rows = throughDay.all(day);
    const copy: TotalsCopy = {
      writes,
      rowOf: new Map(),
      emails: [],
      models: [],
      counts: new Float64Array(rows.length * COUNTS.length),
    };
    rows.forEach((row, i) => {
      copy.rowOf.set(shared(pairKey(row)), i);
      copy.emails.push(shared(row.email));
      copy.models.push(shared(row.model));
      COUNTS.forEach((field, k) => {
        copy.counts[i * COUNTS.length + k] = row[field];
      });
    });
    // Today's writes are not counted (migration 14), so a copy is kept of past days only.
    if (day < dayOf(Date.now())) kept.set(day, copy);
    for (const old of kept.keys()) if (kept.size > KEPT_DAYS) kept.delete(old);
    return copy;
  }

  return {
    /** Each pair's totals over the range, for every pair that may have usage in it. */
    pairTotals(range: DayRange, today: string): PairRow[] {
      const before = dayBefore(range.from);
      // All time starts before any day there can be (dayBefore keeps it where it is): nothing to subtract.
      const start = before === range.from ? EMPTY : totalsThrough(before);
      const through = range.to >= today ? null : totalsThrough(range.to);
      const ends = through ? through.emails.map((_, row) => rowAt(through, row)) : sinceDay.all(before);
      // Nothing before the range (all time, or data that starts inside it): the ends are the totals.
      if (start.rowOf.size === 0) return ends;
      return ends.map((end) => minus(end, start, start.rowOf.get(pairKey(end))));
    },
  };
}
