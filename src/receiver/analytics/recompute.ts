// The background job behind the stored window figures and tier estimates: every user's 5-hour
// windows from their hourly history, summarised per range, tiers estimated across users.
import { fromSqlTime, toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { RANGE_KEYS, type RangeKey, rangeStartMs } from "./ranges.ts";
import {
  assignTiers,
  nearestRankPercentile,
  type TierEstimate,
  type TypicalWindow,
  typicalWindow,
} from "./tiers.ts";
import { HOUR_COLUMNS, type HourRow, hourPoint } from "./totals.ts";
import {
  type ActivityPoint,
  computeWindows,
  peakRollingBilled,
  summarizeWindows,
  WINDOW_MS,
} from "./windows.ts";

const WEEK_MS = 7 * 24 * 3_600_000;

/**
 * Where a limit event says when its 5-hour window resets, that window's start (resets_at − 5 h):
 * for the five_hour limit, or an event of no stated type whose reset is within 5 hours (older
 * reporters). A weekly limit's reset says nothing about the 5-hour window.
 */
export function windowAnchor(event: { eventAt: number; resetsAt: number | null; limitType: string | null }) {
  if (event.resetsAt === null || !Number.isFinite(event.resetsAt)) return null;
  const ahead = event.resetsAt - event.eventAt;
  const fiveHour =
    event.limitType === "five_hour" || (event.limitType === null && ahead > 0 && ahead <= WINDOW_MS);
  return fiveHour ? event.resetsAt - WINDOW_MS : null;
}

/** One tier_estimates row before its tier is known. */
interface EstimateRow {
  range: RangeKey;
  email: string;
  windowCount: number;
  peakBilledTokens: number;
  averageBilledTokens: number;
  limitWindows: number;
  countedWindows: number;
  limitBilledTokens: number | null;
  anchoredWindows: number;
  peakWeek: number;
}

const USERS_PER_BATCH = 25;
const ROWS_PER_WRITE = 125;

export function createRecomputeJob(db: Database) {
  const hoursOfUsers = db.query<HourRow & { email: string }, [string, string]>(
    `SELECT email, ${HOUR_COLUMNS} FROM usage_hourly WHERE email >= ? AND email <= ? ORDER BY email, hour`,
  );
  const usersWithHours = db.query<{ email: string }, []>(
    // From the small per-user-and-model table, in key order: a DISTINCT over usage_hourly would read
    // every hour row of everyone in one go, holding the server still at a large organisation.
    "SELECT DISTINCT email FROM user_models WHERE last_day IS NOT NULL ORDER BY email",
  );
  const allLimitEvents = db.query<
    { email: string; eventAt: string; resetsAt: string | null; limitType: string | null },
    []
  >("SELECT email, event_at AS eventAt, resets_at AS resetsAt, limit_type AS limitType FROM limit_events");
  const dropOlder = db.query<unknown, [string]>("DELETE FROM tier_estimates WHERE computed_at != ?");
  const insertEstimate = db.query<unknown, (string | number | null)[]>(
    `INSERT OR REPLACE INTO tier_estimates (range_key, email, window_count, peak_billed_tokens, average_billed_tokens,
       limit_windows, p75_billed_tokens, counted_windows, tier, confidence, computed_at, limit_billed_tokens,
       anchored_windows, peak_week_billed_tokens)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  const checkpoint = db.query("PRAGMA wal_checkpoint(PASSIVE)");
  let running: Promise<number> | null = null;

  return {
    /**
     * Recomputes every user's windows and the tier estimates for every range, and replaces the
     * stored ones. Reads users in batches and writes rows in batches, yielding between them, so a
     * large organisation never holds the server still for long.
     */
    recomputeTierEstimates(now: number): Promise<number> {
      // One run at a time: a second caller (Recompute now during a scheduled run) shares it, as
      // two interleaved runs would each drop the rows the other wrote last.
      running ??= recompute(now).finally(() => {
        running = null;
      });
      return running;
    },
  };

  async function recompute(now: number): Promise<number> {
    const limitTimes = new Map<string, number[]>();
    const anchors = new Map<string, number[]>();
    for (const row of allLimitEvents.all()) {
      const eventAt = fromSqlTime(row.eventAt);
      const list = limitTimes.get(row.email) ?? [];
      list.push(eventAt);
      limitTimes.set(row.email, list);
      const anchor = windowAnchor({
        eventAt,
        resetsAt: row.resetsAt === null ? null : fromSqlTime(row.resetsAt),
        limitType: row.limitType,
      });
      if (anchor !== null) anchors.set(row.email, [...(anchors.get(row.email) ?? []), anchor]);
    }
    await Bun.sleep(0);
    const emails = usersWithHours.all().map((row) => row.email);
    const starts = RANGE_KEYS.map((range) => rangeStartMs(range, now));
    const typicalPerRange: TypicalWindow[][] = RANGE_KEYS.map(() => []);
    const rows: EstimateRow[] = [];
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
        const userPoints = points.get(email) ?? [];
        const all = computeWindows(userPoints, now, events, anchors.get(email) ?? []);
        RANGE_KEYS.forEach((range, i) => {
          const from = starts[i]!;
          const windows = all.filter((w) => w.start >= from);
          if (windows.length === 0) return;
          // Each user's figures and typical window are taken here, a batch at a time: only these
          // small rows wait for the tiers, which span everyone at once.
          const typical = typicalWindow({
            email,
            windows,
            limitEventsInRange: events.filter((at) => at >= from).length,
          });
          if (typical) typicalPerRange[i]!.push(typical);
          const summary = summarizeWindows(windows);
          const limited = windows.filter((w) => w.hasLimitEvent).map((w) => w.billedTokens);
          rows.push({
            range,
            email,
            windowCount: summary.windowCount,
            peakBilledTokens: summary.peakBilledTokens,
            averageBilledTokens: summary.averageBilledTokens,
            limitWindows: limited.length,
            countedWindows: windows.filter((w) => !w.open && w.billedTokens > 0).length,
            limitBilledTokens: nearestRankPercentile(limited, 50) ?? null,
            anchoredWindows: windows.filter((w) => w.anchored).length,
            peakWeek: peakRollingBilled(
              userPoints.filter((p) => p.at >= from),
              WEEK_MS,
            ),
          });
        });
      }
      await Bun.sleep(0);
    }
    // Each range's tiers span everyone at once: a pause between ranges lets waiting requests in.
    const tiers: Map<string, TierEstimate>[] = [];
    for (const typical of typicalPerRange) {
      tiers.push(new Map(assignTiers(typical).map((estimate) => [estimate.email, estimate])));
      await Bun.sleep(0);
    }
    const computedAt = toSqlTime(now);
    // Written in small transactions with a pause between, replacing each row in place, so a page
    // or a report never waits long behind the job; rows of people gone go last. Each write is
    // checkpointed at once: left to SQLite, the WAL fills for the whole run (~80,000 rows at
    // 20,000 users) and the one commit, the job's or a request's, that crosses
    // wal_autocheckpoint copies it all into the database while every request waits.
    for (let first = 0; first < rows.length; first += ROWS_PER_WRITE) {
      db.transaction(() => {
        for (const row of rows.slice(first, first + ROWS_PER_WRITE)) {
          const tier = tiers[RANGE_KEYS.indexOf(row.range)]!.get(row.email);
          insertEstimate.run(
            row.range,
            row.email,
            row.windowCount,
            row.peakBilledTokens,
            row.averageBilledTokens,
            row.limitWindows,
            tier?.p75BilledTokens ?? null,
            row.countedWindows,
            tier?.tier ?? null,
            tier?.confidence ?? null,
            computedAt,
            row.limitBilledTokens,
            row.anchoredWindows,
            row.peakWeek,
          );
        }
      }).immediate();
      checkpoint.run();
      await Bun.sleep(0);
    }
    db.transaction(() => dropOlder.run(computedAt)).immediate();
    return emails.length;
  }
}
