import type { Config } from "./config.ts";
import type { Store } from "./db/store.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { ReplicationMonitor } from "./replication/monitor.ts";

/** What every controller is built with; services come from `store.services()` per request. */
export interface ReceiverContext {
  config: Config;
  store: Store;
  log: Logger;
  metrics: Metrics;
  /** Per bearer token: RATE_LIMIT_PER_MINUTE. */
  limiter: RateLimiter;
  /** Per person, over all the access tokens they mint: PERSON_RATE_FACTOR × RATE_LIMIT_PER_MINUTE. */
  personLimiter: RateLimiter;
  /** Watches Litestream's replica when LITESTREAM_METRICS_URL is set. */
  replication?: ReplicationMonitor;
}

/** A person's devices together may send this many times what one token may: two at full speed. */
export const PERSON_RATE_FACTOR = 2;
