// Reads Litestream's metrics (LITESTREAM_METRICS_URL) in the background, so that /health and
// /metrics can say how far the replica is behind without ever waiting on Litestream: a stopped,
// hung or failing Litestream only shows up as "unavailable" and a growing lag.
import { resolve } from "node:path";
import type { Logger } from "../log.ts";
import { LagTracker, parseLitestreamMetrics } from "./lag.ts";

const POLL_INTERVAL_MS = 5000;
const POLL_TIMEOUT_MS = 2000;
/** Past this, /health says the replica is "behind". */
const REPLICATION_BEHIND_SECS = 60;

export interface ReplicationStatus {
  state: "ok" | "behind" | "unavailable";
  lagSeconds: number;
}

export interface ReplicationMonitor {
  status(now?: number): ReplicationStatus;
  stop(): void;
}

export function startReplicationMonitor(
  metricsUrl: string,
  databasePath: string,
  log: Logger,
): ReplicationMonitor {
  // Litestream names the database by its absolute path.
  const path = resolve(databasePath);
  const tracker = new LagTracker(Date.now());
  let problem = "";
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
      const text = await response.text();
      if (!response.ok) throw new Error(`it answered ${response.status}`);
      const sample = parseLitestreamMetrics(text, path);
      if (!sample) throw new Error(`it does not list ${path}; check DATABASE_PATH in litestream.yml`);
      tracker.observe(sample, Date.now());
      if (problem) log.info("replication: Litestream answers again", { url: metricsUrl });
      problem = "";
    } catch (error) {
      tracker.unavailable();
      const reason = error instanceof Error ? error.message : String(error);
      // Said once per outage, not every 5 s.
      if (reason !== problem) {
        log.warn("replication: cannot read Litestream's metrics; the replica may be falling behind", {
          url: metricsUrl,
          reason,
        });
      }
      problem = reason;
    } finally {
      polling = false;
    }
  };
  const first = setTimeout(poll, 0);
  const timer = setInterval(poll, POLL_INTERVAL_MS);
  return {
    status(now = Date.now()) {
      const lagSeconds = tracker.lagSeconds(now);
      const state = !tracker.up ? "unavailable" : lagSeconds > REPLICATION_BEHIND_SECS ? "behind" : "ok";
      return { state, lagSeconds };
    },
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
