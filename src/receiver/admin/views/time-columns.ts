// The columns of a chart over time: the range's days summed into at most MAX_CHART_COLUMNS
// columns (days, weeks, months or runs of years), with their labels. Pure.
import { type ChartBuckets, chartBuckets, type DayRange } from "../../analytics/ranges.ts";
import { addTokens, type DayUsage, noTokens, type TokenTotals } from "../../analytics/totals.ts";
import { shortDay } from "./charts.ts";

export interface TimeColumn extends TokenTotals {
  /** What the column covers, in full: `2026-11-27`, `week of 2026-11-23`, `November 2026`, `2020–2026`. */
  label: string;
  /** The shorter text under the axis. */
  tick: string;
}

export interface TimeColumns {
  /** `day`, `week`, `month`, `year` or `17 years`: what one column holds. */
  per: string;
  /** The x axis label. */
  axis: string;
  columns: TimeColumn[];
}

const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function labels(buckets: ChartBuckets, start: string, today: string): { label: string; tick: string } {
  switch (buckets.unit) {
    case "day":
      return { label: start, tick: shortDay(start) };
    case "week":
      return { label: `week of ${start}`, tick: `${shortDay(start)} ${start.slice(0, 4)}` };
    case "month": {
      const month = MONTH_NAMES[Number(start.slice(5, 7)) - 1]!;
      return { label: `${month} ${start.slice(0, 4)}`, tick: `${month.slice(0, 3)} ${start.slice(0, 4)}` };
    }
    case "year": {
      const first = Number(start.slice(0, 4));
      const last = Math.min(first + buckets.step - 1, Number(today.slice(0, 4)));
      const text =
        last === first ? start.slice(0, 4) : `${start.slice(0, 4)}–${String(last).padStart(4, "0")}`;
      return { label: text, tick: text };
    }
  }
}

/**
 * The range's columns, from its first day (for all time: the first day with data) through its last
 * (today at the latest). Rows whose day is not a date, or is outside that, belong to no column.
 */
export function timeColumns(range: DayRange, daily: readonly DayUsage[], now: number): TimeColumns {
  const end = Math.min(now, Date.parse(`${range.to}T23:59:59Z`));
  const today = new Date(end).toISOString().slice(0, 10);
  const dated = daily.filter(
    (d) => DAY.test(d.day) && d.day <= today && !Number.isNaN(Date.parse(`${d.day}T00:00:00Z`)),
  );
  let first = range.key === "all" ? undefined : range.from;
  if (first === undefined) for (const d of dated) if (first === undefined || d.day < first) first = d.day;
  if (first === undefined) return { per: "day", axis: "Day (UTC)", columns: [] };
  const buckets = chartBuckets(first, end);
  const columns: TimeColumn[] = buckets.starts.map((start) => ({
    ...labels(buckets, start, today),
    ...noTokens(),
  }));
  for (const d of dated) {
    // The last column starting on or before the day holds it.
    let low = 0;
    let high = buckets.starts.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (buckets.starts[mid]! <= d.day) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (found >= 0) addTokens(columns[found]!, d);
  }
  const per = buckets.step > 1 ? `${buckets.step} years` : buckets.unit;
  const axis = {
    day: "Day (UTC)",
    week: "Week, from Monday (UTC)",
    month: "Month (UTC)",
    year: buckets.step > 1 ? `Years, ${buckets.step} a column (UTC)` : "Year (UTC)",
  }[buckets.unit];
  return { per, axis, columns };
}
