// Files in the field are at every schema version; each start takes them forward.

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LimitEvent, type Report, toRfc3339 } from "../../src/protocol/index.ts";
import { configure, migrate, openDatabase, schemaVersion } from "../../src/receiver/db/database.ts";
import { MIGRATIONS } from "../../src/receiver/db/migrations.ts";
import { createReportService } from "../../src/receiver/reports/service.ts";
import { createTokenService } from "../../src/receiver/tokens/service.ts";
import { sqlite3 } from "../support/receiver.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-migrations-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A new file in the test folder with the first `version` migrations run, as an older receiver left it. */
function fileAtVersion(name: string, version: number): string {
  const path = join(dir, name);
  const old = new Database(path, { create: true, strict: true });
  configure(old);
  migrate(old, MIGRATIONS.slice(0, version));
  old.close();
  return path;
}

test("a version-1 file with data is taken to the current version, keeping its data", () => {
  const path = fileAtVersion("v1.db", 1);
  expect(sqlite3(path, "PRAGMA user_version;")).toBe("1");
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
  const path = fileAtVersion("v10.db", 10);
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
  expect(
    sqlite3(
      path,
      "SELECT email, input_tokens, output_tokens, turns, active_days FROM user_models ORDER BY 1;",
    ),
  ).toBe("a@example.org|30|3|3|2\nb@example.org|7|0|1|1");
  expect(sqlite3(path, "SELECT email, first_day, last_day FROM user_models ORDER BY 1;")).toBe(
    "a@example.org|2026-11-01|2026-11-05\nb@example.org|2026-11-05|2026-11-05",
  );
  expect(sqlite3(path, "SELECT day, input_tokens FROM usage_org_daily ORDER BY 1;")).toBe(
    "2026-11-01|10\n2026-11-05|27",
  );
});

test("a fresh file gets the whole schema, the guide's tables exactly as docs/protocol.md §5 lists them first", () => {
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

describe("emails are one person whatever their spelling", () => {
  const EMAILS = MIGRATIONS.findIndex((sql) => sql.includes("refresh_tokens_normalise_email"));
  const config = { accessTokenExpirySecs: 3600, refreshTokenRollingDays: 90 };
  const at = Date.parse("2026-11-30T10:15:00Z");
  const usage = (n: number) => ({
    input_tokens: n,
    output_tokens: 2 * n,
    cache_read_tokens: 3 * n,
    cache_write_tokens: 4 * n,
    requests: 1,
  });
  const turn = (session: string, index: number, hour: number, models: string[]): Report => ({
    schema_version: 2,
    session_id: session,
    turn_index: index,
    timestamp_utc: toRfc3339(at + hour * 3_600_000),
    models: Object.fromEntries(models.map((m, i) => [m, usage(10 * (index + 1) + i)])),
  });
  // What each spelling sent. The second spelling re-sent turn 1 of s1 (a report queued under the
  // old token and retried under the new one): the merge must count it once.
  const UPPER: Report[] = [turn("s1", 0, 0, ["opus", "sonnet"]), turn("s1", 1, 1, ["opus"])];
  const LOWER: Report[] = [turn("s1", 1, 1, ["opus"]), turn("s2", 0, 30, ["sonnet"])];
  const events = {
    usage_events:
      "SELECT email, session_id, turn_index, model, event_at, input_tokens, requests FROM usage_events ORDER BY 2, 3, 4;",
    limit_events: "SELECT email, session_id, timestamp_utc, kind FROM limit_events ORDER BY 2, 3;",
  };
  // What the rollups must hold after the merge: each spelling's rows added up under the lower-case one.
  const merged = {
    usage_daily: `SELECT lower(email), day, model, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
        sum(cache_write_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(requests),
        sum(subagent_input_tokens), sum(subagent_output_tokens), sum(subagent_cache_read_tokens),
        sum(subagent_cache_write_tokens), sum(turns)
      FROM usage_daily GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;`,
    usage_hourly: `SELECT lower(email), hour, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
        sum(cache_write_tokens), sum(turns), max(last_event_at) FROM usage_hourly GROUP BY 1, 2 ORDER BY 1, 2;`,
    session_days:
      "SELECT lower(email), day, session_id, sum(turns) FROM session_days GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;",
  };
  const limit = (session: string): LimitEvent => ({
    schema_version: 2,
    session_id: session,
    timestamp_utc: toRfc3339(at),
    kind: "rate_limit",
  });

  test("a file at the previous version: spellings merged, history kept once, UNIQUE keys intact", () => {
    const path = fileAtVersion("emails.db", EMAILS);
    // Provisioned twice by hand, in two spellings, as the guide's INSERT allowed.
    sqlite3(
      path,
      `INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('rtok_a', 'DUP@Example.org', datetime('now', '+365 days'));
       INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('rtok_b', 'dup@example.org', datetime('now', '+365 days'));
       INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('rtok_c', 'other@example.org', datetime('now', '+365 days'));
       INSERT INTO device_keys (public_key, email, device_id) VALUES ('k1', 'DUP@Example.org', 'laptop');
       INSERT INTO user_models (email, model) VALUES ('DUP@Example.org', 'opus'), ('DUP@Example.org', 'sonnet'),
         ('dup@example.org', 'opus');`,
    );
    const before = new Database(path, { strict: true });
    const reports = createReportService(before);
    before.transaction(() => {
      for (const report of UPPER)
        reports.store({ email: "DUP@Example.org", refreshTokenId: 1 }, report, null, at);
      for (const report of LOWER)
        reports.store({ email: "dup@example.org", refreshTokenId: 2 }, report, null, at);
      reports.store({ email: "other@example.org", refreshTokenId: 3 }, turn("o", 0, 0, ["opus"]), null, at);
      reports.storeLimitEvent({ email: "DUP@Example.org", refreshTokenId: 1 }, limit("s1"), null, at);
      reports.storeLimitEvent({ email: "dup@example.org", refreshTokenId: 2 }, limit("s1"), null, at);
    })();
    before.close();
    const rollups = Object.fromEntries(
      Object.entries(merged).map(([table, query]) => [table, sqlite3(path, query)]),
    );
    expect(rollups.usage_daily).toContain("DUP@Example.org".toLowerCase());

    // The same events, as one person would have sent them to a receiver with this fix.
    const expectedPath = join(dir, "emails-expected.db");
    const expected = openDatabase(expectedPath);
    const direct = createReportService(expected);
    expected.transaction(() => {
      for (const report of [...UPPER, ...LOWER])
        direct.store({ email: "dup@example.org", refreshTokenId: 1 }, report, null, at);
      direct.store({ email: "other@example.org", refreshTokenId: 3 }, turn("o", 0, 0, ["opus"]), null, at);
      direct.storeLimitEvent({ email: "dup@example.org", refreshTokenId: 1 }, limit("s1"), null, at);
    })();
    expected.close();

    openDatabase(path).close();
    expect(sqlite3(path, "SELECT email, token FROM refresh_tokens ORDER BY token;")).toBe(
      "dup@example.org|rtok_a\ndup@example.org|rtok_b\nother@example.org|rtok_c",
    );
    expect(sqlite3(path, "SELECT email FROM device_keys;")).toBe("dup@example.org");
    expect(sqlite3(path, "SELECT email, model FROM user_models WHERE email LIKE 'dup%' ORDER BY 2;")).toBe(
      "dup@example.org|opus\ndup@example.org|sonnet",
    );
    for (const [table, query] of Object.entries(events))
      expect(`${table}:\n${sqlite3(path, query)}`).toBe(`${table}:\n${sqlite3(expectedPath, query)}`);
    for (const table of Object.keys(merged))
      expect(`${table}:\n${sqlite3(path, `SELECT * FROM ${table} ORDER BY 1, 2, 3;`)}`).toBe(
        `${table}:\n${rollups[table]}`,
      );
    expect(
      sqlite3(path, "SELECT count(*) FROM usage_events WHERE session_id = 's1' AND turn_index = 1;"),
    ).toBe("1");
    expect(sqlite3(path, "PRAGMA integrity_check;")).toBe("ok");
    expect(sqlite3(path, "PRAGMA foreign_key_check;")).toBe("");
  });

  test("the guide's hand-typed INSERT and UPDATE are normalised as they are written", () => {
    const path = join(dir, "emails-typed.db");
    openDatabase(path).close();
    sqlite3(
      path,
      `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('rtok_x', ' JSmith@Example.ORG ', 'eng', datetime('now', '+365 days'));`,
    );
    expect(sqlite3(path, "SELECT email, id FROM refresh_tokens;")).toBe("jsmith@example.org|1");
    sqlite3(path, "UPDATE refresh_tokens SET email = 'J.Smith@Example.org' WHERE token = 'rtok_x';");
    expect(sqlite3(path, "SELECT email FROM refresh_tokens;")).toBe("j.smith@example.org");
    // And the token service finds the person by any spelling.
    const db = openDatabase(path);
    try {
      const tokens = createTokenService(db, config);
      expect(tokens.list(" J.SMITH@example.org").map((t) => t.email)).toEqual(["j.smith@example.org"]);
      expect(tokens.revokeEmail("J.Smith@EXAMPLE.org")).toBe(1);
    } finally {
      db.close();
    }
  });
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

test("sessions stored before the spans existed fill them when the file is taken forward", () => {
  const path = fileAtVersion("v12.db", 12);
  sqlite3(
    path,
    `INSERT INTO session_days (email, day, session_id, turns) VALUES
       ('a@example.org', '2026-11-01', 's1', 2), ('a@example.org', '2026-11-03', 's1', 1),
       ('a@example.org', '2026-11-03', 's2', 4), ('b@example.org', '2026-11-02', 's1', 0);`,
  );
  openDatabase(path).close();
  expect(
    sqlite3(path, "SELECT email, session_id, first_day, last_day FROM session_spans ORDER BY 1, 2;"),
  ).toBe(
    "a@example.org|s1|2026-11-01|2026-11-03\na@example.org|s2|2026-11-03|2026-11-03\nb@example.org|s1|2026-11-02|2026-11-02",
  );
  expect(sqlite3(path, "SELECT day, started, ended, turns FROM org_session_days ORDER BY day;")).toBe(
    "2026-11-01|1|0|2\n2026-11-02|1|1|0\n2026-11-03|1|2|5",
  );
});
