// The dashboard's date ranges. Pure. Ranges are whole UTC days, because the daily rollups are.

export const RANGE_KEYS = ["7", "30", "90", "all"] as const;
export type RangeKey = (typeof RANGE_KEYS)[number];
export const DEFAULT_RANGE: RangeKey = "30";

const DAY_MS = 86_400_000;
/** Before any day the receiver can hold, so "all" is the same `day >= ?` query. */
const BEGINNING = "0000-01-01";

export function isRangeKey(text: string): text is RangeKey {
  return (RANGE_KEYS as readonly string[]).includes(text);
}

export function rangeLabel(key: RangeKey): string {
  return key === "all" ? "all time" : `the last ${key} days`;
}

export function rangeShortLabel(key: RangeKey): string {
  return key === "all" ? "All time" : `${key} days`;
}

/** First UTC day in the range (`YYYY-MM-DD`): the last N days end today, today included. */
export function rangeStartDay(key: RangeKey, now: number): string {
  if (key === "all") return BEGINNING;
  const start = Math.floor(now / DAY_MS) * DAY_MS - (Number(key) - 1) * DAY_MS;
  return new Date(start).toISOString().slice(0, 10);
}

/** The range's start in ms since the epoch (0 for all time). */
export function rangeStartMs(key: RangeKey, now: number): number {
  return key === "all" ? 0 : Date.parse(`${rangeStartDay(key, now)}T00:00:00Z`);
}

/** Every UTC day from `startDay` to the day of `now`, for charts with no gaps. */
export function daysBetween(startDay: string, now: number): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${startDay}T00:00:00Z`); t <= now; t += DAY_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** The most columns a chart over time draws, whatever the range spans. */
export const MAX_CHART_COLUMNS = 120;

export type BucketUnit = "day" | "week" | "month" | "year";

export interface ChartBuckets {
  unit: BucketUnit;
  /** Units per column: more than 1 only for years. */
  step: number;
  /** Each column's first UTC day (`YYYY-MM-DD`), oldest first; the last one holds today. */
  starts: string[];
}

const WEEK_MS = 7 * DAY_MS;

/** `YYYY-MM-DD` of an instant, for years 0 to 9999. */
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight UTC on the first of a month; setUTCFullYear, since Date.UTC reads years 0–99 as 1900s. */
function monthStart(year: number, month: number): number {
  return new Date(0).setUTCFullYear(year, month, 1);
}

/**
 * Columns from `firstDay` through today: one a day while that is at most `max` columns, else one
 * an ISO week (from Monday), a month, or a run of whole years, whichever first fits in `max`.
 * The work is in columns, never in days, so a report dated year 0 costs no more than one today.
 */
export function chartBuckets(firstDay: string, now: number, max = MAX_CHART_COLUMNS): ChartBuckets {
  const first = Date.parse(`${firstDay}T00:00:00Z`);
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const steps = (from: number, every: number) => {
    const starts: string[] = [];
    for (let t = from; t <= today; t += every) starts.push(dayOf(t));
    return starts;
  };
  if ((today - first) / DAY_MS < max) return { unit: "day", step: 1, starts: steps(first, DAY_MS) };
  const monday = first - ((new Date(first).getUTCDay() + 6) % 7) * DAY_MS;
  if ((today - monday) / WEEK_MS < max) return { unit: "week", step: 1, starts: steps(monday, WEEK_MS) };
  const from = new Date(first);
  const to = new Date(today);
  const [y1, m1, y2] = [from.getUTCFullYear(), from.getUTCMonth(), to.getUTCFullYear()];
  const months = (y2 - y1) * 12 + to.getUTCMonth() - m1 + 1;
  if (months <= max) {
    return {
      unit: "month",
      step: 1,
      starts: Array.from({ length: months }, (_, i) => dayOf(monthStart(y1, m1 + i))),
    };
  }
  const step = Math.ceil((y2 - y1 + 1) / max);
  const starts: string[] = [];
  for (let year = y1; year <= y2; year += step) starts.push(dayOf(monthStart(year, 0)));
  return { unit: "year", step, starts };
}
