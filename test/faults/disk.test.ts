// Disk trouble: the database folder and its files become read-only under a running receiver.
// /health must turn 503 and reports must be refused with 503 (so the reporter keeps them), not
// accepted and lost; once the folder is writable again the receiver recovers without a restart
// and a report kept through the trouble is stored once.
//
// CI runs as root, which ignores file modes, so the receiver runs as nobody (setpriv from
// util-linux, present wherever the tests run) in a folder nobody owns; the test, as root, flips
// the modes underneath it. The file descriptors the receiver already holds stay writable, which
// is the hard case: only the receiver's own check keeps it from writing.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, report } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { provision } from "./support.ts";

const NOBODY = 65534;
let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  if (receiver) chmodSync(receiver.dir, 0o755);
  receiver?.cleanup();
});

function setModes(dir: string, folder: number, file: number): void {
  for (const name of readdirSync(dir)) if (name.startsWith("ccflux.db")) chmodSync(join(dir, name), file);
  chmodSync(dir, folder);
}

test("a read-only database folder: /health 503, reports 503 not lost, recovery without restart", async () => {
  // As root (CI) the receiver runs as nobody; as anyone else it runs as that user, whom modes bind.
  const root = process.getuid?.() === 0;
  ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), "ccflux-disk-"));
  if (root) chownSync(dir, NOBODY, NOBODY);
  receiver = await startReceiver({
    binary: true,
    dir,
    wrap: root ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : undefined,
    env: { REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "100000" },
  });
  if (root) {
    // setpriv execs the receiver in place: the process is the receiver, running as nobody.
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${receiver.proc.pid}/status`, "utf8"))?.[1];
    expect(uid).toBe(String(NOBODY));
  }
  const [user] = await provision(receiver, 1);
  const client = new Client(receiver.url);
  const send = (turn: number) =>
    client.send(user!.accessToken, report({ session_id: "disk", turn_index: turn }), user!.device);
  expect((await send(0)).status).toBe(200);
  expect((await fetch(`${receiver.url}/health`)).status).toBe(200);

  setModes(dir, 0o555, 0o444);
  try {
    const health = await fetch(`${receiver.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({
      status: "degraded",
      db: "error",
      reason: "the database file or its folder is not writable by the receiver's user",
    });
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const refused = await send(1);
      expect(refused.status).toBe(503);
      expect(performance.now() - started).toBeLessThan(3000);
    }
    // Token exchange and key registration write too: they must not answer 500 either.
    const exchange = await client.post("/token", user!.refreshToken);
    expect([200, 503]).toContain(exchange.status);
  } finally {
    setModes(dir, 0o755, 0o644);
    if (root) for (const name of readdirSync(dir)) chownSync(join(dir, name), NOBODY, NOBODY);
  }

  // Repaired: the same process recovers (the reopen interval is 1 s).
  const deadline = Date.now() + 5000;
  while ((await fetch(`${receiver.url}/health`)).status !== 200) {
    expect(Date.now()).toBeLessThan(deadline);
    await Bun.sleep(100);
  }
  expect((await send(1)).status).toBe(200);
  expect((await send(1)).status).toBe(200); // the reporter's retry: stored once
  expect(await receiver.stop()).toBe(0);
  expect(receiver.sql("SELECT turn_index, count(*) FROM usage_events GROUP BY turn_index;")).toBe("0|1\n1|1");
  expect(receiver.sql("PRAGMA integrity_check;")).toBe("ok");
  expect(receiver.output()).not.toMatch(/ 500 |level=error.*uncaught/i);
}, 60_000);
