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
export function dayOf(ms: number): string {
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

/** A span of whole UTC days the overview shows: one of the fixed ranges, or custom from/to dates. */
export interface DayRange {
  key: RangeKey | "custom";
  /** First day, inclusive (`0000-01-01` for all time). */
  from: string;
  /** Last day, inclusive. */
  to: string;
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
/** The longest custom range: ten years of days. */
export const MAX_CUSTOM_DAYS = 3660;

function addDays(day: string, days: number): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS);
}

export function isDay(text: string): boolean {
  return DAY_PATTERN.test(text) && dayOf(Date.parse(`${text}T00:00:00Z`) || 0) === text;
}

export function fixedRange(key: RangeKey, now: number): DayRange {
  return { key, from: rangeStartDay(key, now), to: dayOf(now) };
}

/** Custom from/to dates (YYYY-MM-DD, both included), or a message saying what to change. */
export function customRange(from: string, to: string): DayRange | { problem: string } {
  const shown = (text: string) => text.slice(0, 20);
  if (!isDay(from))
    return { problem: `from=${shown(from)} is not a date; use YYYY-MM-DD, such as 2026-11-01.` };
  if (!isDay(to)) return { problem: `to=${shown(to)} is not a date; use YYYY-MM-DD, such as 2026-11-30.` };
  if (from > to) return { problem: `from=${from} is after to=${to}; swap them, or pick a later end date.` };
  if (daysIn({ key: "custom", from, to }) > MAX_CUSTOM_DAYS) {
    return {
      problem: `from=${from} to=${to} spans more than ${MAX_CUSTOM_DAYS} days; pick a shorter range or All time.`,
    };
  }
  return { key: "custom", from, to };
}

/** The range in ms since the epoch: from its first midnight to the midnight after its last day. */
export function rangeSpanMs(range: DayRange): { from: number; to: number } {
  return {
    from: Date.parse(`${range.from}T00:00:00Z`),
    to: Date.parse(`${range.to}T00:00:00Z`) + DAY_MS,
  };
}

export function daysIn(range: DayRange): number {
  return (
    Math.round((Date.parse(`${range.to}T00:00:00Z`) - Date.parse(`${range.from}T00:00:00Z`)) / DAY_MS) + 1
  );
}

/** The same number of days just before the range; null for all time. */
export function previousRange(range: DayRange): DayRange | null {
  if (range.key === "all") return null;
  const days = daysIn(range);
  return { key: "custom", from: addDays(range.from, -days), to: addDays(range.from, -1) };
}

/** The day before `day`. */
export function dayBefore(day: string): string {
  return day === BEGINNING ? BEGINNING : addDays(day, -1);
}

/** "the last 30 days", "all time" or "1–15 Nov 2026" style: `2026-11-01 to 2026-11-15`. */
export function dayRangeLabel(range: DayRange): string {
  return range.key === "custom" ? `${range.from} to ${range.to}` : rangeLabel(range.key);
}

/**
 * The stored window figures (kept per fixed range) that best describe a range: its own, or for a
 * custom range the shortest fixed range that reaches back to its first day.
 */
export function windowRangeFor(range: DayRange, now: number): RangeKey {
  if (range.key !== "custom") return range.key;
  for (const key of RANGE_KEYS) if (rangeStartDay(key, now) <= range.from) return key;
  return "all";
}
