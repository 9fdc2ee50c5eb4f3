// /admin/*: the dashboard, composed of what it serves. One Elysia instance: the assets and login
// come before the guard, and every route added after it needs a session or the bearer token.
import { Elysia } from "elysia";
import type { ReceiverContext } from "../context.ts";
import { type AdminDeps, addLoginAndGuard, addSessionEndRoutes, auditLog } from "./access.ts";
import { DASHBOARD_CSS, DASHBOARD_JS } from "./assets.ts";
import { addChangeRoutes } from "./changes.ts";
import { addDownloadRoutes } from "./downloads.ts";
import { addPageRoutes } from "./pages.ts";
import { adminResponse, message } from "./responses.ts";

export function adminController(ctx: ReceiverContext) {
  const configured = ctx.config.adminToken;
  const app = new Elysia({ name: "admin" });
  if (!configured) {
    const disabled = () =>
      message(
        503,
        "Admin dashboard disabled",
        "The dashboard is off because ADMIN_TOKEN is not set. Set ADMIN_TOKEN to a long random secret (for example: openssl rand -hex 32) in the receiver's environment and restart it.",
      );
    return app.all("/admin", disabled).all("/admin/*", disabled);
  }

  const deps: AdminDeps = { ctx, audit: auditLog(ctx) };
  // Open to all: the login page uses them.
  app
    .get("/admin/assets/dashboard.css", () =>
      adminResponse(DASHBOARD_CSS, 200, { "Content-Type": "text/css; charset=utf-8" }),
    )
    .get("/admin/assets/dashboard.js", () =>
      adminResponse(DASHBOARD_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }),
    );
  // Elysia adds each route to this same instance; a route gets the hooks registered before it.
  const guarded = addLoginAndGuard(app, deps, configured);
  addPageRoutes(guarded, deps);
  addDownloadRoutes(guarded, deps);
  addChangeRoutes(guarded, deps);
  addSessionEndRoutes(guarded, deps);
  return guarded;
}
