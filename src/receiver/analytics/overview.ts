// The overview page's figures: totals, days, users and models over a range, and recent events.
// They read the rollups (usage_daily, usage_hourly, session_days) and the stored window figures,
// never a scan of raw events.
import type { Database } from "../db/database.ts";
import { createEstimateReader, type WindowFigures } from "./estimates.ts";
import { type RangeKey, rangeStartDay } from "./ranges.ts";
import { addTokens, type DayUsage, SUMS, type TokenTotals } from "./totals.ts";

export interface ModelUsage extends TokenTotals {
  model: string;
  users: number;
  /** Turns that used this model (a turn on two models counts for each). */
  turns: number;
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

export function createOverviewQueries(db: Database) {
  const estimates = createEstimateReader(db);
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

  return {
    overview(range: RangeKey, now: number): Overview {
      const startDay = rangeStartDay(range, now);
      const users = new Map<string, UserUsage>();
      const models = new Map<string, ModelUsage>();
      const divisionOf = new Map(divisions.all().map((row) => [row.email, row.division]));
      const stored = estimates.forRange(range);
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
        addTokens(user, row);
        addTokens(model, row);
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
      for (const user of users.values()) addTokens(totals, user);
      return {
        totals,
        daily: dailyTotals.all(startDay),
        users: [...users.values()],
        models: [...models.values()],
        tiersComputedAt: estimates.computedAt(),
      };
    },

    /** The last `limit` reported turn rows and limit events, newest first. */
    recentEvents(limit: number): RecentEvent[] {
      return [...recentTurns.all(limit), ...recentLimits.all(limit)]
        .sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : 0))
        .slice(0, limit);
    },
  };
}
