// Per-call timing (protocol v2 models[m].hours): each call's tokens in their own hour, day and window.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelUsage, Report } from "../../src/protocol/index.ts";
import { fixedRange } from "../../src/receiver/analytics/ranges.ts";
import { type Config, loadConfig } from "../../src/receiver/config.ts";
import { openDatabase } from "../../src/receiver/db/database.ts";
import { createServices } from "../../src/receiver/services.ts";
import type { Identity } from "../../src/receiver/tokens/service.ts";
import { sqlite3 } from "../support/receiver.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-hours-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = Date.parse("2026-11-27T12:30:00Z");
const who: Identity = { email: "night@example.org", refreshTokenId: 1 } as Identity;

let files = 0;
function fresh() {
  const path = join(dir, `db-${files++}.db`);
  const config: Config = loadConfig({ DATABASE_PATH: path, ADMIN_TOKEN: "t" });
  const db = openDatabase(path);
  return { path, db, services: createServices(db, config) };
}

const counts = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_tokens: cacheRead,
  cache_write_tokens: cacheWrite,
});

function report(turn: number, timestamp: string, usage: ModelUsage): Report {
  return {
    schema_version: 2,
    session_id: "night",
    turn_index: turn,
    timestamp_utc: timestamp,
    models: { opus: usage },
  };
}

/** A turn from 23:40 to 01:10 UTC: its calls lie in three hours over two days. */
const midnight: ModelUsage = {
  ...counts(60, 600, 6_000, 60),
  cache_write_5m_tokens: 50,
  cache_write_1h_tokens: 10,
  requests: 3,
  hours: {
    "2026-11-25T23:00:00Z": counts(10, 100, 1_000, 10),
    "2026-11-26T00:00:00Z": counts(20, 200, 2_000, 20),
    "2026-11-26T01:00:00Z": counts(30, 300, 3_000, 30),
  },
};

test("each hour, day and session-day gets its own calls' tokens; the turn stays with its last call", () => {
  const { path, services } = fresh();
  expect(services.reports.store(who, report(0, "2026-11-26T01:10:00Z", midnight), null, NOW)).toBe(1);
  // A retry stores nothing twice.
  expect(services.reports.store(who, report(0, "2026-11-26T01:10:00Z", midnight), null, NOW)).toBe(0);
  expect(
    sqlite3(
      path,
      "SELECT hour, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns FROM usage_hourly ORDER BY hour;",
    ),
  ).toBe(
    [
      "2026-11-25 23:00:00|10|100|1000|10|0",
      "2026-11-26 00:00:00|20|200|2000|20|0",
      "2026-11-26 01:00:00|30|300|3000|30|1",
    ].join("\n"),
  );
  expect(
    sqlite3(
      path,
      "SELECT day, input_tokens, output_tokens, cache_write_tokens, cache_write_5m_tokens, requests, turns FROM usage_daily ORDER BY day;",
    ),
  ).toBe(["2026-11-25|10|100|10|0|0|0", "2026-11-26|50|500|50|50|3|1"].join("\n"));
  expect(sqlite3(path, "SELECT day, turns FROM session_days ORDER BY day;")).toBe(
    "2026-11-25|0\n2026-11-26|1",
  );
  // The raw row keeps the whole turn and its split, so the rollups can be rebuilt from it.
  expect(
    sqlite3(
      path,
      "SELECT event_at, input_tokens, (SELECT sum(json_extract(value, '$.input_tokens')) FROM json_each(hours)) FROM usage_events;",
    ),
  ).toBe("2026-11-26 01:10:00|60|60");
});

test("the 5-hour window opens at the first call's hour, not at the turn's last call", () => {
  const { services } = fresh();
  services.reports.store(who, report(0, "2026-11-26T01:10:00Z", midnight), null, NOW);
  const windows = services.analytics.userWindows(who.email, fixedRange("all", NOW), NOW);
  expect(windows.map((w) => [new Date(w.start).toISOString(), w.billedTokens])).toEqual([
    ["2026-11-25T23:00:00.000Z", 660],
  ]);
});

test("a split that does not fit its report is not trusted: everything goes to the event's hour", () => {
  const { path, services } = fresh();
  const later = { ...midnight, hours: { ...midnight.hours } };
  // An hour after the report's own time.
  services.reports.store(who, report(0, "2026-11-26T00:10:00Z", later), null, NOW);
  // A report from the future is stored at its receive time, and its split with it.
  services.reports.store(who, report(1, "2027-01-01T00:10:00Z", midnight), null, NOW);
  expect(sqlite3(path, "SELECT hour, input_tokens, turns FROM usage_hourly ORDER BY hour;")).toBe(
    ["2026-11-26 00:00:00|60|1", "2026-11-27 12:00:00|60|1"].join("\n"),
  );
  expect(sqlite3(path, "SELECT count(*) FROM usage_events WHERE hours IS NULL;")).toBe("2");
});
