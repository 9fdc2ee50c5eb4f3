// The dashboard's queries. They read the rollups (usage_daily, usage_hourly, session_days) and the
// stored tier estimates, never a scan of raw events; per-user pages read one user's rows by index.
import { fromSqlTime, toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { RANGE_KEYS, type RangeKey, rangeStartDay, rangeStartMs } from "./ranges.ts";
import { estimateTiers, type TierConfidence, type UserWindows } from "./tiers.ts";
import { type ActivityPoint, computeWindows, summarizeWindows, type UsageWindow } from "./windows.ts";

export interface TokenTotals {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface DayUsage extends TokenTotals {
  day: string;
}

export interface ModelUsage extends TokenTotals {
  model: string;
  users: number;
  /** Turns that used this model (a turn on two models counts for each). */
  turns: number;
}

export interface WindowFigures {
  windowCount: number;
  peakBilledTokens: number;
  averageBilledTokens: number;
  limitWindows: number;
  p75BilledTokens: number | null;
  countedWindows: number;
  tier: number | null;
  confidence: TierConfidence | null;
  computedAt: string;
}

export interface UserUsage extends TokenTotals {
  email: string;
  division: string | null;
  sessions: number;
  turns: number;
  /** Start of the last UTC hour with usage (any range). */
  lastActive: string | null;
  windows: WindowFigures | null;
}

export interface Overview {
  totals: TokenTotals & { users: number; sessions: number; turns: number };
  daily: DayUsage[];
  users: UserUsage[];
  models: ModelUsage[];
  /** When the stored window figures were computed; null before the first run. */
  tiersComputedAt: string | null;
}

export interface RecentEvent {
  kind: "turn" | "limit";
  receivedAt: string;
  eventAt: string;
  email: string;
  deviceId: string;
  model: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

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

export interface UsageExportRow {
  day: string;
  email: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  requests: number;
  turns: number;
}

export const EXPORT_COLUMNS: readonly (keyof UsageExportRow)[] = [
  "day",
  "email",
  "model",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "requests",
  "turns",
];

const SUMS = `sum(input_tokens) AS input, sum(output_tokens) AS output,
  sum(cache_read_tokens) AS cacheRead, sum(cache_write_tokens) AS cacheWrite`;

const USERS_PER_BATCH = 100;

interface EstimateRow {
  email: string;
  window_count: number;
  peak_billed_tokens: number;
  average_billed_tokens: number;
  limit_windows: number;
  p75_billed_tokens: number | null;
  counted_windows: number;
  tier: number | null;
  confidence: TierConfidence | null;
  computed_at: string;
}

function figures(row: EstimateRow): WindowFigures {
  return {
    windowCount: row.window_count,
    peakBilledTokens: row.peak_billed_tokens,
    averageBilledTokens: row.average_billed_tokens,
    limitWindows: row.limit_windows,
    p75BilledTokens: row.p75_billed_tokens,
    countedWindows: row.counted_windows,
    tier: row.tier,
    confidence: row.confidence,
    computedAt: row.computed_at,
  };
}

/** One user-hour of usage_hourly. */
interface HourRow {
  hour: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  turns: number;
}

function hourPoint(row: HourRow): ActivityPoint {
  return {
    at: fromSqlTime(row.hour),
    input: row.input,
    output: row.output,
    cacheRead: row.cacheRead,
    cacheWrite: row.cacheWrite,
    turns: row.turns,
  };
}

export function createAnalyticsService(db: Database) {
  // NOT INDEXED: a straight scan of the table beats one lookup per row through the day index.
  const dailyTotals = db.query<DayUsage, [string]>(
    `SELECT day, ${SUMS} FROM usage_daily NOT INDEXED WHERE day >= ? GROUP BY day ORDER BY day`,
  );
  const byUserAndModel = db.query<TokenTotals & { email: string; model: string; turns: number }, [string]>(
    `SELECT email, model, ${SUMS}, sum(turns) AS turns FROM usage_daily WHERE day >= ? GROUP BY email, model`,
  );
  const sessionsByUser = db.query<{ email: string; sessions: number; turns: number }, [string]>(
    `SELECT email, count(DISTINCT session_id) AS sessions, sum(turns) AS turns
     FROM session_days WHERE day >= ? GROUP BY email`,
  );
  const lastActive = db.query<{ hour: string | null }, [string]>(
    "SELECT max(hour) AS hour FROM usage_hourly WHERE email = ?",
  );
  const divisions = db.query<{ email: string; division: string }, []>(
    "SELECT email, division FROM refresh_tokens WHERE division IS NOT NULL AND division != '' ORDER BY id",
  );
  const estimatesFor = db.query<EstimateRow, [string]>("SELECT * FROM tier_estimates WHERE range_key = ?");
  const estimateOf = db.query<EstimateRow, [string, string]>(
    "SELECT * FROM tier_estimates WHERE range_key = ? AND email = ?",
  );
  const lastComputed = db.query<{ at: string | null }, []>(
    "SELECT max(computed_at) AS at FROM tier_estimates",
  );

  const recentTurns = db.query<RecentEvent, [number]>(
    `SELECT 'turn' AS kind, received_at AS receivedAt, event_at AS eventAt, email, device_id AS deviceId, model,
       input_tokens AS input, output_tokens AS output, cache_read_tokens AS cacheRead, cache_write_tokens AS cacheWrite
     FROM usage_events ORDER BY id DESC LIMIT ?`,
  );
  const recentLimits = db.query<RecentEvent, [number]>(
    `SELECT 'limit' AS kind, received_at AS receivedAt, event_at AS eventAt, email, device_id AS deviceId, kind AS model,
       0 AS input, 0 AS output, 0 AS cacheRead, 0 AS cacheWrite
     FROM limit_events ORDER BY id DESC LIMIT ?`,
  );

  const userDaily = db.query<DayUsage, [string, string]>(
    `SELECT day, ${SUMS} FROM usage_daily WHERE email = ? AND day >= ? GROUP BY day ORDER BY day`,
  );
  const userModels = db.query<TokenTotals & { model: string; turns: number }, [string, string]>(
    `SELECT model, ${SUMS}, sum(turns) AS turns FROM usage_daily WHERE email = ? AND day >= ?
     GROUP BY model ORDER BY model`,
  );
  const userSessionTotals = db.query<{ sessions: number; turns: number }, [string, string]>(
    `SELECT count(DISTINCT session_id) AS sessions, coalesce(sum(turns), 0) AS turns
     FROM session_days WHERE email = ? AND day >= ?`,
  );
  const userHours = db.query<HourRow, [string]>(
    `SELECT hour, input_tokens AS input, output_tokens AS output, cache_read_tokens AS cacheRead,
       cache_write_tokens AS cacheWrite, turns
     FROM usage_hourly WHERE email = ? ORDER BY hour`,
  );
  const hoursOfUsers = db.query<HourRow & { email: string }, [string, string]>(
    `SELECT email, hour, input_tokens AS input, output_tokens AS output, cache_read_tokens AS cacheRead,
       cache_write_tokens AS cacheWrite, turns
     FROM usage_hourly WHERE email >= ? AND email <= ? ORDER BY email, hour`,
  );
  const usersWithHours = db.query<{ email: string }, []>(
    "SELECT DISTINCT email FROM usage_hourly ORDER BY email",
  );
  const allLimitEvents = db.query<{ email: string; eventAt: string }, []>(
    "SELECT email, event_at AS eventAt FROM limit_events",
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
  const userLimitEvents = db.query<LimitEventRow, [string]>(
    `SELECT event_at AS eventAt, kind, resets_at AS resetsAt, device_id AS deviceId, session_id AS sessionId
     FROM limit_events WHERE email = ? ORDER BY event_at DESC`,
  );
  const userKnown = db.query<{ one: number }, [string, string, string]>(
    `SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM usage_hourly WHERE email = ?)
       OR EXISTS (SELECT 1 FROM refresh_tokens WHERE email = ?)
       OR EXISTS (SELECT 1 FROM device_keys WHERE email = ?)`,
  );

  const clearEstimates = db.query<unknown, []>("DELETE FROM tier_estimates");
  const insertEstimate = db.query<unknown, (string | number | null)[]>(
    `INSERT INTO tier_estimates (range_key, email, window_count, peak_billed_tokens, average_billed_tokens,
       limit_windows, p75_billed_tokens, counted_windows, tier, confidence, computed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  // One row-value bound only, so each page starts right at its key in the day index.
  const exportPage = db.query<UsageExportRow, [string, string, string, number]>(
    `SELECT day, email, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
       cache_write_5m_tokens, cache_write_1h_tokens, requests, turns
     FROM usage_daily WHERE (day, email, model) > (?, ?, ?)
     ORDER BY day, email, model LIMIT ?`,
  );

  const coloursAll = db.query<{ model: string; slot: number }, []>("SELECT model, slot FROM model_colours");
  const addColour = db.query<unknown, [string]>(
    `INSERT OR IGNORE INTO model_colours (model, slot)
     VALUES (?, (SELECT coalesce(max(slot) + 1, 0) FROM model_colours))`,
  );

  /** The stored figures for one range, recomputed by `recomputeTierEstimates`. */
  function estimates(range: RangeKey): Map<string, WindowFigures> {
    return new Map(estimatesFor.all(range).map((row) => [row.email, figures(row)]));
  }

  return {
    overview(range: RangeKey, now: number): Overview {
      const startDay = rangeStartDay(range, now);
      const users = new Map<string, UserUsage>();
      const models = new Map<string, ModelUsage>();
      const divisionOf = new Map(divisions.all().map((row) => [row.email, row.division]));
      const stored = estimates(range);
      for (const row of byUserAndModel.all(startDay)) {
        let user = users.get(row.email);
        if (!user) {
          user = {
            email: row.email,
            division: divisionOf.get(row.email) ?? null,
            input: 0,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
            sessions: 0,
            turns: 0,
            lastActive: lastActive.get(row.email)?.hour ?? null,
            windows: stored.get(row.email) ?? null,
          };
          users.set(row.email, user);
        }
        let model = models.get(row.model);
        if (!model) {
          model = { model: row.model, users: 0, turns: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
          models.set(row.model, model);
        }
        model.users++;
        model.turns += row.turns;
        for (const totals of [user, model]) {
          totals.input += row.input;
          totals.output += row.output;
          totals.cacheRead += row.cacheRead;
          totals.cacheWrite += row.cacheWrite;
        }
      }
      const totals = {
        users: users.size,
        sessions: 0,
        turns: 0,
        input: 0,
        output: 0,
        cacheRead: 0,
        cacheWrite: 0,
      };
      for (const row of sessionsByUser.all(startDay)) {
        const user = users.get(row.email);
        if (!user) continue;
        user.sessions = row.sessions;
        user.turns = row.turns;
        totals.sessions += row.sessions;
        totals.turns += row.turns;
      }
      for (const user of users.values()) {
        totals.input += user.input;
        totals.output += user.output;
        totals.cacheRead += user.cacheRead;
        totals.cacheWrite += user.cacheWrite;
      }
      return {
        totals,
        daily: dailyTotals.all(startDay),
        users: [...users.values()],
        models: [...models.values()],
        tiersComputedAt: lastComputed.get()?.at ?? null,
      };
    },

    /** The last `limit` reported turn rows and limit events, newest first. */
    recentEvents(limit: number): RecentEvent[] {
      return [...recentTurns.all(limit), ...recentLimits.all(limit)]
        .sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : 0))
        .slice(0, limit);
    },

    userExists(email: string): boolean {
      return userKnown.get(email, email, email) !== null;
    },

    userUsage(email: string, range: RangeKey, now: number) {
      const startDay = rangeStartDay(range, now);
      const models = userModels.all(email, startDay);
      const counts = userSessionTotals.get(email, startDay) ?? { sessions: 0, turns: 0 };
      const totals = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, ...counts };
      for (const model of models) {
        totals.input += model.input;
        totals.output += model.output;
        totals.cacheRead += model.cacheRead;
        totals.cacheWrite += model.cacheWrite;
      }
      const estimate = estimateOf.get(range, email);
      return {
        totals,
        daily: userDaily.all(email, startDay),
        models,
        lastActive: lastActive.get(email)?.hour ?? null,
        estimate: estimate ? figures(estimate) : null,
      };
    },

    /**
     * One user's windows that start in the range, newest first, computed from their whole hourly
     * history (a window's start depends on the windows before it), with distinct sessions from the
     * user's own events.
     */
    userWindows(email: string, range: RangeKey, now: number): WindowWithSessions[] {
      const from = rangeStartMs(range, now);
      const limitTimes = userLimitEvents.all(email).map((row) => fromSqlTime(row.eventAt));
      const windows = computeWindows(userHours.all(email).map(hourPoint), now, limitTimes).filter(
        (w) => w.start >= from,
      );
      const sessionsByWindow = windows.map(() => new Set<string>());
      const windowStarts = windows.map((w) => w.start);
      for (const row of userSessionHours.all(email, toSqlTime(from))) {
        const at = fromSqlTime(row.hour);
        // The last window starting at or before this hour holds it, if the hour is before its end.
        let low = 0;
        let high = windowStarts.length - 1;
        let found = -1;
        while (low <= high) {
          const mid = (low + high) >> 1;
          if (windowStarts[mid]! <= at) {
            found = mid;
            low = mid + 1;
          } else high = mid - 1;
        }
        if (found >= 0 && at < windows[found]!.end) sessionsByWindow[found]!.add(row.sessionId);
      }
      return windows.map((w, i) => ({ ...w, sessions: sessionsByWindow[i]!.size })).reverse();
    },

    userSessions(email: string, range: RangeKey, now: number, limit: number): SessionSummary[] {
      return userSessions.all(email, `${rangeStartDay(range, now)} 00:00:00`, limit);
    },

    userLimitEvents(email: string): LimitEventRow[] {
      return userLimitEvents.all(email);
    },

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

    /** Rows of usage_daily in the range after the given key, in key order: for streamed exports. */
    exportPage(
      range: RangeKey,
      now: number,
      after: { day: string; email: string; model: string },
      limit: number,
    ): UsageExportRow[] {
      const startDay = rangeStartDay(range, now);
      // Before the range, start at its first day: ("", "") sorts before every email and model.
      const from = after.day < startDay ? { day: startDay, email: "", model: "" } : after;
      return exportPage.all(from.day, from.email, from.model, limit);
    },

    /** Colour slots for these models, giving new ones the next slot (in name order, so it is stable). */
    modelColourSlots(models: readonly string[]): Map<string, number> {
      let slots = new Map(coloursAll.all().map((row) => [row.model, row.slot]));
      const missing = models.filter((m) => !slots.has(m)).sort();
      if (missing.length > 0) {
        db.transaction(() => {
          for (const model of missing) addColour.run(model);
        }).immediate();
        slots = new Map(coloursAll.all().map((row) => [row.model, row.slot]));
      }
      return slots;
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;
