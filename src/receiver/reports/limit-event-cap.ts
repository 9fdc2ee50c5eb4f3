// A cap on limit events per person: Claude Code reports a usage limit a few times a day at most,
// so more than this in 24 hours is a broken or hostile reporter filling the table.
import { toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";

/** New limit events one person may send in any 24 hours. */
export const MAX_LIMIT_EVENTS_PER_DAY = 100;
const DAY_MS = 86_400_000;

export function createLimitEventCap(db: Database, cap = MAX_LIMIT_EVENTS_PER_DAY) {
  const receivedSince = db.query<{ n: number }, [string, string]>(
    "SELECT count(*) AS n FROM limit_events WHERE email = ? AND received_at > ?",
  );
  const exists = db.query<{ one: number }, [string, string, string]>(
    "SELECT 1 AS one FROM limit_events WHERE email = ? AND session_id = ? AND timestamp_utc = ?",
  );
  return {
    /** Whether this event may be stored: under the cap, or already stored (a retry). */
    allows(email: string, sessionId: string, timestampUtc: string, now: number): boolean {
      return (
        receivedSince.get(email, toSqlTime(now - DAY_MS))!.n < cap ||
        exists.get(email, sessionId, timestampUtc) !== null
      );
    },
  };
}

export type LimitEventCap = ReturnType<typeof createLimitEventCap>;
