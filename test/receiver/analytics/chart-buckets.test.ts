// Daily charts over any range: a bounded number of columns, by day, week, month or years.
import { describe, expect, test } from "bun:test";
import { dailyCharts } from "../../../src/receiver/admin/views/usage-parts.ts";
import { chartBuckets, fixedRange, MAX_CHART_COLUMNS } from "../../../src/receiver/analytics/ranges.ts";

const now = Date.parse("2026-11-27T15:00:00Z");
const row = (day: string, input: number) => ({ day, input, output: 1, cacheRead: 0, cacheWrite: 0 });

describe("chartBuckets", () => {
  test("up to MAX_CHART_COLUMNS days is one column a day", () => {
    const b = chartBuckets("2026-08-30", now);
    expect(b.unit).toBe("day");
    expect(b.starts.length).toBe(90);
    expect(b.starts[0]).toBe("2026-08-30");
    expect(b.starts.at(-1)).toBe("2026-11-27");
  });

  test("longer spans go by ISO week (from Monday), then by month, then by years", () => {
    const weeks = chartBuckets("2025-06-01", now);
    expect(weeks.unit).toBe("week");
    expect(weeks.starts[0]).toBe("2025-05-26"); // the Monday of 2025-06-01's week
    expect(weeks.starts.at(-1)).toBe("2026-11-23");
    for (const start of weeks.starts) expect(new Date(`${start}T00:00:00Z`).getUTCDay()).toBe(1);

    const months = chartBuckets("2020-03-15", now);
    expect(months.unit).toBe("month");
    expect(months.starts[0]).toBe("2020-03-01");
    expect(months.starts.at(-1)).toBe("2026-11-01");
    expect(months.starts.length).toBe(81);

    const years = chartBuckets("0000-01-01", now);
    expect(years.unit).toBe("year");
    expect(years.starts[0]).toBe("0000-01-01");
    expect(years.starts.length).toBeLessThanOrEqual(MAX_CHART_COLUMNS);
    expect(years.step).toBe(Math.ceil(2027 / MAX_CHART_COLUMNS));
    expect(years.starts[1]).toBe(`00${years.step}-01-01`.slice(-10));
    expect(years.starts.at(-1)! <= "2026-11-27").toBe(true);
  });

  test("never more than MAX_CHART_COLUMNS columns, from any first day", () => {
    for (const first of [
      "0000-01-01",
      "0999-12-31",
      "1000-01-01",
      "1970-01-01",
      "2016-02-29",
      "2026-11-27",
    ]) {
      const b = chartBuckets(first, now);
      expect(b.starts.length).toBeGreaterThan(0);
      expect(b.starts.length).toBeLessThanOrEqual(MAX_CHART_COLUMNS);
      expect(b.starts[0]! <= first).toBe(true);
      expect([...b.starts].sort()).toEqual(b.starts);
    }
  });
});

describe("dailyCharts", () => {
  test("all time from a report dated 0000-01-01 draws a bounded chart that sums every day in", () => {
    const daily = [row("0000-01-01", 7), row("1999-06-15", 11), row("2026-11-26", 13), row("2026-11-27", 17)];
    const started = performance.now();
    const text = dailyCharts("", fixedRange("all", now), daily, now).text;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(text.length).toBeLessThan(200_000);
    const columns = text.split("tokens in all</title></g>").length - 1;
    expect(columns).toBeGreaterThan(0);
    expect(columns).toBeLessThanOrEqual(2 * MAX_CHART_COLUMNS); // two charts
    expect(text).toContain("Tokens per 17 years by kind, all time");
    // The last column (2023–2026) holds both November days: 13 + 17 input.
    expect(text).toContain("2023–2026 · Input: 30</title>");
    expect(text).toContain("0000–0016 · Input: 7</title>");
  });

  test("ranges of 7, 30 and 90 days stay one column a day", () => {
    const daily = [row("2026-11-01", 5)];
    const text = dailyCharts("a@example.org", fixedRange("90", now), daily, now).text;
    expect(text.split("tokens in all</title></g>").length - 1).toBe(2 * 90);
    expect(text).toContain("2026-11-01 · Input: 5</title>");
    expect(text).toContain("Day (UTC)");
  });

  test("a history of years goes by month, labelled by month", () => {
    const text = dailyCharts(
      "",
      fixedRange("all", now),
      [row("2022-01-10", 3), row("2022-01-31", 4)],
      now,
    ).text;
    expect(text).toContain("Tokens per month by kind, all time");
    expect(text).toContain("January 2022 · Input: 7</title>");
    expect(text).toContain("Month (UTC)");
  });

  test("days an admin typed that are not dates, or lie in the future, are left out, not a crash", () => {
    const text = dailyCharts(
      "",
      fixedRange("all", now),
      [row("2026-11-20", 3), row("2099-01-01", 4), row("soon", 5)],
      now,
    ).text;
    expect(text).toContain("2026-11-20 · Input: 3</title>");
    expect(text).not.toContain("Input: 4<");
    expect(text).not.toContain("Input: 5<");
  });
});
