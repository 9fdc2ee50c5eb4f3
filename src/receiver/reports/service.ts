// Stores reports and limit events, and keeps the rollups in the same transaction.
import {
  type LimitEvent,
  type ModelUsage,
  parseRfc3339,
  type Report,
  type TokenCounts,
  toSqlTime,
} from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import type { Identity } from "../tokens/service.ts";
import { addCounts, type Counts, createRollupWriter, type RollupBatch } from "./rollups.ts";

/** The device a report was signed by; unsigned reports (REQUIRE_SIGNATURES off) have none. */
export interface Signer {
  publicKey: string;
  deviceId: string;
}

const FUTURE_TOLERANCE_MS = 10 * 60_000;
/**
 * How far before its receipt an event may be dated. Well past the 90-day rolling life of a refresh
 * token, beyond which no device that was offline can send anyway; a time further back is a broken
 * clock or a hostile report, and would stretch every all-time view over centuries.
 */
export const EVENT_HORIZON_DAYS = 400;
const HORIZON_MS = EVENT_HORIZON_DAYS * 86_400_000;

/**
 * How far after a limit event its reset may lie: the longest window (seven days) and a day's margin.
 * A reset outside it, or before the event, is a broken or hostile value and is stored as unknown.
 */
export const RESET_HORIZON_DAYS = 8;
const RESET_HORIZON_MS = RESET_HORIZON_DAYS * 86_400_000;

/**
 * A reporter's time, or null when it is missing, unparseable, more than 10 minutes in the future
 * or more than EVENT_HORIZON_DAYS in the past.
 */
export function boundedTime(timestamp: string, receivedAt: number): number | null {
  const at = parseRfc3339(timestamp);
  return at === null || at > receivedAt + FUTURE_TOLERANCE_MS || at < receivedAt - HORIZON_MS ? null : at;
}

/**
 * When the turn (or limit) happened: the reporter's time when it is within bounds, else the
 * receive time. Such a report is still stored, as docs/protocol.md says for future times, so no
 * turn is lost.
 */
export function eventTime(timestamp: string, receivedAt: number): number {
  return boundedTime(timestamp, receivedAt) ?? receivedAt;
}

/** A limit event's reset time, or null unless it lies from the event to RESET_HORIZON_DAYS after it. */
function resetTime(resetsAt: string, eventAt: number): number | null {
  const at = parseRfc3339(resetsAt);
  return at === null || at < eventAt || at > eventAt + RESET_HORIZON_MS ? null : at;
}

const HOUR_MS = 3_600_000;

/**
 * Where each call's tokens go: the model's `hours` split as (SQL hour, counts), or null to place
 * everything in the event's hour (no split, or one that does not fit the event: an hour after it, or
 * before the horizon, or a report whose own time was not taken).
 */
export function placeByHour(usage: ModelUsage, at: number, timeTaken: boolean): [string, Counts][] | null {
  if (!usage.hours || !timeTaken) return null;
  const eventHour = Math.floor(at / HOUR_MS) * HOUR_MS;
  const placed: [string, Counts][] = [];
  for (const [hour, counts] of Object.entries(usage.hours)) {
    const start = parseRfc3339(hour);
    if (start === null || start > eventHour || start < at - HORIZON_MS) return null;
    placed.push([toSqlTime(start), countsOf(counts)]);
  }
  return placed;
}

function countsOf(usage: TokenCounts): Counts {
  return [usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens];
}

/** A report as received: who sent it, signed by which device, and when it arrived. */
export interface Delivery {
  who: Identity;
  report: Report;
  signer: Signer | null;
  receivedAt: number;
}

type Row = [
  email: string,
  refreshTokenId: number,
  publicKey: string | null,
  deviceId: string,
  sessionId: string,
  turnIndex: number,
  model: string,
  eventAt: string,
  receivedAt: string,
  sessionStartAt: string | null,
  input: number,
  output: number,
  cacheRead: number,
  cacheWrite: number,
  cacheWrite5m: number | null,
  cacheWrite1h: number | null,
  requests: number | null,
  subInput: number | null,
  subOutput: number | null,
  subCacheRead: number | null,
  subCacheWrite: number | null,
  schemaVersion: number,
  pluginVersion: string | null,
  claudeCodeVersion: string | null,
  hours: string | null,
];

export function createReportService(db: Database) {
  const turnSeen = db.query<{ one: number }, [string, string, number]>(
    "SELECT 1 AS one FROM usage_events WHERE email = ? AND session_id = ? AND turn_index = ? LIMIT 1",
  );
  const insertEvent = db.query<unknown, Row>(
    `INSERT INTO usage_events (email, refresh_token_id, public_key, device_id, session_id, turn_index, model,
       event_at, received_at, session_start_at, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
       cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens, subagent_output_tokens,
       subagent_cache_read_tokens, subagent_cache_write_tokens, schema_version, plugin_version, claude_code_version,
       hours)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (email, session_id, turn_index, model) DO NOTHING`,
  );
  const rollups = createRollupWriter(db);
  const insertLimitEvent = db.query<
    unknown,
    [
      string,
      string,
      string,
      string,
      string,
      string | null,
      string | null,
      string | null,
      string | null,
      string,
      string,
    ]
  >(
    `INSERT INTO limit_events (email, session_id, timestamp_utc, event_at, kind, resets_at, limit_type, overage_status,
       public_key, device_id, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (email, session_id, timestamp_utc) DO NOTHING`,
  );

  // Inserts the report's new model rows and adds them to the batch's rollups.
  const storeInto = (batch: RollupBatch, { who, report, signer, receivedAt }: Delivery): number => {
    const at = eventTime(report.timestamp_utc, receivedAt);
    const timeTaken = at !== receivedAt || parseRfc3339(report.timestamp_utc) === receivedAt;
    const eventAt = toSqlTime(at);
    const eventHour = `${eventAt.slice(0, 13)}:00:00`;
    const day = eventAt.slice(0, 10);
    const newTurn = turnSeen.get(who.email, report.session_id, report.turn_index) === null;
    const sessionStart = report.session_start_utc ? boundedTime(report.session_start_utc, receivedAt) : null;
    // Per SQL hour, summed over the report's models; a turn's calls usually all lie in its last hour.
    const hourly = new Map<string, Counts>();
    const otherDays = new Set<string>();
    let stored = 0;
    for (const [model, usage] of Object.entries(report.models)) {
      const sub = usage.subagent;
      const placed = placeByHour(usage, at, timeTaken);
      const inserted = insertEvent.run(
        who.email,
        who.refreshTokenId,
        signer?.publicKey ?? null,
        signer?.deviceId ?? "",
        report.session_id,
        report.turn_index,
        model,
        eventAt,
        toSqlTime(receivedAt),
        sessionStart === null ? null : toSqlTime(sessionStart),
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_5m_tokens ?? null,
        usage.cache_write_1h_tokens ?? null,
        usage.requests ?? null,
        sub?.input_tokens ?? null,
        sub?.output_tokens ?? null,
        sub?.cache_read_tokens ?? null,
        sub?.cache_write_tokens ?? null,
        report.schema_version,
        report.plugin_version ?? null,
        report.claude_code_version ?? null,
        placed === null ? null : JSON.stringify(usage.hours),
      );
      if (inserted.changes === 0) continue; // a retry: this turn's model is already stored
      stored++;
      // The event's day keeps the turn, its requests, sub-agent part and cache split, and whatever
      // tokens no other day took; a turn that crossed midnight gives each day its own tokens.
      const onEventDay = countsOf(usage);
      for (const [hour, counts] of placed ?? [[eventHour, countsOf(usage)] as [string, Counts]]) {
        const sum = hourly.get(hour) ?? [0, 0, 0, 0];
        addCounts(sum, counts);
        hourly.set(hour, sum);
        const hourDay = hour.slice(0, 10);
        if (hourDay === day) continue;
        otherDays.add(hourDay);
        addCounts(onEventDay, counts, -1);
        batch.day(who.email, hourDay, model, counts);
      }
      batch.day(who.email, day, model, onEventDay, [
        usage.cache_write_5m_tokens ?? 0,
        usage.cache_write_1h_tokens ?? 0,
        usage.requests ?? 0,
        sub?.input_tokens ?? 0,
        sub?.output_tokens ?? 0,
        sub?.cache_read_tokens ?? 0,
        sub?.cache_write_tokens ?? 0,
        1,
      ]);
    }
    if (stored > 0) {
      const turns = newTurn ? 1 : 0;
      for (const [hour, counts] of hourly) {
        // An earlier hour of the turn: its calls' exact times are not sent, its start is a lower bound.
        const isEventHour = hour === eventHour;
        batch.hour(who.email, hour, counts, isEventHour ? turns : 0, isEventHour ? eventAt : hour);
      }
      batch.sessionDay(who.email, day, report.session_id, turns);
      for (const other of otherDays) batch.sessionDay(who.email, other, report.session_id, 0);
    }
    return stored;
  };

  const storeAll = (deliveries: Iterable<Delivery>): number => {
    const batch = rollups();
    let stored = 0;
    for (const delivery of deliveries) stored += storeInto(batch, delivery);
    batch.write();
    return stored;
  };

  return {
    /**
     * Stores what is new in the report; returns how many model rows were new (0 for a retry).
     * Its statements must land together, so it runs inside the caller's transaction (the write
     * queue gives each request a savepoint of its own) and opens none itself.
     */
    store(who: Identity, report: Report, signer: Signer | null, receivedAt: number): number {
      return storeAll([{ who, report, signer, receivedAt }]);
    },

    /**
     * Stores many reports at once, as `store` would one by one, writing each rollup row they touch
     * once (demo-data's fill); returns how many model rows were new. Runs inside the caller's
     * transaction.
     */
    storeAll,

    /** Returns whether the event was new. */
    storeLimitEvent(who: Identity, event: LimitEvent, signer: Signer | null, receivedAt: number): boolean {
      const at = eventTime(event.timestamp_utc, receivedAt);
      const resets = event.resets_at ? resetTime(event.resets_at, at) : null;
      const result = insertLimitEvent.run(
        who.email,
        event.session_id,
        event.timestamp_utc,
        toSqlTime(at),
        event.kind,
        resets === null ? null : toSqlTime(resets),
        event.limit_type ?? null,
        event.overage_status ?? null,
        signer?.publicKey ?? null,
        signer?.deviceId ?? "",
        toSqlTime(receivedAt),
      );
      return result.changes > 0;
    },
  };
}

export type ReportService = ReturnType<typeof createReportService>;
