// Recomputes the stored 5-hour window figures and tier estimates in the background, at start and
// then every TIER_INFERENCE_INTERVAL_SECS, so dashboard pages only read them.
import type { ReceiverContext } from "../context.ts";

export interface TierSchedule {
  stop(): void;
}

export function startTierRecomputation(ctx: ReceiverContext): TierSchedule {
  // Only the dashboard shows them: without ADMIN_TOKEN there is nobody to compute them for.
  if (!ctx.config.adminToken) return { stop() {} };
  let running = false;
  const run = async () => {
    if (running) return; // a slow run is never doubled up by the next tick
    running = true;
    const started = performance.now();
    try {
      const users = await ctx.store.services().analytics.recomputeTierEstimates(Date.now());
      ctx.log.info("tier estimates recomputed", { users, ms: (performance.now() - started).toFixed(0) });
    } catch (error) {
      ctx.log.warn("tier estimates not recomputed; will retry", {
        reason: error instanceof Error ? error.message : String(error),
        retry_secs: ctx.config.tierInferenceIntervalSecs,
      });
    } finally {
      running = false;
    }
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, ctx.config.tierInferenceIntervalSecs * 1000);
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
