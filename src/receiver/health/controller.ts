import { Elysia } from "elysia";
import type { ReceiverContext } from "../context.ts";
import { json } from "../http.ts";
import type { Gauge } from "../metrics.ts";
import type { ReplicationMonitor } from "../replication/monitor.ts";

export function healthController(ctx: ReceiverContext) {
  // The log says what is wrong, with the fix, once per change rather than once per probe.
  let lastDetail = "";
  return new Elysia({ name: "health" })
    .get("/health", () => {
      const problem = ctx.store.probe();
      if (problem && problem.detail !== lastDetail) ctx.log.warn(problem.detail);
      lastDetail = problem?.detail ?? "";
      // The replica's state is said, never acted on: a lagging or stopped Litestream must not
      // make a load balancer or monitor take a receiver that stores reports out of service.
      const replication = ctx.replication?.status();
      const extra = replication
        ? { replication: replication.state, replication_lag_seconds: replication.lagSeconds }
        : {};
      // v1 reads status and db; reason is for the people looking.
      return problem
        ? json({ status: "degraded", db: "error", reason: problem.reason, ...extra }, 503)
        : json({ status: "ok", db: "ok", ...extra });
    })
    .get("/metrics", () => {
      let active = -1; // -1 says the database could not be read
      try {
        active = ctx.store.services().tokens.activeAccessTokens();
      } catch {}
      const body = ctx.metrics.render({
        active_access_tokens: {
          value: active,
          help: "Access tokens not yet expired whose refresh token is live; -1 when the database cannot be read.",
        },
        rate_limiter_keys: {
          value: ctx.limiter.size,
          help: "Tokens the API rate limiter is tracking now.",
        },
        ...replicationGauges(ctx.replication),
      });
      return new Response(body, { headers: { "Content-Type": "text/plain; version=0.0.4" } });
    });
}

/** Shown only when LITESTREAM_METRICS_URL is set: without Litestream there is no replica to watch. */
function replicationGauges(monitor: ReplicationMonitor | undefined): Record<string, Gauge> {
  if (!monitor) return {};
  const status = monitor.status();
  return {
    litestream_up: {
      value: status.state === "unavailable" ? 0 : 1,
      help: "1 when Litestream's metrics answered at the last look (every 5 s) and list this database, else 0.",
    },
    replication_lag_seconds: {
      value: status.lagSeconds,
      help: "Age of the oldest change Litestream has not yet shipped to its replica; while Litestream does not answer, counts up from when it was last known caught up.",
    },
  };
}
