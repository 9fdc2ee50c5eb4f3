import { toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";

export function createHealthService(db: Database) {
  const read = db.query<{ n: number }, []>("SELECT count(*) AS n FROM refresh_tokens");
  const write = db.query<unknown, [string]>(
    "INSERT INTO health_probe (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
  );
  return {
    /** Throws when the database cannot be read or written. */
    probe(now: number): void {
      db.transaction(() => {
        read.get();
        write.run(toSqlTime(now));
      }).immediate();
    },
  };
}
