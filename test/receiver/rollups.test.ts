// Reports stored as one batch (demo-data's fill) leave every table as storing them one by one
// (POST /report) does: the batch sums rollup rows in memory and writes each once.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ModelUsage, type Report, toRfc3339 } from "../../src/protocol/index.ts";
import { seededRandom } from "../../src/receiver/cli/demo-data.ts";
import { type Config, loadConfig } from "../../src/receiver/config.ts";
import { type Database, openDatabase } from "../../src/receiver/db/database.ts";
import type { Delivery } from "../../src/receiver/reports/service.ts";
import { createServices } from "../../src/receiver/services.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-rollups-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = Date.parse("2026-11-27T12:30:00Z");
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

let files = 0;
function fresh() {
  const path = join(dir, `db-${files++}.db`);
  const config: Config = loadConfig({ DATABASE_PATH: path, ADMIN_TOKEN: "t" });
  const db = openDatabase(path);
  return { db, services: createServices(db, config) };
}

const MODELS = ["claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"];

/**
 * Turns of three people over ten days, with what real deliveries bring: several models in a turn,
 * calls split over hours (some across midnight), retries, a turn sent again with a model more, a
 * clock in the future, and a session reaching into the next day.
 */
function deliveries(seed: number): Delivery[] {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => Math.floor(low + random() * (high - low));
  const usage = (hours: number[]): ModelUsage => {
    const split = hours.map((hour) => ({
      hour,
      counts: {
        input_tokens: between(1, 900),
        output_tokens: between(1, 900),
        cache_read_tokens: between(0, 9000),
        cache_write_tokens: between(0, 900),
      },
    }));
    const sum = (kind: keyof (typeof split)[number]["counts"]) =>
      split.reduce((total, part) => total + part.counts[kind], 0);
    const cacheWrite = sum("cache_write_tokens");
    const result: ModelUsage = {
      input_tokens: sum("input_tokens"),
      output_tokens: sum("output_tokens"),
      cache_read_tokens: sum("cache_read_tokens"),
      cache_write_tokens: cacheWrite,
      cache_write_5m_tokens: Math.floor(cacheWrite / 2),
      cache_write_1h_tokens: cacheWrite - Math.floor(cacheWrite / 2),
      requests: split.length,
    };
    if (random() < 0.3) result.subagent = { ...split[0]!.counts };
    if (split.length > 1 || random() < 0.3)
      result.hours = Object.fromEntries(split.map((part) => [toRfc3339(part.hour), part.counts]));
    return result;
  };
  const list: Delivery[] = [];
  for (let person = 0; person < 3; person++) {
    const who = { email: `p${person}@example.org`, refreshTokenId: person + 1 };
    const signer = { publicKey: `key-${person}`, deviceId: `device-${person}` };
    for (let day = 10; day >= 1; day--) {
      for (let session = 0; session < 3; session++) {
        const sessionId = `s-${person}-${day}-${session}`;
        // Morning, afternoon, and a late session that runs past midnight.
        let at = Math.floor(NOW / DAY_MS) * DAY_MS - day * DAY_MS + [9, 14, 23.5][session]! * HOUR_MS;
        for (let turn = 0; turn < between(1, 6); turn++) {
          at += between(1, 50) * 60_000;
          const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
          const calls = random() < 0.3 ? [hour - 2 * HOUR_MS, hour - HOUR_MS, hour] : [hour];
          const models: Record<string, ModelUsage> = { [MODELS[between(0, 3)]!]: usage(calls) };
          if (random() < 0.3) models[MODELS[2]!] = usage([hour]);
          const report: Report = {
            schema_version: 2,
            session_id: sessionId,
            turn_index: turn,
            timestamp_utc: toRfc3339(at),
            session_start_utc: toRfc3339(at - HOUR_MS),
            models,
          };
          const receivedAt = at + between(1, 600) * 1000;
          list.push({ who, report, signer, receivedAt });
          if (random() < 0.15) list.push({ who, report, signer, receivedAt: receivedAt + 60_000 });
          if (random() < 0.1) {
            // Sent again with a model the first delivery did not have.
            const more = { ...models, "claude-other-1": usage([hour]) };
            list.push({ who, report: { ...report, models: more }, signer, receivedAt: receivedAt + 120_000 });
          }
          if (random() < 0.05) {
            // A clock a day fast: stored at its receive time, its split not trusted.
            const ahead = { ...report, turn_index: turn + 100, timestamp_utc: toRfc3339(at + DAY_MS) };
            list.push({ who, report: ahead, signer, receivedAt });
          }
        }
      }
    }
  }
  return list;
}

const TABLES = [
  "usage_events",
  "usage_daily",
  "usage_hourly",
  "session_days",
  "session_spans",
  "org_session_days",
  "usage_org_daily",
  "usage_cumulative",
  "user_models",
];

function contents(db: Database): Record<string, unknown[]> {
  const all: Record<string, unknown[]> = {};
  for (const table of TABLES) all[table] = db.query(`SELECT * FROM ${table} ORDER BY 1, 2, 3, 4`).all();
  // How often a past day was written differs (a batch writes each row once); which days were
  // written does not.
  all.usage_day_writes = db.query("SELECT day FROM usage_day_writes WHERE writes > 0 ORDER BY day").all();
  return all;
}

test("a batch of reports leaves every table as storing them one by one does", () => {
  const list = deliveries(11);
  const oneByOne = fresh();
  const batch = fresh();
  let storedOneByOne = 0;
  for (const delivery of list) {
    oneByOne.db.transaction(() => {
      storedOneByOne += oneByOne.services.reports.store(
        delivery.who,
        delivery.report,
        delivery.signer,
        delivery.receivedAt,
      );
    })();
  }
  const storedInBatch = batch.db.transaction(() => batch.services.reports.storeAll(list))();

  expect(storedInBatch).toBe(storedOneByOne);
  const expected = contents(oneByOne.db);
  // The fixture holds what it claims: retries, splits across midnight, a model sent late, fast clocks.
  expect(expected.usage_events!.length).toBe(storedOneByOne);
  expect(storedOneByOne).toBeLessThan(list.reduce((n, d) => n + Object.keys(d.report.models).length, 0));
  const count = (sql: string) => (oneByOne.db.query(sql).get() as { n: number }).n;
  expect(
    count(
      "SELECT count(*) AS n FROM usage_events, json_each(hours) WHERE substr(key, 1, 10) != substr(event_at, 1, 10)",
    ),
  ).toBeGreaterThan(0);
  expect(count("SELECT count(DISTINCT model) AS n FROM usage_daily")).toBe(4);
  expect(
    count("SELECT count(*) AS n FROM usage_events WHERE hours IS NULL AND event_at = received_at"),
  ).toBeGreaterThan(0);
  expect(contents(batch.db)).toEqual(expected);
});

test("a batch stored twice adds nothing the second time", () => {
  const list = deliveries(12);
  const { db, services } = fresh();
  const first = db.transaction(() => services.reports.storeAll(list))();
  const before = contents(db);
  expect(first).toBeGreaterThan(0);
  expect(db.transaction(() => services.reports.storeAll(list))()).toBe(0);
  expect(contents(db)).toEqual(before);
});
