// Files in the field are at every schema version; each start takes them forward.

import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configure, migrate, openDatabase, schemaVersion } from "../../src/receiver/db/database.ts";
import { MIGRATIONS } from "../../src/receiver/db/migrations.ts";
import { sqlite3 } from "../support/receiver.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-migrations-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a version-1 file with data is taken to the current version, keeping its data", () => {
  const path = join(dir, "v1.db");
  const v1 = new Database(path, { create: true, strict: true });
  configure(v1);
  migrate(v1, MIGRATIONS.slice(0, 1));
  expect(schemaVersion(v1)).toBe(1);
  v1.close();
  sqlite3(
    path,
    "INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('rtok_old', 'old@example.org', 'eng', datetime('now', '+365 days'));",
  );

  const current = openDatabase(path);
  expect(schemaVersion(current)).toBe(MIGRATIONS.length);
  current.close();
  expect(sqlite3(path, "SELECT email, division, id FROM refresh_tokens;")).toBe("old@example.org|eng|1");
  expect(sqlite3(path, "PRAGMA integrity_check;")).toBe("ok");
});

test("usage stored before the range rollups existed fills them when the file is taken forward", () => {
  const path = join(dir, "v8.db");
  const v8 = new Database(path, { create: true, strict: true });
  configure(v8);
  migrate(v8, MIGRATIONS.slice(0, 8));
  v8.close();
  sqlite3(
    path,
    `INSERT INTO usage_daily (email, day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns) VALUES
       ('a@example.org', '2026-11-01', 'm', 10, 1, 0, 0, 1), ('a@example.org', '2026-11-05', 'm', 20, 2, 0, 0, 2),
       ('b@example.org', '2026-11-05', 'm', 7, 0, 0, 0, 1);`,
  );
  openDatabase(path).close();
  expect(
    sqlite3(path, "SELECT email, day, input_tokens, turns, active_days FROM usage_cumulative ORDER BY 1, 2;"),
  ).toBe("a@example.org|2026-11-01|10|1|1\na@example.org|2026-11-05|30|3|2\nb@example.org|2026-11-05|7|1|1");
  expect(sqlite3(path, "SELECT email, first_day, last_day FROM user_models ORDER BY 1;")).toBe(
    "a@example.org|2026-11-01|2026-11-05\nb@example.org|2026-11-05|2026-11-05",
  );
  expect(sqlite3(path, "SELECT day, input_tokens FROM usage_org_daily ORDER BY 1;")).toBe(
    "2026-11-01|10\n2026-11-05|27",
  );
});

test("a fresh file gets the whole schema, the guide's tables exactly as PROTOCOL §5 lists them first", () => {
  const path = join(dir, "fresh.db");
  openDatabase(path).close();
  expect(
    sqlite3(path, "SELECT group_concat(name, ',') FROM pragma_table_info('refresh_tokens') WHERE cid < 6;"),
  ).toBe("token,email,division,expires_at,revoked,created_at");
  expect(
    sqlite3(path, "SELECT group_concat(name, ',') FROM pragma_table_info('device_keys') WHERE cid < 6;"),
  ).toBe("public_key,email,device_id,registered_at,last_seen_at,revoked");
  expect(sqlite3(path, "PRAGMA journal_mode;")).toBe("wal");
});

test("a file from a newer receiver is refused with advice, not damaged", () => {
  const path = join(dir, "newer.db");
  openDatabase(path).close();
  sqlite3(path, `PRAGMA user_version = ${MIGRATIONS.length + 1};`);
  expect(() => openDatabase(path)).toThrow(/newer than this receiver knows/);
  expect(sqlite3(path, "PRAGMA user_version;")).toBe(String(MIGRATIONS.length + 1));
});

test("a file that is not a database is refused with a message naming DATABASE_PATH", () => {
  const path = join(dir, "garbage.db");
  writeFileSync(path, "not sqlite ".repeat(100));
  expect(() => openDatabase(path)).toThrow(/DATABASE_PATH=.*garbage\.db: cannot open the database/);
});

test("last active: the latest hour of each user gets the time of their latest turn; older hours stay empty", () => {
  const path = join(dir, "last-active.db");
  const before = new Database(path, { create: true, strict: true });
  configure(before);
  migrate(
    before,
    MIGRATIONS.slice(
      0,
      MIGRATIONS.findIndex((m) => m.includes("ADD COLUMN last_event_at")),
    ),
  );
  const event = (email: string, session: string, at: string) =>
    before.run(
      `INSERT INTO usage_events (email, session_id, turn_index, model, event_at, received_at, input_tokens,
         output_tokens, cache_read_tokens, cache_write_tokens, schema_version)
       VALUES (?, ?, 0, 'm', ?, ?, 1, 1, 1, 1, 1)`,
      [email, session, at, at],
    );
  event("a@example.org", "s1", "2026-11-26 09:12:00");
  event("a@example.org", "s2", "2026-11-27 10:41:07");
  event("a@example.org", "s3", "2026-11-27 10:05:00");
  event("b@example.org", "s1", "2026-11-20 23:59:59");
  for (const [email, hour] of [
    ["a@example.org", "2026-11-26 09:00:00"],
    ["a@example.org", "2026-11-27 10:00:00"],
    ["b@example.org", "2026-11-20 23:00:00"],
  ])
    before.run("INSERT INTO usage_hourly (email, hour, turns) VALUES (?, ?, 1)", [email!, hour!]);
  before.close();

  openDatabase(path).close();
  expect(
    sqlite3(path, "SELECT email, hour, coalesce(last_event_at, '-') FROM usage_hourly ORDER BY email, hour;"),
  ).toBe(
    [
      "a@example.org|2026-11-26 09:00:00|-",
      "a@example.org|2026-11-27 10:00:00|2026-11-27 10:41:07",
      "b@example.org|2026-11-20 23:00:00|2026-11-20 23:59:59",
    ].join("\n"),
  );
});
