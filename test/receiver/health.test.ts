// /health is a real read and write: it turns 503 when the file is gone, not a database, or the disk
// refuses writes, reports are then refused with 503 (never accepted and lost), and the receiver
// recovers without a restart once the file is back.
import { afterEach, expect, test } from "bun:test";
import { copyFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Client, guideInsert, guideToken, report } from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

let receiver: TestReceiver;
afterEach(async () => {
  await receiver.stop();
  receiver.cleanup();
});

async function health() {
  const response = await fetch(`${receiver.url}/health`);
  return { status: response.status, body: await response.json() };
}

const DEGRADED = { status: 503, body: { status: "degraded", db: "error" } };
const OK = { status: 200, body: { status: "ok", db: "ok" } };

async function provisioned() {
  const client = new Client(receiver.url);
  const token = guideToken();
  receiver.sql(guideInsert(token, "disk@example.org"));
  return { client, access: await client.exchange(token) };
}

test("the file is removed: 503, reports refused with 503; put back: ok again without a restart", async () => {
  receiver = await startReceiver();
  const { client, access } = await provisioned();
  receiver.sql("PRAGMA wal_checkpoint(TRUNCATE);");
  copyFileSync(receiver.dbPath, `${receiver.dbPath}.saved`);
  rmSync(receiver.dbPath);
  expect(await health()).toEqual(DEGRADED);
  const refused = await client.send(access, report({ session_id: "while-gone" }));
  expect(refused.status).toBe(503);
  expect(refused.headers.get("x-ccflux-error")).toBe("database-unavailable");

  renameSync(`${receiver.dbPath}.saved`, receiver.dbPath);
  await Bun.sleep(1100); // reopening is tried at most once a second
  expect(await health()).toEqual(OK);
  expect((await client.send(access, report({ session_id: "after" }))).status).toBe(200);
  expect(receiver.sql("SELECT session_id FROM usage_events;")).toBe("after");
});

test("the file is replaced by garbage: 503 until a good file is back", async () => {
  receiver = await startReceiver();
  const { client, access } = await provisioned();
  receiver.sql("PRAGMA wal_checkpoint(TRUNCATE);");
  copyFileSync(receiver.dbPath, `${receiver.dbPath}.saved`);
  writeFileSync(`${receiver.dbPath}.tmp`, "this is not a database ".repeat(500));
  renameSync(`${receiver.dbPath}.tmp`, receiver.dbPath);
  expect(await health()).toEqual(DEGRADED);
  expect((await client.send(access, report())).status).toBe(503);
  expect(receiver.output()).not.toContain(access);

  renameSync(`${receiver.dbPath}.saved`, receiver.dbPath);
  await Bun.sleep(1100);
  expect(await health()).toEqual(OK);
  expect((await client.send(access, report())).status).toBe(200);
});

test("an admin holding a write lock: reports get a prompt 503, then go through once it is released", async () => {
  receiver = await startReceiver();
  const { client, access } = await provisioned();
  const admin = Bun.spawn(["sqlite3", receiver.dbPath], { stdin: "pipe", stdout: "pipe" });
  admin.stdin.write(
    "BEGIN IMMEDIATE;\nINSERT INTO health_probe VALUES (1, 'x') ON CONFLICT DO NOTHING;\nSELECT 'locked';\n",
  );
  admin.stdin.flush();
  const reader = admin.stdout.getReader();
  await reader.read(); // "locked": the admin now holds the write lock
  const started = Date.now();
  const blocked = await client.send(access, report({ session_id: "blocked" }));
  expect(blocked.status).toBe(503);
  expect(Date.now() - started).toBeLessThan(5000);
  expect((await health()).status).toBe(503);

  admin.stdin.write("COMMIT;\n.quit\n");
  admin.stdin.end();
  await admin.exited;
  expect((await client.send(access, report({ session_id: "blocked" }))).status).toBe(200);
  expect(receiver.sql("SELECT count(*) FROM usage_events WHERE session_id = 'blocked';")).toBe("1");
});
