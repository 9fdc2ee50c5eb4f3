// How far Litestream's replica is behind the database, from samples of Litestream's own Prometheus
// metrics. Pure: text and times in, figures out.
//
// Litestream 0.3 reports, per database, how far it has read the WAL into its shadow copy
// (litestream_shadow_wal_index, _size) and, per replica, how far it has shipped
// (litestream_replica_wal_index, _offset). The replica is caught up when it has shipped all of
// the shadow WAL. The lag in seconds bounds the age of the oldest change not yet shipped: the
// time since the last sample whose shadow position the replica has reached (every change it lacks
// was written after that).

export interface Position {
  index: number;
  offset: number;
}

export interface LitestreamSample {
  /** How far Litestream has read this database's WAL. */
  shadow: Position;
  /** The least far of its replicas. */
  replica: Position;
}

function compare(a: Position, b: Position): number {
  return a.index - b.index || a.offset - b.offset;
}

/** `name{labels} value` lines of one metric, as label maps with the value. */
function series(text: string, metric: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf("}");
    const labels: Record<string, string> = {};
    for (const match of line.slice(metric.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, "$1");
    }
    const value = Number(line.slice(close + 1).trim());
    if (Number.isFinite(value)) out.push({ labels, value });
  }
  return out;
}

/**
 * This database's positions from Litestream's /metrics text; null when Litestream does not list
 * the database (another file, or nothing replicated yet).
 */
export function parseLitestreamMetrics(text: string, databasePath: string): LitestreamSample | null {
  const forDb = (metric: string) => series(text, metric).filter((s) => s.labels.db === databasePath);
  const shadowIndex = forDb("litestream_shadow_wal_index")[0];
  const shadowSize = forDb("litestream_shadow_wal_size")[0];
  if (!shadowIndex || !shadowSize) return null;
  const offsets = new Map(forDb("litestream_replica_wal_offset").map((s) => [s.labels.name, s.value]));
  const replicas = forDb("litestream_replica_wal_index")
    .filter((s) => offsets.has(s.labels.name))
    .map((s) => ({ index: s.value, offset: offsets.get(s.labels.name)! }));
  if (replicas.length === 0) return null;
  const replica = replicas.reduce((least, r) => (compare(r, least) < 0 ? r : least));
  return { shadow: { index: shadowIndex.value, offset: shadowSize.value }, replica };
}

/** Keeps the shadow positions seen while the replica was behind, to date the oldest unshipped one. */
export class LagTracker {
  /** Shadow positions, oldest first, each with when it was first seen. */
  private seen: { at: number; shadow: Position }[] = [];
  /** Since when the replica may be missing changes: the last moment it was known to be caught up. */
  private behindSince: number;
  private reachable = false;

  constructor(startedAt: number) {
    this.behindSince = startedAt;
  }

  /** A successful sample of Litestream's metrics. */
  observe(sample: LitestreamSample, now: number): void {
    this.reachable = true;
    const last = this.seen.at(-1);
    // A new generation starts the positions again from zero: what came before no longer compares.
    if (last && compare(sample.shadow, last.shadow) < 0) {
      this.seen = [];
      this.behindSince = now;
    }
    if (compare(sample.replica, sample.shadow) >= 0) {
      this.seen = [];
      this.behindSince = now;
      return;
    }
    if (!last || compare(sample.shadow, last.shadow) > 0) this.seen.push({ at: now, shadow: sample.shadow });
    // What the replica holds now was all written by the time of the last sample it covers; what
    // it lacks came later. So the lag is at most the time since that sample.
    while (this.seen.length > 0 && compare(this.seen[0]!.shadow, sample.replica) <= 0) {
      this.behindSince = this.seen.shift()!.at;
    }
  }

  /** Litestream did not answer, or did not list this database. */
  unavailable(): void {
    this.reachable = false;
  }

  /** Whether Litestream answered at the last sample. */
  get up(): boolean {
    return this.reachable;
  }

  /**
   * Seconds of changes the replica may be missing: 0 when it was caught up at the last sample;
   * while Litestream does not answer, counting up from the last moment it was known to be.
   */
  lagSeconds(now: number): number {
    if (this.reachable && this.seen.length === 0) return 0;
    return Math.max(0, Math.round((now - this.behindSince) / 100) / 10);
  }
}
