// /health is a real read and write: it turns 503 when the file is gone, not a database, or the disk
// refuses writes, reports are then refused with 503 (never accepted and lost), and the receiver
// recovers without a restart once the file is back.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
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

/** 503 with the v1 body, plus `reason`, which says why in words. */
const degraded = (why: RegExp) => ({
  status: 503,
  body: { status: "degraded", db: "error", reason: expect.stringMatching(why) },
});
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
  expect(await health()).toEqual(degraded(/^the database file is missing/));
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
  expect(await health()).toEqual(degraded(/cannot be opened/));
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
  expect(await health()).toEqual(degraded(/another process holds the database's write lock/));

  admin.stdin.write("COMMIT;\n.quit\n");
  admin.stdin.end();
  await admin.exited;
  expect((await client.send(access, report({ session_id: "blocked" }))).status).toBe(200);
  expect(receiver.sql("SELECT count(*) FROM usage_events WHERE session_id = 'blocked';")).toBe("1");
});

// Server setup §2 "Try it" run as root, then the service as its own user. CI runs as root, so the
// service runs as nobody (setpriv); run as anyone else, a read-only file stands in for root's.
describe("a database its user cannot write", () => {
  const NOBODY = 65534;
  const asRoot = process.getuid?.() === 0;
  const service = asRoot
    ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"]
    : undefined;
  const serviceUser = asRoot ? "nobody" : userInfo().username;

  /** The "Try it" run: the admin's receiver creates the database and stops; returns the folder. */
  async function triedAsAdmin(fileMode: number): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "ccflux-owner-"));
    const tried = await startReceiver({ dir });
    await tried.stop();
    if (asRoot) chownSync(dir, NOBODY, NOBODY); // §3's install -d -o ccflux: the folder is the service's
    chmodSync(join(dir, "ccflux.db"), asRoot ? fileMode : fileMode & 0o444);
    return dir;
  }

  function fix(dir: string): RegExp {
    const file = join(dir, "ccflux.db");
    return asRoot
      ? new RegExp(`fix with: chown ${serviceUser}: ${file}`.replaceAll("/", "\\/"))
      : new RegExp(`fix with: chmod u\\+rw ${file}`.replaceAll("/", "\\/"));
  }

  test.each([
    ["0644, made before databases were 0600", 0o644],
    ["0600, not even readable", 0o600],
  ])("left by root (%s): the start is refused in one line naming the fix", async (_name, mode) => {
    const dir = await triedAsAdmin(mode);
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: join(dir, "ccflux.db") };
    const main = join(import.meta.dir, "../../src/receiver/main.ts");
    const started = Bun.spawnSync([...(service ?? []), process.execPath, main], { cwd: dir, env });
    expect(started.exitCode).toBe(1);
    const lines = started.stderr.toString().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`not writable by user ${serviceUser}`));
    expect(lines[0]).toMatch(fix(dir));
    rmSync(dir, { recursive: true, force: true });
  });

  test("made unwritable while serving: /health says so, the log says once how to fix it, and it recovers", async () => {
    const dir = await triedAsAdmin(0o600);
    const file = join(dir, "ccflux.db");
    if (asRoot) chownSync(file, NOBODY, NOBODY);
    chmodSync(file, 0o600);
    receiver = await startReceiver({ dir, wrap: service });
    expect(await health()).toEqual(OK);
    if (asRoot) chownSync(file, 0, 0);
    else chmodSync(file, 0o400);
    expect(await health()).toEqual(
      degraded(/^the database file or its folder is not writable by the receiver's user/),
    );
    expect(await health()).toEqual(degraded(/not writable/));
    await Bun.sleep(100); // the log is flushed within 50 ms
    const warnings = receiver
      .output()
      .split("\n")
      .filter((line) => line.includes(" warn "));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(fix(dir));
    if (asRoot) chownSync(file, NOBODY, NOBODY);
    else chmodSync(file, 0o600);
    expect(await health()).toEqual(OK);
  });
});
