// The receiver's HTTP application: one Elysia instance per feature, composed here.
import { Elysia } from "elysia";
import { adminController } from "./admin/controller.ts";
import { adminError, isAdminPath } from "./admin/responses.ts";
import type { ReceiverContext } from "./context.ts";
import { DatabaseUnavailableError } from "./db/store.ts";
import { healthController } from "./health/controller.ts";
import { apiError, databaseUnavailable, isClientAbort } from "./http.ts";
import { keysController } from "./keys/controller.ts";
import { reportsController } from "./reports/controller.ts";
import { tokensController } from "./tokens/controller.ts";

export function createApp(ctx: ReceiverContext) {
  return new Elysia()
    .onError(({ code, error, request }) => {
      // The dashboard answers with pages and its own security headers, not the API's JSON.
      if (isAdminPath(request)) return adminError(ctx.log, code, error, request);
      if (code === "NOT_FOUND") return apiError(404, "not-found", "No such endpoint.");
      // SQLite refusing (busy behind an admin's lock, read-only disk, broken file) is the
      // database being unavailable: the reporter keeps the report and retries.
      if (
        error instanceof DatabaseUnavailableError ||
        (error instanceof Error && error.name === "SQLiteError")
      ) {
        ctx.log.warn("database unavailable", {
          path: new URL(request.url).pathname,
          reason: (error as { code?: string }).code ?? error.message,
        });
        return databaseUnavailable();
      }
      if (code === "PARSE" || code === "VALIDATION") {
        return apiError(400, "invalid-body", "The request could not be read.");
      }
      // Not the receiver failing: the client went away mid-upload (its next try sends it again).
      if (isClientAbort(error)) {
        return apiError(
          400,
          "invalid-body",
          "The request body did not arrive whole: the client closed the connection.",
        );
      }
      ctx.log.error("request failed", {
        path: new URL(request.url).pathname,
        error: error instanceof Error ? error.name : String(code),
      });
      return apiError(
        500,
        "internal",
        "The receiver failed on this request; it was logged and the server goes on.",
      );
    })
    .use(healthController(ctx))
    .use(tokensController(ctx))
    .use(keysController(ctx))
    .use(reportsController(ctx))
    .use(adminController(ctx));
}
