// RAW_EVENT_RETENTION_DAYS: raw usage rows received before the horizon are pruned in the
// background, in batches, while the receiver goes on answering; the rollups, and the rows inside
// the horizon (which keep re-sent reports counted once), are kept.
import { afterEach, describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/receiver/config.ts";
import { Client, guideInsert, guideToken, report } from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

let receiver: TestReceiver | undefined;
afterEach(async () => {
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
  receiver = undefined;
});

describe("RAW_EVENT_RETENTION_DAYS", () => {
  test("unset or 0 keeps raw events forever; 30 days or more is taken; less is refused", () => {
    expect(loadConfig({}).rawEventRetentionDays).toBeUndefined();
    expect(loadConfig({ RAW_EVENT_RETENTION_DAYS: "0" }).rawEventRetentionDays).toBeUndefined();
    expect(loadConfig({ RAW_EVENT_RETENTION_DAYS: "400" }).rawEventRetentionDays).toBe(400);
    for (const bad of ["7", "29", "-1", "30.5", "a year"]) {
      expect(() => loadConfig({ RAW_EVENT_RETENTION_DAYS: bad })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ RAW_EVENT_RETENTION_DAYS: "7" })).toThrow(
      "RAW_EVENT_RETENTION_DAYS=7: expected a whole number of days from 30 to 36500, or 0 to keep raw events forever",
    );
  });
});

const ROLLUPS = `
  SELECT 'd', email, day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns FROM usage_daily
  UNION ALL SELECT 'h', email, hour, '', input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns FROM usage_hourly
  UNION ALL SELECT 's', email, day, session_id, turns, 0, 0, 0, 0 FROM session_days
  ORDER BY 1, 2, 3, 4;`;

test("old raw rows are pruned in batches while reports are taken; rollups and recent rows stay", async () => {
  receiver = await startReceiver();
  const client = new Client(receiver.url);
  const token = guideToken();
  receiver.sql(guideInsert(token, "kept@example.org"));
  const access = await client.exchange(token);
  for (let turn = 0; turn < 10; turn++) {
    expect((await client.send(access, report({ session_id: "recent", turn_index: turn }))).status).toBe(200);
  }
  for (let turn = 0; turn < 10; turn++) {
    expect((await client.send(access, report({ session_id: "old", turn_index: turn }))).status).toBe(200);
  }
  expect(await receiver.stop()).toBe(0);
  // The "old" session was received 40 days ago, and so were 19,990 more rows (twenty batches).
  receiver.sql(`
    UPDATE usage_events SET received_at = datetime('now', '-40 days'), event_at = datetime('now', '-40 days')
      WHERE session_id = 'old';
    WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
    INSERT INTO usage_events (email, session_id, turn_index, model, event_at, received_at, input_tokens,
      output_tokens, cache_read_tokens, cache_write_tokens, schema_version)
    SELECT 'kept@example.org', 'old', i, 'claude-sonnet-4-5', datetime('now', '-40 days'),
      datetime('now', '-40 days'), 1, 1, 1, 1, 1 FROM n;
    -- ids in receipt order, as a live receiver writes them: the old rows first.
    UPDATE usage_events SET id = id + 1000000 WHERE session_id = 'recent';`);
  const rollups = receiver.sql(ROLLUPS);
  expect(receiver.sql("SELECT count(*) FROM usage_events WHERE session_id = 'old';")).toBe("20000");

  receiver = await receiver.restart({ RAW_EVENT_RETENTION_DAYS: "30" });
  const deadline = Date.now() + 20_000;
  let answered = 0;
  while (!receiver.output().includes("raw usage events pruned")) {
    if (Date.now() > deadline) throw new Error(`never pruned:\n${receiver.output()}`);
    // Requests are answered while the batches run.
    expect((await fetch(`${receiver.url}/health`)).status).toBe(200);
    answered++;
  }
  expect(answered).toBeGreaterThan(0);
  expect(receiver.output()).toMatch(/raw usage events pruned rows=20000 batches=20 /);
  expect(receiver.sql("SELECT count(*) FROM usage_events WHERE session_id = 'old';")).toBe("0");
  expect(receiver.sql("SELECT count(*) FROM usage_events WHERE session_id = 'recent';")).toBe("10");
  expect(receiver.sql(ROLLUPS)).toBe(rollups);
  expect(receiver.sql("PRAGMA integrity_check;")).toBe("ok");
  // A kept row still makes its re-sent report count once.
  const again = await client.send(
    await client.exchange(token),
    report({ session_id: "recent", turn_index: 3 }),
  );
  expect(await again.json()).toMatchObject({ status: "already-stored" });
});

test("unset: nothing is pruned, however old", async () => {
  receiver = await startReceiver();
  receiver.sql(`INSERT INTO usage_events (email, session_id, turn_index, model, event_at, received_at, input_tokens,
      output_tokens, cache_read_tokens, cache_write_tokens, schema_version)
    VALUES ('a@example.org', 'ancient', 0, 'm', datetime('now', '-3000 days'), datetime('now', '-3000 days'), 1, 1, 1, 1, 1);`);
  expect(await receiver.stop()).toBe(0);
  receiver = await receiver.restart();
  await Bun.sleep(300);
  expect(receiver.sql("SELECT count(*) FROM usage_events;")).toBe("1");
  expect(receiver.output()).not.toContain("pruned");
});
