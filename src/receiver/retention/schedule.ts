// Prunes raw usage rows in the background, at start and then hourly, when RAW_EVENT_RETENTION_DAYS
// is set. Each batch is a short write in the shared group commit, with a pause after it, so
// reports and pages go on being answered while a large backlog is pruned.
import { toSqlTime } from "../../protocol/index.ts";
import type { ReceiverContext } from "../context.ts";

const INTERVAL_MS = 3_600_000;
const BATCH_ROWS = 1000;
const PAUSE_MS = 20;

export interface PruneSchedule {
  stop(): void;
}

export function startRawEventPruning(ctx: ReceiverContext): PruneSchedule {
  const days = ctx.config.rawEventRetentionDays;
  if (days === undefined) return { stop() {} };
  let running = false;
  let stopped = false;
  const run = async () => {
    if (running) return;
    running = true;
    const started = performance.now();
    const horizon = toSqlTime(Date.now() - days * 86_400_000);
    let rows = 0;
    let batches = 0;
    try {
      for (;;) {
        const batch = await ctx.store.write((services) => services.retention.pruneBatch(horizon, BATCH_ROWS));
        rows += batch.deleted;
        batches++;
        if (batch.done || stopped) break;
        await Bun.sleep(PAUSE_MS);
      }
      if (rows > 0) {
        ctx.log.info("raw usage events pruned", {
          rows,
          batches,
          received_before: horizon,
          ms: (performance.now() - started).toFixed(0),
        });
      }
    } catch (error) {
      ctx.log.warn("raw usage events not pruned; will retry", {
        reason: error instanceof Error ? error.message : String(error),
        pruned: rows,
        retry_secs: INTERVAL_MS / 1000,
      });
    } finally {
      running = false;
    }
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, INTERVAL_MS);
  return {
    stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
