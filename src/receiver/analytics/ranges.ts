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
