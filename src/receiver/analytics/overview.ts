// The overview page's figures over any range of days: per person, model, division and day, limit
// hits by type, and the same headline figures for the period before. Each person's totals come
// from the running totals (pair-totals.ts: whatever the range spans), the days from the
// organisation's daily rollup; never a scan of raw events.
import type { Database } from "../db/database.ts";
import { addCost, type Cost, NO_COST, type PricedUsage, totalCost } from "./cost.ts";
import { createEstimateReader, type WindowFigures } from "./estimates.ts";
import { createPairTotals } from "./pair-totals.ts";
import type { PriceTable } from "./prices.ts";
import { type DayRange, dayOf, previousRange, windowRangeFor } from "./ranges.ts";
import { createSessionQueries, type SessionCounts } from "./sessions.ts";
import { addTokens, CACHE_SPLIT_SUMS, type DayUsage, LAST_ACTIVE, type TokenTotals } from "./totals.ts";

/** Claude Code's limit types as stored (limit_events.limit_type); "" when a reporter sent none. */
export const LIMIT_TYPES = ["five_hour", "seven_day", "seven_day_opus", "seven_day_sonnet"] as const;
export type LimitType = (typeof LIMIT_TYPES)[number] | "other";

export function limitTypeOf(stored: string | null): LimitType {
  return (LIMIT_TYPES as readonly string[]).includes(stored ?? "") ? (stored as LimitType) : "other";
}

export interface LimitHits {
  total: number;
  byType: Record<LimitType, number>;
  /** Distinct UTC days with a hit. */
  days: number;
  /** The newest hit's time (SQL time, UTC); null when there is none. */
  last: string | null;
}

export interface PersonUsage extends TokenTotals {
  email: string;
  division: string | null;
  cost: Cost;
  /** Days with usage in the range (on the model used on the most days). */
  activeDays: number;
  limits: LimitHits;
  /** Stored 5-hour window figures for the range (see `windowRange`). */
  windows: WindowFigures | null;
}

export interface ModelUsage extends TokenTotals {
  model: string;
  cost: Cost;
  users: number;
  /** Turns that used this model (a turn on two models counts for each). */
  turns: number;
}

export interface DivisionUsage extends TokenTotals {
  /** null: people with no division. */
  division: string | null;
  users: number;
  cost: Cost;
  limitUsers: number;
  limitHits: number;
}

export interface Headline extends TokenTotals {
  cost: Cost;
  /** People with usage in the range. */
  activeUsers: number;
  limitHits: number;
  /** People with at least one limit hit. */
  limitUsers: number;
}

export interface Overview {
  range: DayRange;
  /** Which stored window figures the range shows (a custom range borrows a fixed one). */
  windowRange: string;
  totals: Headline & SessionCounts;
  /** The same figures for the days just before; null for all time. */
  previous: Headline | null;
  /** Everyone with usage or a limit hit in the range, and every holder of a live token. */
  people: PersonUsage[];
  daily: (DayUsage & { cost: Cost })[];
  limitDaily: { day: string; byType: Record<LimitType, number> }[];
  models: ModelUsage[];
  divisions: DivisionUsage[];
  /** Every division anyone has, for the filter. */
  divisionNames: string[];
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

/** When the newest of these stored figures was computed; null when there are none. */
function newestOf(figures: Iterable<WindowFigures>): string | null {
  let newest: string | null = null;
  for (const f of figures) if (newest === null || f.computedAt > newest) newest = f.computedAt;
  return newest;
}

function noHits(): LimitHits {
  return {
    total: 0,
    byType: { five_hour: 0, seven_day: 0, seven_day_opus: 0, seven_day_sonnet: 0, other: 0 },
    days: 0,
    last: null,
  };
}

const ORG_SUMS = `sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cache_read_tokens) AS cacheRead,
  sum(cache_write_tokens) AS cacheWrite, ${CACHE_SPLIT_SUMS}`;

export function createOverviewQueries(db: Database, prices: PriceTable) {
  const estimates = createEstimateReader(db);
  const { pairTotals } = createPairTotals(db);
  const { sessionTotals } = createSessionQueries(db);
  const orgDaily = db.query<PricedUsage & { day: string }, [string, string]>(
    `SELECT day, model, ${ORG_SUMS} FROM usage_org_daily WHERE day >= ? AND day <= ? GROUP BY day, model`,
  );
  // A division's days: its people's rows of usage_daily, one index range per person.
  const peopleDaily = db.query<PricedUsage & { day: string }, [string, string, string]>(
    `SELECT day, model, ${ORG_SUMS} FROM usage_daily
     WHERE email IN (SELECT value FROM json_each(?)) AND day >= ? AND day <= ? GROUP BY day, model`,
  );
  const limitHits = db.query<
    { email: string; type: string | null; hits: number; last: string; days: number },
    [string, string]
  >(
    `SELECT email, limit_type AS type, count(*) AS hits, max(event_at) AS last,
       count(DISTINCT substr(event_at, 1, 10)) AS days
     FROM limit_events WHERE event_at >= ? AND event_at < ? GROUP BY email, limit_type`,
  );
  // Everyone's hits per day, or (?3 a JSON list) only these people's; the time index finds the days.
  const limitDaily = db.query<
    { day: string; type: string | null; hits: number },
    [string, string, string | null]
  >(
    `SELECT substr(event_at, 1, 10) AS day, limit_type AS type, count(*) AS hits
     FROM limit_events WHERE event_at >= ?1 AND event_at < ?2
       AND (?3 IS NULL OR email IN (SELECT value FROM json_each(?3)))
     GROUP BY day, limit_type ORDER BY day`,
  );
  // Later tokens win: ORDER BY id makes the newest division the one kept.
  const divisions = db.query<{ email: string; division: string | null; live: number }, [string]>(
    `SELECT email, nullif(division, '') AS division, revoked = 0 AND expires_at > ? AS live
     FROM refresh_tokens ORDER BY id`,
  );
  const recentTurns = db.query<RecentEvent, [number]>(
    `SELECT 'turn' AS kind, received_at AS receivedAt, event_at AS eventAt, email, device_id AS deviceId, model,
       input_tokens AS input, output_tokens AS output, cache_read_tokens AS cacheRead, cache_write_tokens AS cacheWrite
     FROM usage_events ORDER BY id DESC LIMIT ?`,
  );
  const recentLimits = db.query<RecentEvent, [number]>(
    `SELECT 'limit' AS kind, received_at AS receivedAt, event_at AS eventAt, email, device_id AS deviceId,
       coalesce(limit_type, kind) AS model, 0 AS input, 0 AS output, 0 AS cacheRead, 0 AS cacheWrite
     FROM limit_events ORDER BY id DESC LIMIT ?`,
  );
  const lastActive = db.query<{ at: string }, [string]>(LAST_ACTIVE);

  /** Limit hits per person in the range (event times from its first day to the end of its last). */
  function hitsByPerson(range: DayRange): Map<string, LimitHits> {
    const byPerson = new Map<string, LimitHits>();
    for (const row of limitHits.all(`${range.from} 00:00:00`, `${range.to} 24:00:00`)) {
      const hits = byPerson.get(row.email) ?? noHits();
      hits.total += row.hits;
      hits.byType[limitTypeOf(row.type)] += row.hits;
      // Days of different types may coincide: the larger count is the lower bound that is sure.
      hits.days = Math.max(hits.days, row.days);
      if (hits.last === null || row.last > hits.last) hits.last = row.last;
      byPerson.set(row.email, hits);
    }
    return byPerson;
  }

  /** Headline figures from the range's usage (days, or people's pair totals) and limit hits. */
  function headline(
    usage: Iterable<PricedUsage>,
    hits: Map<string, LimitHits>,
    include: (email: string) => boolean,
    activeUsers: number,
  ): Headline {
    const totals: Headline = {
      input: 0,
      output: 0,
      cacheRead: 0,
      cacheWrite: 0,
      cost: NO_COST,
      activeUsers,
      limitHits: 0,
      limitUsers: 0,
    };
    for (const row of usage) {
      addTokens(totals, row);
      totals.cost = addCost(totals.cost, totalCost(prices, [row]));
    }
    for (const [email, h] of hits) {
      if (!include(email)) continue;
      totals.limitHits += h.total;
      totals.limitUsers++;
    }
    return totals;
  }

  /** The range's usage per day and model: everyone's, or only these people's. */
  function days(range: DayRange, emails: readonly string[] | null): (PricedUsage & { day: string })[] {
    return emails === null
      ? orgDaily.all(range.from, range.to)
      : peopleDaily.all(JSON.stringify(emails), range.from, range.to);
  }

  return {
    /**
     * The range's figures; with `division` (a name, or "" for people with none) only that
     * division's people count.
     */
    overview(range: DayRange, now: number, division: string | null = null): Overview {
      const divisionOf = new Map<string, string | null>();
      const live = new Set<string>();
      const names = new Set<string>();
      for (const row of divisions.all(new Date(now).toISOString().replace("T", " ").slice(0, 19))) {
        divisionOf.set(row.email, row.division);
        if (row.division !== null) names.add(row.division);
        if (row.live) live.add(row.email);
      }
      const include = (email: string) => division === null || (divisionOf.get(email) ?? "") === division;
      const windowRange = windowRangeFor(range, now);
      const stored = estimates.forRange(windowRange);
      const today = dayOf(now);
      const pairs = pairTotals(range, today);
      const hits = hitsByPerson(range);

      const people = new Map<string, PersonUsage>();
      const person = (email: string): PersonUsage => {
        let found = people.get(email);
        if (!found) {
          found = {
            email,
            division: divisionOf.get(email) ?? null,
            input: 0,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
            cost: NO_COST,
            activeDays: 0,
            limits: hits.get(email) ?? noHits(),
            windows: stored.get(email) ?? null,
          };
          people.set(email, found);
        }
        return found;
      };
      const models = new Map<string, ModelUsage>();
      for (const pair of pairs) {
        if (!include(pair.email) || pair.turns <= 0) continue;
        const p = person(pair.email);
        const cost = totalCost(prices, [pair]);
        addTokens(p, pair);
        p.cost = addCost(p.cost, cost);
        p.activeDays = Math.max(p.activeDays, pair.activeDays);
        let model = models.get(pair.model);
        if (!model) {
          model = {
            model: pair.model,
            cost: NO_COST,
            users: 0,
            turns: 0,
            input: 0,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
          };
          models.set(pair.model, model);
        }
        model.users++;
        model.turns += pair.turns;
        addTokens(model, pair);
        model.cost = addCost(model.cost, cost);
      }
      // People who hit a limit, and holders of a live token, count even without usage in the range.
      for (const email of hits.keys()) if (include(email)) person(email);
      for (const email of live) if (include(email)) person(email);

      const byDivision = new Map<string | null, DivisionUsage>();
      for (const p of people.values()) {
        let d = byDivision.get(p.division);
        if (!d) {
          d = {
            division: p.division,
            users: 0,
            cost: NO_COST,
            limitUsers: 0,
            limitHits: 0,
            input: 0,
            output: 0,
            cacheRead: 0,
            cacheWrite: 0,
          };
          byDivision.set(p.division, d);
        }
        d.users++;
        addTokens(d, p);
        d.cost = addCost(d.cost, p.cost);
        d.limitHits += p.limits.total;
        if (p.limits.total > 0) d.limitUsers++;
      }

      const daily = new Map<string, DayUsage & { cost: Cost }>();
      // Under a filter, the division's people: those in the range, and anyone else in it.
      const members =
        division === null
          ? null
          : [...new Set([...people.keys(), ...[...divisionOf.keys()].filter(include)])];
      const dayRows = days(range, members);
      for (const row of dayRows) {
        let day = daily.get(row.day);
        if (!day) {
          day = { day: row.day, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: NO_COST };
          daily.set(row.day, day);
        }
        addTokens(day, row);
        day.cost = addCost(day.cost, totalCost(prices, [row]));
      }
      const hitDays = new Map<string, Record<LimitType, number>>();
      const memberList = members === null ? null : JSON.stringify(members);
      for (const row of limitDaily.all(`${range.from} 00:00:00`, `${range.to} 24:00:00`, memberList)) {
        const day = hitDays.get(row.day) ?? noHits().byType;
        day[limitTypeOf(row.type)] += row.hits;
        hitDays.set(row.day, day);
      }

      let active = 0;
      for (const p of people.values()) if (p.activeDays > 0) active++;
      // The period before, for the change figures: its people's pair totals, no days or sessions.
      const before = previousRange(range);
      const pairsBefore = before ? pairTotals(before, today).filter((pair) => include(pair.email)) : [];
      const activeBefore = new Set(pairsBefore.filter((p) => p.activeDays > 0).map((p) => p.email));
      return {
        range,
        windowRange,
        totals: { ...headline(dayRows, hits, include, active), ...sessionTotals(range, members) },
        previous: before && headline(pairsBefore, hitsByPerson(before), include, activeBefore.size),
        people: [...people.values()],
        daily: [...daily.values()].sort((a, b) => (a.day < b.day ? -1 : 1)),
        limitDaily: [...hitDays.entries()].map(([day, byType]) => ({ day, byType })),
        models: [...models.values()],
        divisions: [...byDivision.values()],
        divisionNames: [...names].sort(),
        tiersComputedAt: newestOf(stored.values()),
      };
    },

    /** When the person's latest turn was (any range): asked for the rows shown only. */
    lastActiveOf(email: string): string | null {
      return lastActive.get(email)?.at ?? null;
    },

    /** The last `limit` reported turn rows and limit events, newest first. */
    recentEvents(limit: number): RecentEvent[] {
      return [...recentTurns.all(limit), ...recentLimits.all(limit)]
        .sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : 0))
        .slice(0, limit);
    },
  };
}
