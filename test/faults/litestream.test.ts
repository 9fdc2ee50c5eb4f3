// A standby restore with the real Litestream (v0.3.13, as .ci/run installs it) and the compiled
// receiver, configured by the shipped release/litestream.yml. Two kinds of client keep it under
// signed load while Litestream replicates to a file replica: compiled reporters, one hook process
// per turn as Claude Code runs them, and a load generator that signs reports itself and keeps no
// journal (as a v1 reporter does not). The receiver and Litestream are killed with SIGKILL
// together, the database folder is destroyed, `litestream restore` rebuilds it in a fresh folder
// and the receiver starts there, on the same address.
//
// What Litestream alone lost (the load generator's acknowledged reports missing from the restored
// file) is measured, the recovery point, and must be a few seconds at most. The reporters go on
// working through the outage; then each runs one more hook, and every turn a reporter counted is
// stored exactly once, the rollups equal the raw rows and the file passes integrity_check. A
// second run stalls Litestream (SIGSTOP) for a few seconds before the disk is lost, as a slow link
// to the bucket would, so that the reporters surely have acknowledged reports to heal.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Litestream, litestreamBinary, replicate } from "../support/litestream.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { Reporters } from "./reporters.ts";
import { checkDatabase, Load, provision, rng, type Usage } from "./support.ts";

const SEED = Number(process.env.CCFLUX_FAULT_SEED ?? 7001);
// Litestream ships the WAL every second (sync-interval in litestream.yml); under this load and on
// a shared machine it may be a little late, but never by this much.
const MAX_RPO_SECS = 5;
const REPORTERS = 4;
const OUTAGE_AT_MS = 4000;
/** Long enough that every reporter delivers turns Litestream never ships. */
const STALL_MS = 3000;

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
let reporters: Reporters | undefined;
const folders: string[] = [];
afterEach(async () => {
  reporters?.remove();
  if (receiver?.proc.exitCode === null) await receiver.kill();
  if (litestream?.proc.exitCode === null) litestream.proc.kill("SIGKILL");
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  receiver = undefined;
  litestream = undefined;
  reporters = undefined;
});

interface Figures {
  /** Rows the load generator had acknowledged when the disk was lost, and how many of them the restore lacked. */
  acked: number;
  lost: number;
  rpoSecs: number;
  restoreSecs: number;
  servingSecs: number;
  /** Reporter rows acknowledged before the loss that the restore lacked, healed since. */
  reporterRowsLost: number;
  healed: boolean[];
}

/** Load, replicate, lose the disk (after stalling Litestream for `stallMs`), restore, heal, check. */
async function disaster(binary: string, seed: number, stallMs: number): Promise<Figures> {
  ensureBinary();
  const random = rng(seed);
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
  const users = await provision(receiver, 30);
  reporters = new Reporters(random);
  for (let i = 0; i < REPORTERS; i++) reporters.add(receiver, `reporter${i}@example.org`);
  litestream = await replicate(binary, receiver.dbPath, replicaUrl, metricsPort);
  // The receiver sees the real Litestream (it looks every 5 s) and its replica caught up.
  const deadline = Date.now() + 15_000;
  while ((await replicationHealth(receiver.url)).state !== "ok") {
    if (Date.now() > deadline) throw new Error("the receiver never saw Litestream's replica caught up");
    await Bun.sleep(200);
  }

  const load = new Load(receiver.url, users, random, 8);
  const loadStarted = Date.now();
  load.start();
  // Developers go on working through the outage and the restore: their turns queue, then go to
  // the standby.
  const working = reporters.load(OUTAGE_AT_MS + stallMs + 3000);
  await Bun.sleep(OUTAGE_AT_MS + Math.floor(random() * 1000));
  if (stallMs > 0) {
    litestream.proc.kill("SIGSTOP");
    await Bun.sleep(stallMs);
  }
  expect(load.acked.size).toBeGreaterThan(50); // the load really was being accepted
  // Litestream's short locks (it checkpoints, and holds a read transaction) never outlast the
  // receiver's busy timeout: no report was refused with 503 database-unavailable.
  expect(Object.fromEntries(load.statuses)).not.toHaveProperty("503");
  expect(reporters.counted.size).toBeGreaterThanOrEqual(2 * REPORTERS);
  // The disk is lost: both processes die at once, then the folder goes.
  const killedAt = Date.now();
  receiver.proc.kill("SIGKILL");
  litestream.proc.kill("SIGKILL");
  await Promise.all([receiver.proc.exited, litestream.proc.exited]);
  await load.stop();
  const ackedBeforeKill = new Map(load.acked);
  const reporterAcked = reporters.acknowledged();
  rmSync(primary, { recursive: true, force: true });

  // The replica must be one unbroken generation: nothing the receiver did (a checkpoint, a
  // VACUUM, a replaced file) made Litestream lose its place and start over.
  const generations = run([binary, "generations", replicaUrl]).trim().split("\n").slice(1);
  expect(generations.length).toBe(1);

  const restoreStarted = Date.now();
  run([binary, "restore", "-o", join(standby, "ccflux.db"), replicaUrl]);
  const restoredAt = Date.now();
  // The same address: the reporters were told one URL (in production, the proxy's name moves).
  receiver = await startReceiver({ binary: true, dir: standby, env }, receiver.port);
  expect((await fetch(`${receiver.url}/health`)).status).toBe(200);
  const servingAt = Date.now();
  // Litestream is not running on the standby yet: the receiver serves all the same.
  expect((await replicationHealth(receiver.url)).state).toBe("unavailable");

  // What the restore lacks of what was acknowledged.
  const stored = new Set(
    receiver
      .sql("SELECT email || '|' || session_id || '|' || turn_index || '|' || model FROM usage_events;")
      .split("\n")
      .filter(Boolean),
  );
  const lost = [...ackedBeforeKill.keys()].filter((key) => !stored.has(key));
  const oldestLost = Math.min(...lost.map((key) => load.ackedAt.get(key)!));
  const reporterRowsLost = [...reporterAcked].filter((key) => !stored.has(key)).length;

  // The rest of the load goes to the standby, and each reporter runs one more hook.
  load.setUrl(receiver.url);
  await load.drain();
  await working;
  await reporters.turnEach();
  await reporters.allDelivered();
  expect(await receiver.stop()).toBe(0);
  // Every turn a reporter counted, once; the load generator's rows less what the restore lost.
  const expected = new Map<string, Usage>([
    ...[...load.acked].filter(([key]) => !lost.includes(key)),
    ...reporters.counted,
  ]);
  expect(checkDatabase(receiver, expected).slice(0, 20)).toEqual([]);
  const figures: Figures = {
    acked: ackedBeforeKill.size,
    lost: lost.length,
    rpoSecs: lost.length === 0 ? 0 : (killedAt - oldestLost) / 1000,
    restoreSecs: (restoredAt - restoreStarted) / 1000,
    servingSecs: (servingAt - restoreStarted) / 1000,
    reporterRowsLost,
    healed: reporters.healed(),
  };
  console.log(
    `litestream (Litestream stalled ${stallMs / 1000} s before the loss): ${figures.acked} rows acknowledged in ` +
      `${((killedAt - loadStarted) / 1000).toFixed(1)} s of load; the restore lacked ${figures.lost} ` +
      `(recovery point ${figures.rpoSecs.toFixed(2)} s); restore ${figures.restoreSecs.toFixed(2)} s, receiver ` +
      `serving ${figures.servingSecs.toFixed(2)} s after the restore began; reporters: ${reporters.counted.size} turns, ` +
      `${reporterRowsLost} acknowledged rows lacking after the restore, all stored now (healed by ` +
      `${figures.healed.filter(Boolean).length} of ${REPORTERS})`,
  );
  return figures;
}

const binary = litestreamBinary();

describe.skipIf(!binary)("a standby restored by Litestream after kill -9 and a lost disk", () => {
  test(
    `Litestream alone loses at most about a second; the reporters heal what they lost (seed ${SEED})`,
    async () => {
      const figures = await disaster(binary!, SEED, 0);
      expect(figures.rpoSecs).toBeLessThanOrEqual(MAX_RPO_SECS);
      // A reporter that lost an acknowledged report sent it again (checked above: it is stored).
      if (figures.reporterRowsLost > 0) expect(figures.healed).toContain(true);
    },
    { timeout: 60_000 },
  );

  test(
    `Litestream stalled before the loss: the restore lacks seconds of reports, every reporter's are healed (seed ${SEED + 1})`,
    async () => {
      const figures = await disaster(binary!, SEED + 1, STALL_MS);
      expect(figures.rpoSecs).toBeGreaterThan(STALL_MS / 1000 - 0.5);
      expect(figures.reporterRowsLost).toBeGreaterThan(0);
      expect(figures.healed).toEqual(Array(REPORTERS).fill(true));
    },
    { timeout: 60_000 },
  );
});
