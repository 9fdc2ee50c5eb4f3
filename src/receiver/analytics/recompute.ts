// The background job behind the stored window figures and tier estimates: every user's 5-hour
// windows from their hourly history, summarised per range, tiers estimated across users.
import { fromSqlTime, toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { RANGE_KEYS, type RangeKey, rangeStartMs } from "./ranges.ts";
import { estimateTiers, type UserWindows } from "./tiers.ts";
import { HOUR_COLUMNS, type HourRow, hourPoint } from "./totals.ts";
import { type ActivityPoint, computeWindows, summarizeWindows, type UsageWindow } from "./windows.ts";

const USERS_PER_BATCH = 100;

export function createRecomputeJob(db: Database) {
  const hoursOfUsers = db.query<HourRow & { email: string }, [string, string]>(
    `SELECT email, ${HOUR_COLUMNS} FROM usage_hourly WHERE email >= ? AND email <= ? ORDER BY email, hour`,
  );
  const usersWithHours = db.query<{ email: string }, []>(
    "SELECT DISTINCT email FROM usage_hourly ORDER BY email",
  );
  const allLimitEvents = db.query<{ email: string; eventAt: string }, []>(
    "SELECT email, event_at AS eventAt FROM limit_events",
  );
  const clearEstimates = db.query<unknown, []>("DELETE FROM tier_estimates");
  const insertEstimate = db.query<unknown, (string | number | null)[]>(
    `INSERT INTO tier_estimates (range_key, email, window_count, peak_billed_tokens, average_billed_tokens,
       limit_windows, p75_billed_tokens, counted_windows, tier, confidence, computed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  return {
    /**
     * Recomputes every user's windows and the tier estimates for every range, and replaces the
     * stored ones in one transaction. Reads users in batches and yields between them, so a large
     * organisation never holds the server still for long.
     */
    async recomputeTierEstimates(now: number): Promise<number> {
      const limitTimes = new Map<string, number[]>();
      for (const row of allLimitEvents.all()) {
        const list = limitTimes.get(row.email) ?? [];
        list.push(fromSqlTime(row.eventAt));
        limitTimes.set(row.email, list);
      }
      const emails = usersWithHours.all().map((row) => row.email);
      const starts = RANGE_KEYS.map((range) => rangeStartMs(range, now));
      const perRange: UserWindows[][] = RANGE_KEYS.map(() => []);
      const summaries: { range: RangeKey; email: string; windows: UsageWindow[] }[] = [];
      for (let first = 0; first < emails.length; first += USERS_PER_BATCH) {
        const batch = emails.slice(first, first + USERS_PER_BATCH);
        const points = new Map<string, ActivityPoint[]>();
        for (const row of hoursOfUsers.all(batch[0]!, batch[batch.length - 1]!)) {
          const list = points.get(row.email) ?? [];
          list.push(hourPoint(row));
          points.set(row.email, list);
        }
        for (const email of batch) {
          const events = limitTimes.get(email) ?? [];
          const all = computeWindows(points.get(email) ?? [], now, events);
          RANGE_KEYS.forEach((range, i) => {
            const from = starts[i]!;
            const windows = all.filter((w) => w.start >= from);
            if (windows.length === 0) return;
            summaries.push({ range, email, windows });
            perRange[i]!.push({
              email,
              windows,
              limitEventsInRange: events.filter((at) => at >= from).length,
            });
          });
        }
        await Bun.sleep(0);
      }
      const tiers = RANGE_KEYS.map(
        (_, i) => new Map(estimateTiers(perRange[i]!).map((estimate) => [estimate.email, estimate])),
      );
      const computedAt = toSqlTime(now);
      db.transaction(() => {
        clearEstimates.run();
        for (const { range, email, windows } of summaries) {
          const summary = summarizeWindows(windows);
          const tier = tiers[RANGE_KEYS.indexOf(range)]!.get(email);
          insertEstimate.run(
            range,
            email,
            summary.windowCount,
            summary.peakBilledTokens,
            summary.averageBilledTokens,
            windows.filter((w) => w.hasLimitEvent).length,
            tier?.p75BilledTokens ?? null,
            windows.filter((w) => !w.open && w.billedTokens > 0).length,
            tier?.tier ?? null,
            tier?.confidence ?? null,
            computedAt,
          );
        }
      }).immediate();
      return emails.length;
    },
  };
}
