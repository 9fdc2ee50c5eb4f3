// One person's page: their totals, days and models over a range, their 5-hour windows with
// sessions, their sessions and limit events. Every query reads one user's rows by index.
import { fromSqlTime, toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { addCost, type Cost, NO_COST, type PricedUsage, totalCost } from "./cost.ts";
import { createEstimateReader } from "./estimates.ts";
import type { PriceTable } from "./prices.ts";
import { type DayRange, rangeSpanMs, windowRangeFor } from "./ranges.ts";
import { windowAnchor } from "./recompute.ts";
import { createSessionQueries, NO_SESSIONS } from "./sessions.ts";
import {
  addTokens,
  CACHE_SPLIT_SUMS,
  type DayUsage,
  HOUR_COLUMNS,
  type HourRow,
  hourPoint,
  LAST_ACTIVE,
  SUMS,
  type TokenTotals,
} from "./totals.ts";
import { computeWindows, sessionsPerWindow, type UsageWindow, WINDOW_MS } from "./windows.ts";

export interface SessionSummary extends TokenTotals {
  sessionId: string;
  firstAt: string;
  lastAt: string;
  turns: number;
  devices: string;
}

export interface LimitEventRow {
  eventAt: string;
  kind: string;
  /** Claude Code's limit type (five_hour, seven_day, …); null from reporters that send none. */
  limitType: string | null;
  resetsAt: string | null;
  deviceId: string;
  sessionId: string;
}

export interface WindowWithSessions extends UsageWindow {
  sessions: number;
}

export function createUserQueries(db: Database, prices: PriceTable) {
  const estimates = createEstimateReader(db);
  const lastActive = db.query<{ at: string }, [string]>(LAST_ACTIVE);
  const { sessionCounts } = createSessionQueries(db);
  const userDaily = db.query<DayUsage, [string, string, string]>(
    `SELECT day, ${SUMS} FROM usage_daily WHERE email = ? AND day >= ? AND day <= ? GROUP BY day ORDER BY day`,
  );
  const userModels = db.query<PricedUsage & { turns: number }, [string, string, string]>(
    `SELECT model, ${SUMS}, ${CACHE_SPLIT_SUMS}, sum(turns) AS turns FROM usage_daily
     WHERE email = ? AND day >= ? AND day <= ? GROUP BY model ORDER BY model`,
  );
  const userHours = db.query<HourRow, [string]>(
    `SELECT ${HOUR_COLUMNS} FROM usage_hourly WHERE email = ? ORDER BY hour`,
  );
  // Windows starting in the range may run 5 hours past its last day.
  const userSessionHours = db.query<{ sessionId: string; hour: string }, [string, string, string]>(
    `SELECT DISTINCT session_id AS sessionId, substr(event_at, 1, 13) || ':00:00' AS hour
     FROM usage_events WHERE email = ? AND event_at >= ? AND event_at < ?`,
  );
  const userSessions = db.query<SessionSummary, [string, string, string, number]>(
    `SELECT session_id AS sessionId, min(event_at) AS firstAt, max(event_at) AS lastAt,
       count(DISTINCT turn_index) AS turns, ${SUMS},
       group_concat(DISTINCT nullif(device_id, '')) AS devices
     FROM usage_events WHERE email = ? AND event_at >= ? AND event_at < ?
     GROUP BY session_id ORDER BY lastAt DESC LIMIT ?`,
  );
  const userLimitTimes = db.query<
    { eventAt: string; resetsAt: string | null; limitType: string | null },
    [string]
  >(
    "SELECT event_at AS eventAt, resets_at AS resetsAt, limit_type AS limitType FROM limit_events WHERE email = ?",
  );
  const userLimitEvents = db.query<LimitEventRow, [string, number, number]>(
    `SELECT event_at AS eventAt, kind, limit_type AS limitType, resets_at AS resetsAt, device_id AS deviceId,
       session_id AS sessionId
     FROM limit_events WHERE email = ? ORDER BY event_at DESC, id DESC LIMIT ? OFFSET ?`,
  );
  const userLimitEventCount = db.query<{ n: number }, [string]>(
    "SELECT count(*) AS n FROM limit_events WHERE email = ?",
  );
  const userKnown = db.query<{ one: number }, [string, string, string]>(
    `SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM usage_hourly WHERE email = ?)
       OR EXISTS (SELECT 1 FROM refresh_tokens WHERE email = ?)
       OR EXISTS (SELECT 1 FROM device_keys WHERE email = ?)`,
  );

  // Plain-text match on the email, any case: instr() sees no wildcard, whatever the search holds.
  const findPeople = db.query<{ email: string; division: string | null }, [string, number]>(
    `SELECT email, (SELECT nullif(division, '') FROM refresh_tokens r WHERE r.email = people.email
         ORDER BY id DESC LIMIT 1) AS division
     FROM (SELECT email FROM user_models UNION SELECT email FROM refresh_tokens UNION SELECT email FROM device_keys) people
     WHERE instr(lower(email), lower(?)) > 0 ORDER BY email LIMIT ?`,
  );

  return {
    sessionCounts,

    /** People whose email contains the text (any case), in email order, at most `limit`. */
    findPeople(text: string, limit: number): { email: string; division: string | null }[] {
      return findPeople.all(text, limit);
    },

    userExists(email: string): boolean {
      return userKnown.get(email, email, email) !== null;
    },

    userUsage(email: string, range: DayRange, now: number) {
      const models = userModels
        .all(email, range.from, range.to)
        .map((m) => ({ ...m, cost: totalCost(prices, [m]) }));
      const counts = sessionCounts([email], range).get(email) ?? NO_SESSIONS;
      const totals = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: NO_COST as Cost, ...counts };
      for (const model of models) {
        addTokens(totals, model);
        totals.cost = addCost(totals.cost, model.cost);
      }
      return {
        totals,
        daily: userDaily.all(email, range.from, range.to),
        models,
        lastActive: lastActive.get(email)?.at ?? null,
        estimate: estimates.of(windowRangeFor(range, now), email),
      };
    },

    /**
     * One user's windows that start in the range, newest first, computed from their whole hourly
     * history (a window's start depends on the windows before it), with distinct sessions from the
     * user's own events.
     */
    userWindows(email: string, range: DayRange, now: number): WindowWithSessions[] {
      const { from, to } = rangeSpanMs(range);
      const events = userLimitTimes.all(email);
      const anchors = events
        .map((row) =>
          windowAnchor({
            eventAt: fromSqlTime(row.eventAt),
            resetsAt: row.resetsAt === null ? null : fromSqlTime(row.resetsAt),
            limitType: row.limitType,
          }),
        )
        .filter((at): at is number => at !== null);
      const windows = computeWindows(
        userHours.all(email).map(hourPoint),
        now,
        events.map((row) => fromSqlTime(row.eventAt)),
        anchors,
      ).filter((w) => w.start >= from && w.start < to);
      const sessionHours = userSessionHours
        .all(email, toSqlTime(from), toSqlTime(to + WINDOW_MS))
        .map((row) => ({ sessionId: row.sessionId, at: fromSqlTime(row.hour) }));
      const sessions = sessionsPerWindow(windows, sessionHours);
      return windows.map((w, i) => ({ ...w, sessions: sessions[i]! })).reverse();
    },

    userSessions(email: string, range: DayRange, limit: number): SessionSummary[] {
      return userSessions.all(email, `${range.from} 00:00:00`, `${range.to} 24:00:00`, limit);
    },

    /** One page of the user's limit events, newest first. */
    userLimitEvents(email: string, offset: number, limit: number): LimitEventRow[] {
      return userLimitEvents.all(email, limit, offset);
    },

    userLimitEventCount(email: string): number {
      return userLimitEventCount.get(email)!.n;
    },
  };
}
