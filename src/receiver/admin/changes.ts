// What changes tokens, device keys and tier estimates: the forms of the dashboard and the JSON token
// API for scripts, both through the same checked, audited token changes.

import type { Services } from "../services.ts";
import { importPeople, issuedCsv, planImport } from "../tokens/import.ts";
import { DEFAULT_TOKEN_DAYS, provisioningProblem } from "../tokens/service.ts";
import type { AdminDeps, Auth, GuardedApp } from "./access.ts";
import { AdminModel, parseDays, parseId, safeReturn, withNotice } from "./model.ts";
import { renderTokensPage, viewFor } from "./pages.ts";
import { adminResponse, htmlResponse, json, redirect } from "./responses.ts";
import { countOf } from "./views/format.ts";
import { EMPTY_FORM, type ProvisionForm, tokensPage } from "./views/tokens.ts";

function bearerOnly(): Response {
  return json(403, {
    error: "bearer-required",
    message: "The token API takes Authorization: Bearer <ADMIN_TOKEN>; in a browser, use Users & tokens.",
  });
}

function notFound(id: string): Response {
  return json(404, {
    error: "not-found",
    message: `There is no token #${id.slice(0, 20)} to change (or it is already revoked); GET /admin/api/tokens lists them.`,
  });
}

export function addChangeRoutes(app: GuardedApp, { ctx, audit }: AdminDeps): void {
  // Token changes, shared by the forms and the JSON API: checked, made, audited the same way.
  function provision(request: Request, auth: Auth, email: string, division: string | null, days: number) {
    const services = ctx.store.services();
    const problem = provisioningProblem(email, division, days);
    if (problem) return { problem };
    const issued = services.tokens.issue(email, division, days, Date.now());
    audit(services, request, auth, "provision", issued.email, `token #${issued.id}, ${countOf(days, "day")}`);
    return { issued };
  }

  /** The revoked token, or null when there was none to revoke. */
  function revoke(request: Request, auth: Auth, rawId: string) {
    const services = ctx.store.services();
    const id = parseId(rawId);
    const token = id === null ? null : services.tokens.get(id);
    if (!token || !services.tokens.revoke(token.id)) return null;
    audit(services, request, auth, "revoke", token.email, `token #${token.id}`);
    return token;
  }

  /** null when there is no such token (or it was replaced meanwhile). */
  function reissue(request: Request, auth: Auth, rawId: string, days: number) {
    const services = ctx.store.services();
    const id = parseId(rawId);
    const old = id === null ? null : services.tokens.get(id);
    if (!old) return null;
    const problem = provisioningProblem(old.email, old.division, days);
    if (problem) return { problem };
    const issued = services.tokens.reissue(old.id, days, Date.now());
    if (!issued) return null;
    audit(
      services,
      request,
      auth,
      "reissue",
      old.email,
      `token #${old.id} → #${issued.id}, ${countOf(days, "day")}`,
    );
    return { old, issued };
  }

  /** The device key a form names, once revoked or allowed and audited; null when nothing changed. */
  function changeDevice(
    services: Services,
    request: Request,
    auth: Auth,
    publicKey: string,
    action: "device-revoke" | "device-allow",
  ) {
    const key = services.keys.find(publicKey);
    if (!key) return null;
    const changed =
      action === "device-revoke"
        ? services.keys.revoke(publicKey)
        : services.keys.allow(publicKey, Date.now());
    if (!changed) return null;
    audit(services, request, auth, action, key.email, `device "${key.deviceId}" key ${publicKey}`);
    return key;
  }

  /** A new token as the API answers it: shown this once, with where its reporter sends. */
  function issuedAnswer(
    issued: { id: number; token: string; email: string; expiresAt: string },
    division: string | null,
  ) {
    return {
      id: issued.id,
      email: issued.email,
      division,
      expires_at: issued.expiresAt,
      refresh_token: issued.token,
      report_url: ctx.config.baseUrl ? `${ctx.config.baseUrl}/report` : null,
      other_active_tokens: ctx.store.services().tokens.othersActive(issued.email, issued.id),
    };
  }

  app
    // The JSON API for scripts: bearer ADMIN_TOKEN only (a browser session uses the forms).
    .get("/admin/api/tokens", ({ auth }) => {
      if ((auth as Auth).kind !== "bearer") return bearerOnly();
      return json(200, ctx.store.services().tokens.list());
    })
    .post(
      "/admin/api/tokens",
      ({ request, auth, body }) => {
        if ((auth as Auth).kind !== "bearer") return bearerOnly();
        const days = body?.days ?? DEFAULT_TOKEN_DAYS;
        const division = body?.division?.trim() ? body.division.trim() : null;
        const done = provision(request, auth as Auth, (body?.email ?? "").trim(), division, days);
        if ("problem" in done)
          return json(400, { error: "invalid-request", message: `Not added: ${done.problem}.` });
        return json(201, issuedAnswer(done.issued, division));
      },
      { body: AdminModel.apiProvision },
    )
    .post(
      "/admin/api/tokens/:id/revoke",
      ({ request, auth, params }) => {
        if ((auth as Auth).kind !== "bearer") return bearerOnly();
        const token = revoke(request, auth as Auth, params.id);
        if (!token) return notFound(params.id);
        return json(200, { id: token.id, email: token.email, status: "revoked" });
      },
      { params: AdminModel.tokenId },
    )
    .post(
      "/admin/api/tokens/:id/reissue",
      ({ request, auth, params, body }) => {
        if ((auth as Auth).kind !== "bearer") return bearerOnly();
        const done = reissue(request, auth as Auth, params.id, body?.days ?? DEFAULT_TOKEN_DAYS);
        if (!done) return notFound(params.id);
        if ("problem" in done) {
          return json(400, { error: "invalid-request", message: `Not reissued: ${done.problem}.` });
        }
        return json(201, { ...issuedAnswer(done.issued, done.old.division), replaces: done.old.id });
      },
      { params: AdminModel.tokenId, body: AdminModel.apiReissue },
    )
    .post(
      "/admin/tokens",
      ({ request, auth, body }) => {
        const a = auth as Auth;
        const services = ctx.store.services();
        const form: ProvisionForm = {
          email: (body?.email ?? "").trim(),
          division: (body?.division ?? "").trim(),
          days: (body?.days ?? String(DEFAULT_TOKEN_DAYS)).trim(),
        };
        const days = parseDays(form.days, DEFAULT_TOKEN_DAYS);
        const done = provision(request, a, form.email, form.division === "" ? null : form.division, days);
        if ("problem" in done) {
          const view = { ...viewFor(request, a), url: new URL("/admin/tokens", request.url) };
          return renderTokensPage(services, view, form, `Not added: ${done.problem}.`, 400);
        }
        return redirect(
          `/admin/tokens/issued?reveal=${services.admin.createReveal(done.issued.id, Date.now())}`,
        );
      },
      { body: AdminModel.provision },
    )
    .post(
      "/admin/tokens/import",
      ({ request, auth, body }) => {
        const a = auth as Auth;
        const services = ctx.store.services();
        const plan = planImport(body?.csv ?? "", parseDays(body?.days, DEFAULT_TOKEN_DAYS));
        if (plan.problems.length > 0) {
          const view = { ...viewFor(request, a), url: new URL("/admin/tokens", request.url) };
          return htmlResponse(tokensPage(view, services.tokens.list(), EMPTY_FORM, null, plan.problems), 400);
        }
        const result = services.db
          .transaction(() => importPeople(services.tokens, plan.rows, Date.now()))
          .immediate();
        for (const t of result.issued)
          audit(services, request, a, "provision", t.email, `token #${t.id}, import`);
        const day = new Date().toISOString().slice(0, 10);
        return adminResponse(
          issuedCsv(result.issued, ctx.config.baseUrl ? `${ctx.config.baseUrl}/report` : null),
          200,
          {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": `attachment; filename="ccflux-new-tokens-${day}.csv"`,
            "X-CCFLUX-Skipped": String(result.skipped.length),
          },
        );
      },
      { body: AdminModel.importPeople },
    )
    .post(
      "/admin/tokens/:id/revoke",
      ({ request, auth, params, body }) => {
        const back = safeReturn(body?.return, "/admin/tokens");
        if (!revoke(request, auth as Auth, params.id)) return redirect(withNotice(back, "nothing-changed"));
        return redirect(withNotice(back, "revoked"));
      },
      { params: AdminModel.tokenId, body: AdminModel.action },
    )
    .post(
      "/admin/tokens/:id/reissue",
      ({ request, auth, params, body }) => {
        const services = ctx.store.services();
        const done = reissue(request, auth as Auth, params.id, parseDays(body?.days, DEFAULT_TOKEN_DAYS));
        if (!done) return redirect(withNotice("/admin/tokens", "nothing-changed"));
        if ("problem" in done) {
          const view = { ...viewFor(request, auth as Auth), url: new URL("/admin/tokens", request.url) };
          return renderTokensPage(services, view, EMPTY_FORM, `Not reissued: ${done.problem}.`, 400);
        }
        return redirect(
          `/admin/tokens/issued?reveal=${services.admin.createReveal(done.issued.id, Date.now())}`,
        );
      },
      { params: AdminModel.tokenId, body: AdminModel.reissue },
    )
    .post(
      "/admin/devices/revoke",
      ({ request, auth, body }) => {
        const services = ctx.store.services();
        const back = safeReturn(body?.return, "/admin/devices");
        const key = changeDevice(services, request, auth as Auth, body?.public_key ?? "", "device-revoke");
        if (!key) return redirect(withNotice(back, "nothing-changed"));
        if (body?.reissue !== "1") return redirect(withNotice(back, "device-revoked"));
        // The lost device may hold the person's refresh token: replace it, and show the new one once.
        const now = Date.now();
        const { issued, revoked } = services.tokens.replace(key.email, undefined, DEFAULT_TOKEN_DAYS, now);
        audit(
          services,
          request,
          auth as Auth,
          "reissue",
          key.email,
          `${revoked} revoked → #${issued.id}, ${countOf(DEFAULT_TOKEN_DAYS, "day")}`,
        );
        return redirect(`/admin/tokens/issued?reveal=${services.admin.createReveal(issued.id, now)}`);
      },
      { body: AdminModel.deviceRevoke },
    )
    .post(
      "/admin/devices/allow",
      ({ request, auth, body }) => {
        const services = ctx.store.services();
        const back = safeReturn(body?.return, "/admin/devices");
        const key = changeDevice(services, request, auth as Auth, body?.public_key ?? "", "device-allow");
        if (!key) return redirect(withNotice(back, "nothing-changed"));
        return redirect(withNotice(back, "device-allowed"));
      },
      { body: AdminModel.deviceRevoke },
    )
    .post(
      "/admin/tiers/recompute",
      async ({ body }) => {
        const started = performance.now();
        const users = await ctx.store.services().analytics.recomputeTierEstimates(Date.now());
        ctx.log.info("tier estimates recomputed", {
          users,
          ms: (performance.now() - started).toFixed(0),
          by: "admin",
        });
        return redirect(withNotice(safeReturn(body?.return, "/admin/"), "tiers-recomputed"));
      },
      { body: AdminModel.action },
    );
}
