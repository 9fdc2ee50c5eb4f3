// One person's page: their totals, days and models over a range, their 5-hour windows with
// sessions, their sessions and limit events. Every query reads one user's rows by index.
import { fromSqlTime, toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { addCost, type Cost, NO_COST, type PricedUsage, totalCost } from "./cost.ts";
import { createEstimateReader } from "./estimates.ts";
import type { PriceTable } from "./prices.ts";
import { type RangeKey, rangeStartDay, rangeStartMs } from "./ranges.ts";
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
import { computeWindows, sessionsPerWindow, type UsageWindow } from "./windows.ts";

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
  const userDaily = db.query<DayUsage, [string, string]>(
    `SELECT day, ${SUMS} FROM usage_daily WHERE email = ? AND day >= ? GROUP BY day ORDER BY day`,
  );
  const userModels = db.query<PricedUsage & { turns: number }, [string, string]>(
    `SELECT model, ${SUMS}, ${CACHE_SPLIT_SUMS}, sum(turns) AS turns FROM usage_daily WHERE email = ? AND day >= ?
     GROUP BY model ORDER BY model`,
  );
  const userSessionTotals = db.query<{ sessions: number; turns: number }, [string, string]>(
    `SELECT count(DISTINCT session_id) AS sessions, coalesce(sum(turns), 0) AS turns
     FROM session_days WHERE email = ? AND day >= ?`,
  );
  const userHours = db.query<HourRow, [string]>(
    `SELECT ${HOUR_COLUMNS} FROM usage_hourly WHERE email = ? ORDER BY hour`,
  );
  const userSessionHours = db.query<{ sessionId: string; hour: string }, [string, string]>(
    `SELECT DISTINCT session_id AS sessionId, substr(event_at, 1, 13) || ':00:00' AS hour
     FROM usage_events WHERE email = ? AND event_at >= ?`,
  );
  const userSessions = db.query<SessionSummary, [string, string, number]>(
    `SELECT session_id AS sessionId, min(event_at) AS firstAt, max(event_at) AS lastAt,
       count(DISTINCT turn_index) AS turns, ${SUMS},
       group_concat(DISTINCT nullif(device_id, '')) AS devices
     FROM usage_events WHERE email = ? AND event_at >= ?
     GROUP BY session_id ORDER BY lastAt DESC LIMIT ?`,
  );
  const userLimitTimes = db.query<{ eventAt: string }, [string]>(
    "SELECT event_at AS eventAt FROM limit_events WHERE email = ?",
  );
  const userLimitEvents = db.query<LimitEventRow, [string, number, number]>(
    `SELECT event_at AS eventAt, kind, resets_at AS resetsAt, device_id AS deviceId, session_id AS sessionId
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

  return {
    userExists(email: string): boolean {
      return userKnown.get(email, email, email) !== null;
    },

    userUsage(email: string, range: RangeKey, now: number) {
      const startDay = rangeStartDay(range, now);
      const models = userModels.all(email, startDay).map((m) => ({ ...m, cost: totalCost(prices, [m]) }));
      const counts = userSessionTotals.get(email, startDay) ?? { sessions: 0, turns: 0 };
      const totals = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: NO_COST as Cost, ...counts };
      for (const model of models) {
        addTokens(totals, model);
        totals.cost = addCost(totals.cost, model.cost);
      }
      return {
        totals,
        daily: userDaily.all(email, startDay),
        models,
        lastActive: lastActive.get(email)?.at ?? null,
        estimate: estimates.of(range, email),
      };
    },

    /**
     * One user's windows that start in the range, newest first, computed from their whole hourly
     * history (a window's start depends on the windows before it), with distinct sessions from the
     * user's own events.
     */
    userWindows(email: string, range: RangeKey, now: number): WindowWithSessions[] {
      const from = rangeStartMs(range, now);
      const limitTimes = userLimitTimes.all(email).map((row) => fromSqlTime(row.eventAt));
      const windows = computeWindows(userHours.all(email).map(hourPoint), now, limitTimes).filter(
        (w) => w.start >= from,
      );
      const sessionHours = userSessionHours
        .all(email, toSqlTime(from))
        .map((row) => ({ sessionId: row.sessionId, at: fromSqlTime(row.hour) }));
      const sessions = sessionsPerWindow(windows, sessionHours);
      return windows.map((w, i) => ({ ...w, sessions: sessions[i]! })).reverse();
    },

    userSessions(email: string, range: RangeKey, now: number, limit: number): SessionSummary[] {
      return userSessions.all(email, `${rangeStartDay(range, now)} 00:00:00`, limit);
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
