// Crash safety: under sustained signed load from many users over several connections, the
// compiled receiver is killed with SIGKILL at random moments and restarted, again and again.
// Every report that got a 200 must be in the database afterwards, with its values, once; the
// rollups must equal the sums of the raw rows; the file must pass integrity_check.
import { afterAll, expect, test } from "bun:test";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { checkDatabase, Load, provision, rng } from "./support.ts";

const SEED = Number(process.env.CCFLUX_FAULT_SEED ?? 6001);
const KILLS = 6;

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  receiver?.cleanup();
});

test(
  `kill -9 under load ${KILLS} times loses no acknowledged report and stores none twice (seed ${SEED})`,
  async () => {
    ensureBinary();
    const random = rng(SEED);
    receiver = await startReceiver({
      binary: true,
      env: { REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "100000", TIER_INFERENCE_INTERVAL_SECS: "3600" },
    });
    const users = await provision(receiver, 40);
    const load = new Load(receiver.url, users, random, 8);
    let ackedBeforeKills = 0;
    for (let round = 0; round < KILLS; round++) {
      load.start();
      const before = load.acked.size;
      // Let load build up, then kill at a random moment within it.
      await Bun.sleep(400 + Math.floor(random() * 1200));
      expect(load.acked.size).toBeGreaterThan(before); // the load really was being accepted
      await receiver.kill();
      await load.stop();
      ackedBeforeKills = load.acked.size;
      receiver = await receiver.restart();
    }
    // The last restart: everything that got no answer is sent again until acknowledged.
    await load.drain();
    expect(await receiver.stop()).toBe(0);
    const problems = checkDatabase(receiver, load.acked);
    console.log(
      `crash: ${load.sent} requests, ${load.acked.size} rows acknowledged (${ackedBeforeKills} before the last kill), statuses ${JSON.stringify(Object.fromEntries(load.statuses))}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(load.acked.size).toBeGreaterThan(500);
    // Kills landed while requests were in flight: some got no answer.
    expect(load.statuses.get("network-error") ?? 0).toBeGreaterThan(0);
  },
  { timeout: 90_000 },
);
