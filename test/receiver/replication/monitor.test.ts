// The receiver watching Litestream through LITESTREAM_METRICS_URL: a Litestream that answers, one
// that is not there, and one that hangs. Whatever Litestream does, the receiver answers at once and
// stores reports; only what /health and /metrics say about the replica changes.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, guideInsert, guideToken, report } from "../../support/client.ts";
import { startReceiver, type TestReceiver } from "../../support/receiver.ts";

let receiver: TestReceiver | undefined;
let litestream: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver?.cleanup();
  litestream?.stop(true);
  receiver = undefined;
  litestream = undefined;
});

async function health(): Promise<{ ms: number; status: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(`${receiver!.url}/health`);
  const body = (await response.json()) as Record<string, unknown>;
  return { ms: performance.now() - started, status: response.status, body };
}

async function gauge(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${receiver!.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 8000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

async function reportIsStored(): Promise<void> {
  const client = new Client(receiver!.url);
  const token = guideToken();
  receiver!.sql(guideInsert(token, "replica@example.org"));
  const answer = await client.send(await client.exchange(token), report({ session_id: "while-watching" }));
  expect(answer.status).toBe(200);
}

test("without LITESTREAM_METRICS_URL nothing about replication is said", async () => {
  receiver = await startReceiver();
  expect((await health()).body).toEqual({ status: "ok", db: "ok" });
  expect(await gauge("ccflux_litestream_up")).toBeUndefined();
  expect(await gauge("ccflux_replication_lag_seconds")).toBeUndefined();
});

test("a Litestream whose replica has everything: ok, lag 0", async () => {
  // The path is known before the receiver starts: its first poll comes at once, before startReceiver
  // returns, and an answer that does not list the database waits 5 s for the next.
  const dir = mkdtempSync(join(tmpdir(), "ccflux-receiver-"));
  const dbPath = join(dir, "ccflux.db");
  litestream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () =>
      new Response(
        `litestream_shadow_wal_index{db="${dbPath}"} 2\nlitestream_shadow_wal_size{db="${dbPath}"} 4152\n` +
          `litestream_replica_wal_index{db="${dbPath}",name="file"} 2\nlitestream_replica_wal_offset{db="${dbPath}",name="file"} 4152\n`,
      ),
  });
  receiver = await startReceiver({
    dir,
    env: { LITESTREAM_METRICS_URL: `http://127.0.0.1:${litestream.port}/metrics` },
  });
  expect(receiver.dbPath).toBe(dbPath);
  await until(async () => (await health()).body.replication === "ok", "replication ok");
  expect((await health()).body).toEqual({
    status: "ok",
    db: "ok",
    replication: "ok",
    replication_lag_seconds: 0,
  });
  expect(await gauge("ccflux_litestream_up")).toBe(1);
  expect(await gauge("ccflux_replication_lag_seconds")).toBe(0);
});

test("no Litestream listening: the receiver answers and stores; /health says unavailable, the warning is logged once", async () => {
  // A port nothing listens on: bind one, then close it.
  const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const url = `http://127.0.0.1:${closed.port}/metrics`;
  closed.stop(true);
  receiver = await startReceiver({ env: { LITESTREAM_METRICS_URL: url } });
  await until(async () => receiver!.output().includes("cannot read Litestream's metrics"), "the warning");
  const answer = await health();
  expect(answer.status).toBe(200);
  expect(answer.body.status).toBe("ok");
  expect(answer.body.replication).toBe("unavailable");
  expect(typeof answer.body.replication_lag_seconds).toBe("number");
  expect(await gauge("ccflux_litestream_up")).toBe(0);
  await reportIsStored();
  expect(receiver.output().split("cannot read Litestream's metrics").length - 1).toBe(1);
});

test("a Litestream that accepts the connection and never answers does not hold up any request", async () => {
  litestream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => new Promise<Response>(() => {}), // hangs for ever
  });
  receiver = await startReceiver({
    env: { LITESTREAM_METRICS_URL: `http://127.0.0.1:${litestream.port}/metrics` },
  });
  for (let i = 0; i < 5; i++) {
    const answer = await health();
    expect(answer.status).toBe(200);
    expect(answer.body.replication).toBe("unavailable");
  }
  await reportIsStored();
  // After the 2 s poll timeout it is said why.
  await until(async () => receiver!.output().includes("cannot read Litestream's metrics"), "the warning");
  expect(await gauge("ccflux_litestream_up")).toBe(0);
});
