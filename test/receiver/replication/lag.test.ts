// The replication lag from samples of Litestream's metrics, alone (no Litestream, no receiver).
import { describe, expect, test } from "bun:test";
import {
  LagTracker,
  type LitestreamSample,
  parseLitestreamMetrics,
} from "../../../src/receiver/replication/lag.ts";

const DB = "/var/lib/ccflux/ccflux.db";

// As Litestream v0.3.13 prints them (taken from the real binary), plus a second replica and a
// second database that must not be mixed in.
const METRICS = `# HELP litestream_shadow_wal_index The current index of the shadow WAL
# TYPE litestream_shadow_wal_index gauge
litestream_shadow_wal_index{db="${DB}"} 3
litestream_shadow_wal_index{db="/other.db"} 9
litestream_shadow_wal_size{db="${DB}"} 135992
litestream_shadow_wal_size{db="/other.db"} 1
litestream_replica_wal_index{db="${DB}",name="file"} 3
litestream_replica_wal_offset{db="${DB}",name="file"} 135992
litestream_replica_wal_index{db="${DB}",name="s3"} 3
litestream_replica_wal_offset{db="${DB}",name="s3"} 24752
litestream_replica_wal_index{db="/other.db",name="file"} 0
litestream_replica_wal_offset{db="/other.db",name="file"} 0
litestream_sync_count{db="${DB}"} 4
`;

describe("parseLitestreamMetrics", () => {
  test("takes this database's shadow position and its least advanced replica", () => {
    expect(parseLitestreamMetrics(METRICS, DB)).toEqual({
      shadow: { index: 3, offset: 135992 },
      replica: { index: 3, offset: 24752 },
    });
  });

  test("null when Litestream does not list the database, or has no replica position yet", () => {
    expect(parseLitestreamMetrics(METRICS, "/var/lib/ccflux/other-name.db")).toBeNull();
    expect(parseLitestreamMetrics("", DB)).toBeNull();
    const noReplica = METRICS.split("\n")
      .filter((l) => !l.startsWith("litestream_replica_wal_offset"))
      .join("\n");
    expect(parseLitestreamMetrics(noReplica, DB)).toBeNull();
  });
});

const at = (index: number, offset: number) => ({ index, offset });
const sample = (shadow: [number, number], replica: [number, number]): LitestreamSample => ({
  shadow: at(...shadow),
  replica: at(...replica),
});

/** Feeds [seconds, shadow offset, replica offset] samples, all in WAL index 0. */
function feed(lag: LagTracker, samples: [number, number, number][]): void {
  for (const [secs, shadow, replica] of samples) lag.observe(sample([0, shadow], [0, replica]), secs * 1000);
}

describe("LagTracker", () => {
  test("caught up: no lag", () => {
    const lag = new LagTracker(0);
    lag.observe(sample([0, 5000], [0, 5000]), 10_000);
    expect(lag.up).toBe(true);
    expect(lag.lagSeconds(12_000)).toBe(0);
  });

  test("before Litestream ever answered, the lag counts from the receiver's start", () => {
    const lag = new LagTracker(1000);
    lag.unavailable();
    expect(lag.up).toBe(false);
    expect(lag.lagSeconds(31_000)).toBe(30);
  });

  test("a replica that keeps shipping a little behind shows one sampling interval, not the time since it last matched", () => {
    const lag = new LagTracker(0);
    // Under steady load the shadow is always a little ahead, and the replica follows.
    feed(lag, [
      [0, 1000, 1000],
      [5, 2000, 1000],
      [10, 3000, 2000],
      [15, 4000, 3000],
    ]);
    // The replica holds what Litestream had read at 10 s; what it lacks was written after that.
    expect(lag.lagSeconds(15_000)).toBe(5);
    lag.observe(sample([1, 500], [0, 4000]), 20_000); // a new WAL index after a checkpoint
    expect(lag.lagSeconds(20_000)).toBe(5);
    lag.observe(sample([1, 800], [1, 800]), 25_000);
    expect(lag.lagSeconds(25_000)).toBe(0);
  });

  test("a replica that stopped shipping (a refused bucket) shows a lag that grows from the first unshipped change", () => {
    const lag = new LagTracker(0);
    feed(lag, [
      [0, 1000, 1000],
      [5, 2000, 1000],
      [10, 3000, 1000],
      [15, 4000, 1000],
    ]);
    // Nothing read after 0 s has been shipped.
    expect(lag.lagSeconds(15_000)).toBe(15);
    expect(lag.lagSeconds(75_000)).toBe(75);
  });

  test("Litestream stops answering: unavailable, and the lag counts from when it was last known caught up", () => {
    const lag = new LagTracker(0);
    lag.observe(sample([0, 1000], [0, 1000]), 10_000);
    lag.unavailable();
    expect(lag.up).toBe(false);
    expect(lag.lagSeconds(40_000)).toBe(30);
    lag.observe(sample([0, 2000], [0, 2000]), 45_000);
    expect(lag.lagSeconds(46_000)).toBe(0);
  });

  test("a new generation (positions back to zero) starts afresh", () => {
    const lag = new LagTracker(0);
    lag.observe(sample([5, 1000], [4, 0]), 10_000);
    lag.observe(sample([0, 100], [0, 0]), 20_000);
    expect(lag.lagSeconds(20_000)).toBe(0);
    lag.observe(sample([0, 200], [0, 0]), 25_000);
    expect(lag.lagSeconds(30_000)).toBe(10);
  });
});
