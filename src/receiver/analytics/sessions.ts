// Sessions and turns over any range of days, from the spans and per-day counts migration 13 keeps:
// a session counts in every range its first to last day overlaps, a turn on the day it ended.
import type { Database } from "../db/database.ts";
import type { DayRange } from "./ranges.ts";

export interface SessionCounts {
  sessions: number;
  turns: number;
}

export const NO_SESSIONS: SessionCounts = { sessions: 0, turns: 0 };

export function createSessionQueries(db: Database) {
  // Sessions in [from, to]: those started by its last day less those ended before its first.
  const everyone = db.query<SessionCounts, [string, string]>(
    `SELECT (SELECT coalesce(sum(started), 0) FROM org_session_days WHERE day <= ?2)
        - (SELECT coalesce(sum(ended), 0) FROM org_session_days WHERE day < ?1) AS sessions,
      (SELECT coalesce(sum(turns), 0) FROM org_session_days WHERE day >= ?1 AND day <= ?2) AS turns`,
  );
  const peopleSessions = db.query<{ email: string; sessions: number }, [string, string, string]>(
    `SELECT email, count(*) AS sessions FROM session_spans WHERE email IN (SELECT value FROM json_each(?1))
       AND first_day <= ?3 AND last_day >= ?2 GROUP BY email`,
  );
  const peopleTurns = db.query<{ email: string; turns: number }, [string, string, string]>(
    `SELECT email, sum(turns) AS turns FROM session_days WHERE email IN (SELECT value FROM json_each(?1))
       AND day >= ?2 AND day <= ?3 GROUP BY email`,
  );

  /** These people's sessions and turns in the range, by email; people with none are left out. */
  function sessionCounts(emails: readonly string[], range: DayRange): Map<string, SessionCounts> {
    const counts = new Map<string, SessionCounts>();
    const people = JSON.stringify(emails);
    for (const row of peopleSessions.all(people, range.from, range.to)) {
      counts.set(row.email, { sessions: row.sessions, turns: 0 });
    }
    for (const row of peopleTurns.all(people, range.from, range.to)) {
      counts.set(row.email, { sessions: counts.get(row.email)?.sessions ?? 0, turns: row.turns });
    }
    return counts;
  }

  return {
    sessionCounts,

    /** Everyone's sessions and turns in the range, or (with `emails`) only these people's. */
    sessionTotals(range: DayRange, emails: readonly string[] | null): SessionCounts {
      if (emails === null) return everyone.get(range.from, range.to) ?? NO_SESSIONS;
      const totals = { ...NO_SESSIONS };
      for (const counts of sessionCounts(emails, range).values()) {
        totals.sessions += counts.sessions;
        totals.turns += counts.turns;
      }
      return totals;
    },
  };
}
