// Serving: bind, log one line per request, stop gracefully on SIGTERM/SIGINT.
import { VERSION } from "../protocol/version.ts";
import { startTierRecomputation } from "./analytics/schedule.ts";
import { createApp } from "./app.ts";
import { clientAddress, setPeerAddressLookup } from "./client-address.ts";
import { type Config, configWarnings, describeConfig, formatAddress } from "./config.ts";
import { PERSON_RATE_FACTOR, type ReceiverContext } from "./context.ts";
import { Store } from "./db/store.ts";
import { badHost, routeTarget } from "./http.ts";
import { createLogger, type Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { RateLimiter } from "./rate-limit.ts";
import { startReplicationMonitor } from "./replication/monitor.ts";
import { startRawEventPruning } from "./retention/schedule.ts";

const API_ROUTES = new Set(["/token", "/register-key", "/report", "/limit-event", "/health", "/metrics"]);
const STOP_DEADLINE_MS = 4500;

/** A bounded label for metrics: the route, never the raw path. */
function routeLabel(path: string): string {
  if (API_ROUTES.has(path)) return path;
  return path === "/admin" || path.startsWith("/admin/") ? "/admin" : "other";
}

export interface RunningReceiver {
  url: string;
  ctx: ReceiverContext;
  stop(): Promise<void>;
}

export class PortInUseError extends Error {}

/** Opens the database, prints the guide's config block, binds, and serves until stopped. */
export function startReceiver(config: Config, log: Logger = createLogger()): RunningReceiver {
  console.log(describeConfig(config));
  const store = Store.open(config);
  const ctx: ReceiverContext = {
    config,
    store,
    log,
    metrics: new Metrics(),
    limiter: new RateLimiter(config.rateLimitPerMinute),
    personLimiter: new RateLimiter(config.rateLimitPerMinute * PERSON_RATE_FACTOR),
    replication: config.litestreamMetricsUrl
      ? startReplicationMonitor(config.litestreamMetricsUrl, config.databasePath, log)
      : undefined,
  };
  const app = createApp(ctx);
  // Requests routed on a copy (a very short Host) keep their peer address through the original.
  const originals = new WeakMap<Request, Request>();
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: config.listen.hostname,
      port: config.listen.port,
      development: false,
      // A second receiver on the same port must fail, not silently share the traffic.
      reusePort: false,
      // Our own check answers 413 with a JSON body first; this is only the backstop.
      maxRequestBodySize: Math.max(config.bodyLimitKb, 1024) * 1024 * 2,
      async fetch(request) {
        const started = performance.now();
        const target = routeTarget(request);
        let response: Response;
        if (target.ok) {
          if (target.request !== request) originals.set(target.request, request);
          response = await app.handle(target.request);
        } else {
          response = badHost();
        }
        const ms = performance.now() - started;
        // Unknown paths are logged as "other": a mistyped URL may carry anything, even a token.
        const path = target.path;
        const route = routeLabel(path);
        ctx.metrics.observeRequest(route, response.status, ms);
        log.info("request", {
          method: request.method,
          path: route === "other" ? "other" : path,
          status: response.status,
          ms: ms.toFixed(1),
          address: clientAddress(request, config.trustProxy),
        });
        return response;
      },
      // Only reached if something escaped the app's own error handler: one line, no stack trace.
      error(error) {
        log.error("request failed", { error: error.name });
        return new Response("The receiver failed on this request; it was logged and the server goes on.\n", {
          status: 500,
          headers: { "Content-Type": "text/plain; charset=utf-8" },
        });
      },
    });
  } catch (error) {
    store.close();
    if ((error as { code?: string }).code === "EADDRINUSE") {
      throw new PortInUseError(
        `LISTEN_ADDR=${formatAddress(config.listen)}: the address is already in use; stop the other process or choose another port`,
      );
    }
    throw error;
  }
  setPeerAddressLookup((request) => server.requestIP(originals.get(request) ?? request)?.address);
  const address = formatAddress({
    hostname: config.listen.hostname,
    port: server.port ?? config.listen.port,
  });
  console.log(`ccflux-receiver listening on ${address}`);
  log.info("started", { version: VERSION });
  for (const warning of configWarnings(config)) log.warn(warning);
  const tiers = startTierRecomputation(ctx);
  const pruning = startRawEventPruning(ctx);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      log.info("stopping", { reason: "signal" });
      tiers.stop();
      pruning.stop();
      ctx.replication?.stop();
      const force = setTimeout(() => server.stop(true), STOP_DEADLINE_MS);
      await server.stop(); // finishes requests in flight
      clearTimeout(force);
      store.close();
      log.info("stopped");
      log.flush();
    })();
    return stopping;
  };
  return { url: `http://${address}`, ctx, stop };
}
