// Pruning raw usage rows older than RAW_EVENT_RETENTION_DAYS, a small batch at a time. The rollups
// (usage_daily, usage_hourly, session_days), windows and tier estimates are kept: they are what the
// dashboard reads. Rows are walked in id order, which is the order they were received in, so each
// batch reads only the rows it deletes and one more: never a scan of the table.
import type { Database } from "../db/database.ts";

export interface PruneBatch {
  deleted: number;
  /** No row received before the horizon is left. */
  done: boolean;
}

export function createRetentionService(db: Database) {
  const oldest = db.query<{ id: number; old: number }, [string, number]>(
    "SELECT id, received_at < ? AS old FROM usage_events ORDER BY id LIMIT ?",
  );
  const remove = db.query<unknown, [number, number]>("DELETE FROM usage_events WHERE id BETWEEN ? AND ?");
  return {
    /** Deletes up to `limit` of the oldest rows received before `horizon` (SQL time). */
    pruneBatch(horizon: string, limit: number): PruneBatch {
      const rows = oldest.all(horizon, limit + 1);
      let count = 0;
      while (count < rows.length && count < limit && rows[count]!.old) count++;
      if (count > 0) remove.run(rows[0]!.id, rows[count - 1]!.id);
      return { deleted: count, done: count === rows.length || !rows[count]!.old };
    },
  };
}
