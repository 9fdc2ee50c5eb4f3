// PROTOCOL §4 delivery numbers on the wire: v1 answers unchanged, v2 reports and limit events
// answered with the key's delivery_held, kept in the database beside the key, and bad numbers
// refused with 400 before anything is stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Client, guideInsert, guideToken, newDevice, report } from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

let receiver: TestReceiver;
let client: Client;

async function user() {
  const email = `d${crypto.randomUUID().slice(0, 8)}@example.org`;
  const token = guideToken();
  receiver.sql(guideInsert(token, email));
  const access = await client.exchange(token);
  const device = newDevice();
  expect((await client.registerKey(access, device)).status).toBe(200);
  return { email, access, device };
}

/** A v2 report for turn `turn` with delivery numbers. */
function numbered(turn: number, seq: number, from = 1) {
  return {
    ...report({ schema_version: 2, session_id: "heal", turn_index: turn }),
    delivery_seq: seq,
    delivery_journal_from: from,
  };
}

beforeAll(async () => {
  receiver = await startReceiver();
  client = new Client(receiver.url);
});
afterAll(async () => {
  await receiver.stop();
  receiver.cleanup();
});

describe("delivery numbers", () => {
  test("a v1 report, or a v2 one without numbers, gets the same answer as before", async () => {
    const { access, device } = await user();
    const v1 = await client.send(access, report({ session_id: "v1" }), device);
    expect(await v1.json()).toEqual({ status: "stored", stored: 1 });
    const v2 = await client.send(access, report({ schema_version: 2, session_id: "v2" }), device);
    expect(await v2.json()).toEqual({ status: "stored", stored: 1 });
    // Unsigned (REQUIRE_SIGNATURES off): no device, so no numbers, even when sent.
    const unsigned = await client.send(access, numbered(0, 1));
    expect(await unsigned.json()).toEqual({ status: "stored", stored: 1 });
  });

  test("delivery_held follows the unbroken run; one ahead of it leaves it until the gap is filled", async () => {
    const { access, device, email } = await user();
    const held = async (turn: number, seq: number, from = 1) => {
      const response = await client.send(access, numbered(turn, seq, from), device);
      expect(response.status).toBe(200);
      return ((await response.json()) as { delivery_held: number }).delivery_held;
    };
    expect(await held(0, 1)).toBe(1);
    expect(await held(1, 2)).toBe(2);
    expect(await held(1, 2)).toBe(2); // a retry
    expect(await held(3, 4)).toBe(2); // 3 is missing
    expect(await held(2, 3)).toBe(3); // 3 fills the gap; 4 must come again to count
    expect(await held(3, 4)).toBe(4);
    // The reporter can no longer send anything below 10: all of it counts as held.
    expect(await held(9, 10, 10)).toBe(10);
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("10");
    // Every turn stored once, whatever came twice.
    expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}';`)).toBe("5");
  });

  test("limit events share the device's numbers", async () => {
    const { access, device } = await user();
    expect((await (await client.send(access, numbered(0, 1), device)).json()).delivery_held).toBe(1);
    const event = {
      schema_version: 2,
      session_id: "heal",
      timestamp_utc: "2026-11-27T01:00:00Z",
      kind: "rate_limit",
      delivery_seq: 2,
      delivery_journal_from: 1,
    };
    const response = await client.send(access, event, device, "/limit-event");
    expect(await response.json()).toEqual({ status: "stored", delivery_held: 2 });
  });

  test("bad numbers: 400 and nothing stored", async () => {
    const { access, device, email } = await user();
    for (const bad of [
      { delivery_seq: 0 },
      { delivery_seq: -1 },
      { delivery_seq: 1.5 },
      { delivery_seq: "1" },
      { delivery_seq: 2 ** 53 },
      { delivery_seq: 3, delivery_journal_from: 4 },
      { delivery_seq: 3, delivery_journal_from: 0 },
      { delivery_seq: 3, delivery_journal_from: "1" },
    ]) {
      const response = await client.send(access, { ...report({ schema_version: 2 }), ...bad }, device);
      expect(response.status).toBe(400);
      expect(response.headers.get("x-ccflux-error")).toBe("invalid-body");
      expect(((await response.json()) as { message: string }).message).toMatch(/delivery_/);
    }
    expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}';`)).toBe("0");
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("0");
  });

  test("a copy of the database answers its own, older delivery_held", async () => {
    const { access, device, email } = await user();
    for (let seq = 1; seq <= 3; seq++) await client.send(access, numbered(seq, seq), device);
    const copy = join(receiver.dir, "copy.db");
    receiver.sql(`.backup '${copy}'`);
    for (let seq = 4; seq <= 6; seq++) await client.send(access, numbered(seq, seq), device);
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("6");

    // The copy restored as docs/server-setup.md says: it holds 3, and says so.
    await receiver.stop();
    rmSync(`${receiver.dbPath}-wal`, { force: true });
    rmSync(`${receiver.dbPath}-shm`, { force: true });
    copyFileSync(copy, receiver.dbPath);
    receiver = await receiver.restart();
    client = new Client(receiver.url);
    const after = await client.send(access, numbered(7, 7), device);
    expect(await after.json()).toEqual({ status: "stored", stored: 1, delivery_held: 3 });
  });
});
