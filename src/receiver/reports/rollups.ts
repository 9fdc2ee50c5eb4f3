// The rollups a batch of reports adds to, summed in memory and then written with one upsert per
// row: a person's month of turns costs a write per day, hour and session-day, not several per
// turn, and each row's triggers (running totals, organisation sums) fire once. Every rollup is a
// sum (or, for an hour's last event, a maximum), so the rows come out as report-by-report upserts
// would make them.
import type { Database } from "../db/database.ts";

/** Input, output, cache read and cache write tokens. */
export type Counts = [input: number, output: number, cacheRead: number, cacheWrite: number];

/** A model's day beyond its Counts: cache write 5m and 1h, requests, sub-agent counts, turns. */
type DayExtras = [
  cacheWrite5m: number,
  cacheWrite1h: number,
  requests: number,
  subInput: number,
  subOutput: number,
  subCacheRead: number,
  subCacheWrite: number,
  turns: number,
];

const NO_EXTRAS: DayExtras = [0, 0, 0, 0, 0, 0, 0, 0];

interface DailyRow {
  email: string;
  day: string;
  model: string;
  sums: number[];
}

interface HourlyRow {
  email: string;
  hour: string;
  counts: Counts;
  turns: number;
  lastEventAt: string;
}

interface SessionDayRow {
  email: string;
  day: string;
  sessionId: string;
  turns: number;
}

/** Adds `more` (times `sign`) into `into`, position by position. */
export function addCounts(into: number[], more: readonly number[], sign = 1): void {
  for (let i = 0; i < more.length; i++) into[i]! += sign * more[i]!;
}

export function createRollupWriter(db: Database) {
  const addDaily = db.query<unknown, (string | number)[]>(
    `INSERT INTO usage_daily (email, day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
       cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens, subagent_output_tokens,
       subagent_cache_read_tokens, subagent_cache_write_tokens, turns)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (email, day, model) DO UPDATE SET
       input_tokens = input_tokens + excluded.input_tokens,
       output_tokens = output_tokens + excluded.output_tokens,
       cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
       cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
       cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
       cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
       requests = requests + excluded.requests,
       subagent_input_tokens = subagent_input_tokens + excluded.subagent_input_tokens,
       subagent_output_tokens = subagent_output_tokens + excluded.subagent_output_tokens,
       subagent_cache_read_tokens = subagent_cache_read_tokens + excluded.subagent_cache_read_tokens,
       subagent_cache_write_tokens = subagent_cache_write_tokens + excluded.subagent_cache_write_tokens,
       turns = turns + excluded.turns`,
  );
  const addHourly = db.query<unknown, [string, string, number, number, number, number, number, string]>(
    `INSERT INTO usage_hourly (email, hour, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns,
       last_event_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (email, hour) DO UPDATE SET
       input_tokens = input_tokens + excluded.input_tokens,
       output_tokens = output_tokens + excluded.output_tokens,
       cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
       cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
       turns = turns + excluded.turns,
       last_event_at = max(coalesce(last_event_at, ''), excluded.last_event_at)`,
  );
  const addSessionDay = db.query<unknown, [string, string, string, number]>(
    `INSERT INTO session_days (email, day, session_id, turns) VALUES (?, ?, ?, ?)
     ON CONFLICT (email, day, session_id) DO UPDATE SET turns = turns + excluded.turns`,
  );

  /** A batch's sums, written by `write()` inside the caller's transaction. */
  return () => {
    const daily = new Map<string, DailyRow>();
    const hourly = new Map<string, HourlyRow>();
    const sessionDays = new Map<string, SessionDayRow>();
    return {
      /** A model's tokens on a day; `extras` only on the day that keeps the turn. */
      day(email: string, day: string, model: string, counts: Counts, extras = NO_EXTRAS): void {
        const key = `${email}\n${day}\n${model}`;
        const sums = [...counts, ...extras];
        const row = daily.get(key);
        if (row) addCounts(row.sums, sums);
        else daily.set(key, { email, day, model, sums });
      },

      /** Tokens in an hour; `lastEventAt` is the latest event the hour is known to hold. */
      hour(email: string, hour: string, counts: Counts, turns: number, lastEventAt: string): void {
        const key = `${email}\n${hour}`;
        const row = hourly.get(key);
        if (row) {
          addCounts(row.counts, counts);
          row.turns += turns;
          if (lastEventAt > row.lastEventAt) row.lastEventAt = lastEventAt;
        } else hourly.set(key, { email, hour, counts: [...counts], turns, lastEventAt });
      },

      sessionDay(email: string, day: string, sessionId: string, turns: number): void {
        const key = `${email}\n${day}\n${sessionId}`;
        const row = sessionDays.get(key);
        if (row) row.turns += turns;
        else sessionDays.set(key, { email, day, sessionId, turns });
      },

      write(): void {
        for (const row of daily.values()) addDaily.run(row.email, row.day, row.model, ...row.sums);
        for (const row of hourly.values())
          addHourly.run(row.email, row.hour, ...row.counts, row.turns, row.lastEventAt);
        for (const row of sessionDays.values())
          addSessionDay.run(row.email, row.day, row.sessionId, row.turns);
      },
    };
  };
}

export type RollupBatch = ReturnType<ReturnType<typeof createRollupWriter>>;
