// Every feature's service, prepared on one open database.
import { createAdminService } from "./admin/service.ts";
import { createAnalyticsService } from "./analytics/service.ts";
import type { Config } from "./config.ts";
import type { Database } from "./db/database.ts";
import { createHealthService } from "./health/service.ts";
import { createKeyService } from "./keys/service.ts";
import { createLimitEventCap } from "./reports/limit-event-cap.ts";
import { createModelNames } from "./reports/model-names.ts";
import { createReportService } from "./reports/service.ts";
import { createRetentionService } from "./retention/service.ts";
import { createTokenService } from "./tokens/service.ts";

export function createServices(db: Database, config: Config) {
  return {
    db,
    tokens: createTokenService(db, config),
    keys: createKeyService(db),
    reports: createReportService(db),
    retention: createRetentionService(db),
    modelNames: createModelNames(db),
    limitEventCap: createLimitEventCap(db),
    health: createHealthService(db),
    admin: createAdminService(db, config.adminToken),
    analytics: createAnalyticsService(db, config.prices),
  };
}

export type Services = ReturnType<typeof createServices>;
