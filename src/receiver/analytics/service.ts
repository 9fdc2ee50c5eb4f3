// The dashboard's queries, one module per thing they serve; this only puts them together.
import type { Database } from "../db/database.ts";
import { createModelColours } from "./colours.ts";
import { createOverviewQueries } from "./overview.ts";
import type { PriceTable } from "./prices.ts";
import { createRecomputeJob } from "./recompute.ts";
import { createUsageExport } from "./usage-export.ts";
import { createUserQueries } from "./user.ts";

export function createAnalyticsService(db: Database, prices: PriceTable) {
  return {
    ...createOverviewQueries(db, prices),
    ...createUserQueries(db, prices),
    ...createRecomputeJob(db),
    ...createUsageExport(db, prices),
    ...createModelColours(db),
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;
