// A standby restore with the real Litestream (v0.3.13, as .ci/run installs it) and the compiled
// receiver, configured by the shipped release/litestream.yml: under signed load, Litestream
// replicates to a file replica; the receiver and Litestream are killed with SIGKILL together, the
// database folder is destroyed, `litestream restore` rebuilds it in a fresh folder and the receiver
// starts there. What Litestream alone lost is measured (the recovery point) and must be a few
// seconds at most; everything restored is exactly what was acknowledged, once, with rollups that
// equal the raw rows and a file that passes integrity_check.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { checkDatabase, Load, provision, rng, type Usage } from "./support.ts";

const ROOT = join(import.meta.dir, "../..");
const CONFIG = join(ROOT, "release/litestream.yml");
const SEED = Number(process.env.CCFLUX_FAULT_SEED ?? 7001);
// Litestream ships the WAL every second (sync-interval in litestream.yml); under this load and on
// a shared machine it may be a little late, but never by this much.
const MAX_RPO_SECS = 5;

function litestreamBinary(): string | null {
  const path = Bun.which("litestream");
  if (!path && process.env.CI) throw new Error("litestream is not installed; .ci/run must install it");
  return path;
}

interface Litestream {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
}

/** `litestream replicate` with the shipped config, its settings given as the unit gives them. */
async function replicate(
  binary: string,
  dbPath: string,
  replicaUrl: string,
  metricsPort: number,
): Promise<Litestream> {
  const proc = Bun.spawn([binary, "replicate", "-config", CONFIG], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      DATABASE_PATH: dbPath,
      LITESTREAM_REPLICA_URL: replicaUrl,
      LITESTREAM_METRICS_ADDR: `127.0.0.1:${metricsPort}`,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const chunks: string[] = [];
  void collect(proc.stdout, chunks);
  void collect(proc.stderr, chunks);
  const output = () => chunks.join("");
  const deadline = Date.now() + 15_000;
  while (!output().includes("snapshot written")) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`litestream did not take its first snapshot (exit ${proc.exitCode}):\n${output()}`);
    }
    await Bun.sleep(20);
  }
  return { proc, output };
}

function run(command: string[]): string {
  const result = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe" });
  const text = result.stdout.toString() + result.stderr.toString();
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${result.exitCode}):\n${text}`);
  return result.stdout.toString();
}

async function replicationHealth(url: string): Promise<{ state: unknown; lag: unknown }> {
  const body = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
  return { state: body.replication, lag: body.replication_lag_seconds };
}

async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = server.port!;
  server.stop(true);
  return port;
}

let receiver: TestReceiver | undefined;
let litestream: Litestream | undefined;
const folders: string[] = [];
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  if (litestream?.proc.exitCode === null) litestream.proc.kill("SIGKILL");
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const binary = litestreamBinary();

test.skipIf(!binary)(
  `a standby restored by Litestream after kill -9 and a lost disk holds what was acknowledged up to a few seconds before (seed ${SEED})`,
  async () => {
    ensureBinary();
    const random = rng(SEED);
    const primary = mkdtempSync(join(tmpdir(), "ccflux-primary-"));
    const replica = mkdtempSync(join(tmpdir(), "ccflux-replica-"));
    const standby = mkdtempSync(join(tmpdir(), "ccflux-standby-"));
    folders.push(primary, replica, standby);
    const replicaUrl = `file://${replica}/ccflux`;
    const metricsPort = await freePort();
    const env = {
      REQUIRE_SIGNATURES: "1",
      RATE_LIMIT_PER_MINUTE: "100000",
      TIER_INFERENCE_INTERVAL_SECS: "3600",
      LITESTREAM_METRICS_URL: `http://127.0.0.1:${metricsPort}/metrics`,
    };

    receiver = await startReceiver({ binary: true, dir: primary, env });
    const dbPath = receiver.dbPath;
    const users = await provision(receiver, 30);
    litestream = await replicate(binary!, dbPath, replicaUrl, metricsPort);
    // The receiver sees the real Litestream (it looks every 5 s) and its replica caught up.
    const deadline = Date.now() + 15_000;
    let replication = await replicationHealth(receiver.url);
    while (replication.state !== "ok") {
      if (Date.now() > deadline)
        throw new Error(`the receiver never saw Litestream: ${JSON.stringify(replication)}`);
      await Bun.sleep(200);
      replication = await replicationHealth(receiver.url);
    }
    expect(replication.lag).toBeLessThan(10);

    const load = new Load(receiver.url, users, random, 8);
    const loadStarted = Date.now();
    load.start();
    await Bun.sleep(4000 + Math.floor(random() * 1000));
    expect(load.acked.size).toBeGreaterThan(200); // the load really was being accepted
    const lagUnderLoad = (await replicationHealth(receiver.url)).lag;
    // The disk is lost: both processes die at once, then the folder goes.
    const killedAt = Date.now();
    receiver.proc.kill("SIGKILL");
    litestream.proc.kill("SIGKILL");
    await Promise.all([receiver.proc.exited, litestream.proc.exited]);
    await load.stop();
    const ackedBeforeKill = new Map(load.acked);
    rmSync(primary, { recursive: true, force: true });

    // The replica must be one unbroken generation: nothing the receiver did (a checkpoint, a
    // VACUUM, a replaced file) made Litestream lose its place and start over.
    const generations = run([binary!, "generations", replicaUrl]).trim().split("\n").slice(1);
    expect(generations.length).toBe(1);

    const restoreStarted = Date.now();
    run([binary!, "restore", "-o", join(standby, "ccflux.db"), replicaUrl]);
    const restoredAt = Date.now();
    receiver = await startReceiver({ binary: true, dir: standby, env });
    const health = await fetch(`${receiver.url}/health`);
    expect(health.status).toBe(200);
    const servingAt = Date.now();
    // Litestream is not running on the standby yet: the receiver serves all the same.
    expect((await replicationHealth(receiver.url)).state).toBe("unavailable");

    // What Litestream alone lost: acknowledged rows the restored file does not hold.
    const stored = new Set(
      receiver
        .sql("SELECT email || '|' || session_id || '|' || turn_index || '|' || model FROM usage_events;")
        .split("\n")
        .filter(Boolean),
    );
    const lost = [...ackedBeforeKill.keys()].filter((key) => !stored.has(key));
    const oldestLost = Math.min(...lost.map((key) => load.ackedAt.get(key)!));
    const rpoSecs = lost.length === 0 ? 0 : (killedAt - oldestLost) / 1000;
    console.log(
      `litestream: ${ackedBeforeKill.size} rows acknowledged in ${((killedAt - loadStarted) / 1000).toFixed(1)} s of load before the kill; ` +
        `receiver's replication_lag_seconds just before: ${lagUnderLoad}; lost ${lost.length} (recovery point ${rpoSecs.toFixed(2)} s before the kill); ` +
        `restore ${((restoredAt - restoreStarted) / 1000).toFixed(2)} s, receiver serving ${((servingAt - restoreStarted) / 1000).toFixed(2)} s after the restore began`,
    );
    expect(rpoSecs).toBeLessThanOrEqual(MAX_RPO_SECS);

    // The rest of the load goes to the standby; then it holds exactly what was acknowledged,
    // less what the restore lost, once each.
    load.setUrl(receiver.url);
    await load.drain();
    expect(await receiver.stop()).toBe(0);
    const expected = new Map<string, Usage>([...load.acked].filter(([key]) => !lost.includes(key)));
    expect(checkDatabase(receiver, expected).slice(0, 20)).toEqual([]);
  },
  { timeout: 90_000 },
);
