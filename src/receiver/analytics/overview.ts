// The overview page's figures: totals, days, users and models over a range, and recent events.
// They read the rollups (usage_daily, usage_hourly, session_days) and the stored window figures,
// never a scan of raw events.
import type { Database } from "../db/database.ts";
import { addCost, type Cost, NO_COST, type PricedUsage, totalCost } from "./cost.ts";
import { createEstimateReader, type WindowFigures } from "./estimates.ts";
import type { PriceTable } from "./prices.ts";
import { type RangeKey, rangeStartDay } from "./ranges.ts";
import { addTokens, CACHE_SPLIT_SUMS, type DayUsage, LAST_ACTIVE, SUMS, type TokenTotals } from "./totals.ts";

export interface ModelUsage extends TokenTotals {
  model: string;
  cost: Cost;
  users: number;
  /** Turns that used this model (a turn on two models counts for each). */
  turns: number;
}

export interface UserUsage extends TokenTotals {
  email: string;
  division: string | null;
  cost: Cost;
  sessions: number;
  turns: number;
  /** When the user's latest turn was (any range). */
  lastActive: string | null;
  windows: WindowFigures | null;
}

export interface DivisionUsage extends TokenTotals {
  /** null: users with no division. */
  division: string | null;
  users: number;
  cost: Cost;
}

export interface Overview {
  totals: TokenTotals & { users: number; sessions: number; turns: number; cost: Cost };
  daily: (DayUsage & { cost: Cost })[];
  divisions: DivisionUsage[];
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

export function createOverviewQueries(db: Database, prices: PriceTable) {
  const estimates = createEstimateReader(db);
  // NOT INDEXED: a straight scan of the table beats one lookup per row through the day index.
  const dailyByModel = db.query<PricedUsage & { day: string }, [string]>(
    `SELECT day, model, ${SUMS}, ${CACHE_SPLIT_SUMS} FROM usage_daily NOT INDEXED WHERE day >= ?
     GROUP BY day, model ORDER BY day`,
  );
  const byUserAndModel = db.query<PricedUsage & { email: string; turns: number }, [string]>(
    `SELECT email, model, ${SUMS}, ${CACHE_SPLIT_SUMS}, sum(turns) AS turns FROM usage_daily WHERE day >= ?
     GROUP BY email, model`,
  );
  const sessionsByUser = db.query<{ email: string; sessions: number; turns: number }, [string]>(
    `SELECT email, count(DISTINCT session_id) AS sessions, sum(turns) AS turns
     FROM session_days WHERE day >= ? GROUP BY email`,
  );
  const lastActive = db.query<{ at: string }, [string]>(LAST_ACTIVE);
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
            cost: NO_COST,
            sessions: 0,
            turns: 0,
            lastActive: lastActive.get(row.email)?.at ?? null,
            windows: stored.get(row.email) ?? null,
          };
          users.set(row.email, user);
        }
        let model = models.get(row.model);
        if (!model) {
          model = {
            model: row.model,
            cost: NO_COST,
            users: 0,
            turns: 0,
            input: 0,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
          };
          models.set(row.model, model);
        }
        model.users++;
        model.turns += row.turns;
        addTokens(user, row);
        addTokens(model, row);
        const cost = totalCost(prices, [row]);
        user.cost = addCost(user.cost, cost);
        model.cost = addCost(model.cost, cost);
      }
      const totals = {
        users: users.size,
        sessions: 0,
        turns: 0,
        input: 0,
        output: 0,
        cacheRead: 0,
        cacheWrite: 0,
        cost: NO_COST,
      };
      for (const row of sessionsByUser.all(startDay)) {
        const user = users.get(row.email);
        if (!user) continue;
        user.sessions = row.sessions;
        user.turns = row.turns;
        totals.sessions += row.sessions;
        totals.turns += row.turns;
      }
      const divisionTotals = new Map<string | null, DivisionUsage>();
      for (const user of users.values()) {
        addTokens(totals, user);
        totals.cost = addCost(totals.cost, user.cost);
        let division = divisionTotals.get(user.division);
        if (!division) {
          division = {
            division: user.division,
            users: 0,
            cost: NO_COST,
            input: 0,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
          };
          divisionTotals.set(user.division, division);
        }
        division.users++;
        addTokens(division, user);
        division.cost = addCost(division.cost, user.cost);
      }
      const daily = new Map<string, DayUsage & { cost: Cost }>();
      for (const row of dailyByModel.all(startDay)) {
        let day = daily.get(row.day);
        if (!day) {
          day = { day: row.day, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: NO_COST };
          daily.set(row.day, day);
        }
        addTokens(day, row);
        day.cost = addCost(day.cost, totalCost(prices, [row]));
      }
      return {
        totals,
        daily: [...daily.values()],
        divisions: [...divisionTotals.values()],
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
