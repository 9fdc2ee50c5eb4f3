// /admin/*: the dashboard. Access is a server-side session (login with ADMIN_TOKEN) or the
// ADMIN_TOKEN itself as a bearer token for scripts; every form carries the session's CSRF token.
import { type Cookie, Elysia } from "elysia";
import { type DayRange, daysIn, rangeShortLabel } from "../analytics/ranges.ts";
import { evidenceOf, seatAdvice } from "../analytics/seats.ts";
import { addressLimitKey, clientAddress } from "../client-address.ts";
import type { ReceiverContext } from "../context.ts";
import { DatabaseUnavailableError } from "../db/store.ts";
import { bearerToken, isClientAbort } from "../http.ts";
import type { Logger } from "../log.ts";
import { RateLimiter } from "../rate-limit.ts";
import type { Services } from "../services.ts";
import { importPeople, issuedCsv, planImport } from "../tokens/import.ts";
import { DEFAULT_TOKEN_DAYS, normaliseEmail, provisioningProblem } from "../tokens/service.ts";
import { DASHBOARD_CSS, DASHBOARD_JS } from "./assets.ts";
import { type ExportFormat, usageStream } from "./export.ts";
import type { Html } from "./html.ts";
import {
  AdminModel,
  parseDayRange,
  parseDays,
  parseDivision,
  parseId,
  rangeProblemNotice,
  safeReturn,
  withNotice,
} from "./model.ts";
import { personExport, personRows } from "./people-export.ts";
import { type AuditAction, SESSION_HOURS, secretsEqual } from "./service.ts";
import { auditPage } from "./views/audit.ts";
import { devicesPage } from "./views/devices.ts";
import { countOf } from "./views/format.ts";
import type { View } from "./views/layout.ts";
import { loginPage, messagePage } from "./views/messages.ts";
import { overviewPage } from "./views/overview.ts";
import { choosePage } from "./views/paging.ts";
import { userHref } from "./views/parts.ts";
import { searchPage } from "./views/search.ts";
import { EMPTY_FORM, issuedPage, type ProvisionForm, tokensPage } from "./views/tokens.ts";
import { modelsInColour } from "./views/usage-parts.ts";
import { userPage } from "./views/user.ts";

export const SESSION_COOKIE = "ccflux_admin";
/** Login attempts (and failed bearer tokens) per client address (IPv6: per /64) over any 60 s. */
export const LOGIN_ATTEMPTS_PER_MINUTE = 10;
const AUDIT_ROWS = 500;
const RECENT_EVENTS = 50;
const USER_SESSIONS = 200;
/** A search reads at most this many matches (then asks for more of the email) and this long a text. */
const SEARCH_MATCHES = 1000;
const SEARCH_CHARS = 200;

/** Scripts may be loaded from /admin/assets only; styles likewise; SVG colours are attributes. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  "Cache-Control": "no-store",
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

export function isAdminPath(request: Request): boolean {
  const path = new URL(request.url).pathname;
  return path === "/admin" || path.startsWith("/admin/");
}

export function adminResponse(
  body: BodyInit | null,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/html; charset=utf-8", ...SECURITY_HEADERS, ...headers },
  });
}

function htmlResponse(page: Html, status = 200, headers: Record<string, string> = {}): Response {
  return adminResponse(page.text, status, headers);
}

function redirect(location: string, headers: Record<string, string> = {}): Response {
  return adminResponse(null, 303, { Location: location, ...headers });
}

function message(status: number, title: string, text: string, action?: { href: string; label: string }) {
  return htmlResponse(messagePage(title, text, action), status);
}

/**
 * Errors on admin paths, called by the app's error handler: the same headers as every admin
 * response, and a page that says what to do instead of the API's JSON.
 */
export function adminError(log: Logger, code: string | number, error: unknown, request: Request): Response {
  const path = new URL(request.url).pathname;
  if (error instanceof DatabaseUnavailableError || (error instanceof Error && error.name === "SQLiteError")) {
    log.warn("database unavailable", { path, reason: (error as { code?: string }).code });
    return message(
      503,
      "Database unavailable",
      "The receiver cannot read or write its database right now (DATABASE_PATH), for instance while someone holds a lock in sqlite3. Try again in a few seconds; GET /health shows the state.",
    );
  }
  if (code === "NOT_FOUND") {
    return message(404, "Not found", "There is no such page in the dashboard.", {
      href: "/admin/",
      label: "Go to the overview",
    });
  }
  if ((code === "PARSE" || code === "VALIDATION") && path.startsWith("/admin/api/")) {
    return json(400, {
      error: "invalid-request",
      message:
        'The body could not be read: send JSON such as {"email": "jsmith@example.org", "division": "engineering", "days": 365} with Content-Type: application/json.',
    });
  }
  if (code === "PARSE" || code === "VALIDATION" || isClientAbort(error)) {
    return message(
      400,
      "Request not understood",
      "The form or query could not be read; reload the page and try again.",
    );
  }
  log.error("request failed", { path, error: error instanceof Error ? error.name : String(code) });
  return message(
    500,
    "Something failed",
    "The receiver failed on this request; it was logged. Try again, or check the receiver's log.",
  );
}

/**
 * The session cookie's value. Elysia parses a JSON-looking value ({...}, [...], 12) into an object
 * or a number; that is no session of ours (a planted cookie must not lock the admin out).
 */
function sessionIdOf(cookie: Record<string, { value: unknown } | undefined>): string | undefined {
  const value = cookie[SESSION_COOKIE]?.value;
  return typeof value === "string" && value !== "" ? value : undefined;
}

type Auth = { kind: "session"; sessionId: string; csrf: string } | { kind: "bearer" };

function exportFileName(url: URL, extension: string, range?: DayRange): string {
  const what =
    url.pathname
      .replace(/^\/admin\/?/, "")
      .replace(/[^A-Za-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "overview";
  const day = new Date().toISOString().slice(0, 10);
  const span = !range
    ? ""
    : range.key === "custom"
      ? `-${range.from}-to-${range.to}`
      : `-${rangeShortLabel(range.key).replace(" ", "")}`;
  return `ccflux-${what}${span}-${day}.${extension}`;
}

function json(status: number, body: unknown): Response {
  return adminResponse(JSON.stringify(body), status, { "Content-Type": "application/json" });
}

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

  const adminToken: string = configured;
  const loginLimiter = new RateLimiter(LOGIN_ATTEMPTS_PER_MINUTE, 10_000);
  const addressOf = (request: Request) => clientAddress(request, ctx.config.trustProxy);
  const limitKeyOf = (request: Request) => addressLimitKey(addressOf(request));

  function audit(
    services: Services,
    request: Request,
    auth: Auth | null,
    action: AuditAction,
    subject = "",
    detail = "",
  ): void {
    services.admin.audit(
      { action, actor: auth?.kind ?? "anonymous", address: addressOf(request), subject, detail },
      Date.now(),
    );
    ctx.log.info("admin", { action, subject: subject || undefined, address: addressOf(request) });
  }

  function tooManyAttempts(retryAfterSecs: number): Response {
    return htmlResponse(
      loginPage(
        "/admin/",
        `Too many login attempts from this address in the last minute (at most ${LOGIN_ATTEMPTS_PER_MINUTE}); try again in ${retryAfterSecs} s.`,
      ),
      429,
      { "Retry-After": String(retryAfterSecs) },
    );
  }

  /**
   * The session or bearer behind the request, null when there is none; a Response to stop early.
   * A bearer is a login attempt: an address over the login limit is refused before the bearer is
   * compared with ADMIN_TOKEN (so guessing learns nothing), and each wrong one counts and is audited.
   */
  function authenticate(request: Request, sessionId: string | undefined): Auth | Response | null {
    const bearer = bearerToken(request);
    if (bearer !== null) {
      const limitKey = limitKeyOf(request);
      const now = Date.now();
      // Refused guesses are not logged beyond their request line: they may come thousands a second.
      const decision = loginLimiter.peek(limitKey, now);
      if (!decision.allowed) return tooManyAttempts(decision.retryAfterSecs);
      if (secretsEqual(bearer, adminToken)) return { kind: "bearer" };
      loginLimiter.check(limitKey, now);
      audit(ctx.store.services(), request, null, "login-failed", "", "wrong bearer token");
      return adminResponse("The bearer token is not ADMIN_TOKEN.\n", 401, {
        "Content-Type": "text/plain; charset=utf-8",
        "WWW-Authenticate": 'Bearer realm="ccflux admin"',
      });
    }
    if (!sessionId) return null;
    const session = ctx.store.services().admin.session(sessionId, Date.now());
    return session ? { kind: "session", sessionId, csrf: session.csrfToken } : null;
  }

  /** The user page's paged lists: their limit events and device keys, a page of each. */
  function userListPages(view: View, services: Services, email: string) {
    const limitEventsPage = choosePage(view, "limits_page", services.analytics.userLimitEventCount(email));
    const counts = services.keys.counts(email);
    const devicesPage = choosePage(view, "devices_page", counts.total);
    return {
      limitEvents: services.analytics.userLimitEvents(email, limitEventsPage.offset, limitEventsPage.limit),
      limitEventsPage,
      devices: services.keys.page(email, devicesPage.offset, devicesPage.limit),
      devicesPage,
      activeDevices: counts.active,
    };
  }

  function viewFor(request: Request, auth: Auth): View {
    const url = new URL(request.url);
    return {
      exported: url.searchParams.has("export"),
      csrf: auth.kind === "session" ? auth.csrf : "",
      url,
      now: Date.now(),
    };
  }

  /** A dashboard page, or with ?export the same page as a download (audited). */
  function show(request: Request, auth: Auth, view: View, page: Html, services: Services): Response {
    if (!view.exported) return htmlResponse(page);
    audit(services, request, auth, "export", view.url.pathname, "html");
    const named = view.url.pathname === "/admin/" || view.url.pathname.startsWith("/admin/users/");
    const range = named ? parseDayRange(view.url.searchParams, view.now) : null;
    return htmlResponse(page, 200, {
      "Content-Disposition": `attachment; filename="${exportFileName(view.url, "html", range && !range.problem ? range.range : undefined)}"`,
    });
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

  function renderTokensPage(
    services: Services,
    view: View,
    form: ProvisionForm,
    problem: string | null,
    status = 200,
  ): Response {
    return htmlResponse(tokensPage(view, services.tokens.list(), form, problem), status);
  }

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

  return (
    app
      .get("/admin/assets/dashboard.css", () =>
        adminResponse(DASHBOARD_CSS, 200, { "Content-Type": "text/css; charset=utf-8" }),
      )
      .get("/admin/assets/dashboard.js", () =>
        adminResponse(DASHBOARD_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }),
      )
      .get(
        "/admin/login",
        ({ request, cookie, query }) => {
          const auth = authenticate(request, sessionIdOf(cookie));
          if (auth instanceof Response) return auth;
          if (auth) return redirect(safeReturn(query.next, "/admin/"));
          return htmlResponse(loginPage(safeReturn(query.next, "/admin/"), null));
        },
        { query: AdminModel.loginQuery },
      )
      .post(
        "/admin/login",
        ({ request, body, cookie }) => {
          const next = safeReturn(body?.next, "/admin/");
          const decision = loginLimiter.check(limitKeyOf(request), Date.now());
          if (!decision.allowed) {
            ctx.log.warn("admin login rate-limited", { address: addressOf(request) });
            return tooManyAttempts(decision.retryAfterSecs);
          }
          const services = ctx.store.services();
          if (!body?.token || !secretsEqual(body.token, adminToken)) {
            audit(services, request, null, "login-failed");
            return htmlResponse(
              loginPage(
                next,
                "That is not the admin token. Use the value of the receiver's ADMIN_TOKEN setting; attempts are limited per address.",
              ),
              401,
            );
          }
          const sessionId = services.admin.startSession(addressOf(request), Date.now());
          cookie[SESSION_COOKIE]!.set({
            value: sessionId,
            httpOnly: true,
            sameSite: "strict",
            path: "/admin",
            secure: ctx.config.cookieSecure,
            maxAge: SESSION_HOURS * 3600,
          });
          audit(services, request, { kind: "session", sessionId, csrf: "" }, "login");
          return redirect(next);
        },
        { body: AdminModel.login },
      )
      // Everything below needs a session or the bearer token; forms also need the CSRF token.
      .resolve(({ request, cookie }) => {
        const auth = authenticate(request, sessionIdOf(cookie));
        return { auth };
      })
      .onBeforeHandle(({ auth, request, body }) => {
        if (auth instanceof Response) return auth;
        if (auth === null) {
          const url = new URL(request.url);
          if (request.method === "GET") {
            return redirect(
              `/admin/login?next=${encodeURIComponent(safeReturn(url.pathname + url.search, "/admin/"))}`,
            );
          }
          return message(
            401,
            "Not logged in",
            "Your session has ended or you are not logged in; log in and try again.",
            {
              href: "/admin/login",
              label: "Log in",
            },
          );
        }
        if (request.method === "POST" && auth.kind === "session") {
          const given = (body as { csrf?: string } | undefined)?.csrf;
          if (!given || !secretsEqual(given, auth.csrf)) {
            return message(
              403,
              "Form expired",
              "The form's security token is missing or does not match your session, so nothing was changed. Reload the page and try again.",
              { href: "/admin/", label: "Go to the overview" },
            );
          }
        }
      })
      .get("/admin/", ({ request, auth }) => {
        const a = auth as Auth;
        const view = viewFor(request, a);
        const { range, problem } = parseDayRange(view.url.searchParams, view.now);
        const division = parseDivision(view.url.searchParams);
        const services = ctx.store.services();
        const overview = services.analytics.overview(range, view.now, division);
        const page = overviewPage(view, {
          overview,
          division,
          problem: problem && rangeProblemNotice(problem),
          recent: services.analytics.recentEvents(RECENT_EVENTS),
          lastActive: (email) => services.analytics.lastActiveOf(email),
          sessionCounts: (email) => services.analytics.sessionCounts(email, range),
          colourSlots: services.analytics.modelColourSlots(modelsInColour(overview.models)),
          tierIntervalSecs: ctx.config.tierInferenceIntervalSecs,
          pricesTakenOn: ctx.config.prices.takenOn,
        });
        if (problem) return htmlResponse(page, 400);
        return show(request, a, view, page, services);
      })
      .get(
        "/admin/users/:email",
        ({ request, auth, params }) => {
          const a = auth as Auth;
          const view = viewFor(request, a);
          const { range, problem } = parseDayRange(view.url.searchParams, view.now);
          const email = normaliseEmail(params.email);
          const services = ctx.store.services();
          if (!services.analytics.userExists(email)) {
            return message(404, "No such user", `${email} has no usage, no token and no device key here.`, {
              href: "/admin/",
              label: "Go to the overview",
            });
          }
          const usage = services.analytics.userUsage(email, range, view.now);
          const page = userPage(view, {
            email,
            range,
            problem: problem && rangeProblemNotice(problem),
            ...usage,
            windows: services.analytics.userWindows(email, range, view.now),
            sessions: services.analytics.userSessions(email, range, USER_SESSIONS),
            sessionLimit: USER_SESSIONS,
            ...userListPages(view, services, email),
            tokens: services.tokens.list(email),
            colourSlots: services.analytics.modelColourSlots(modelsInColour(usage.models)),
            pricesTakenOn: ctx.config.prices.takenOn,
          });
          if (problem) return htmlResponse(page, 400);
          return show(request, a, view, page, services);
        },
        { params: AdminModel.userEmail },
      )
      .get("/admin/search", ({ request, auth }) => {
        const view = viewFor(request, auth as Auth);
        const raw = view.url.searchParams.get("q") ?? "";
        const q = raw.trim().slice(0, SEARCH_CHARS);
        const problem =
          raw.trim().length > SEARCH_CHARS
            ? `The search was cut to its first ${SEARCH_CHARS} characters.`
            : null;
        const people = q ? ctx.store.services().analytics.findPeople(q, SEARCH_MATCHES + 1) : [];
        if (people.length === 1 && !view.exported && !problem) return redirect(userHref(people[0]!.email));
        return htmlResponse(
          searchPage(view, {
            q,
            people: people.slice(0, SEARCH_MATCHES),
            truncated: people.length > SEARCH_MATCHES,
            problem,
          }),
        );
      })
      .get("/admin/devices", ({ request, auth }) => {
        const a = auth as Auth;
        const view = viewFor(request, a);
        const services = ctx.store.services();
        const counts = services.keys.counts();
        const choice = choosePage(view, "page", counts.total);
        const keys = services.keys.page(undefined, choice.offset, choice.limit);
        const activePerUser = services.keys.activeCounts(keys.map((k) => k.email));
        return show(request, a, view, devicesPage(view, { keys, counts, activePerUser, choice }), services);
      })
      .get("/admin/tokens", ({ request, auth }) => {
        const a = auth as Auth;
        const view = viewFor(request, a);
        const services = ctx.store.services();
        if (view.exported) {
          return show(request, a, view, tokensPage(view, services.tokens.list(), EMPTY_FORM, null), services);
        }
        return renderTokensPage(services, view, EMPTY_FORM, null);
      })
      .get("/admin/audit", ({ request, auth }) => {
        const a = auth as Auth;
        const view = viewFor(request, a);
        const services = ctx.store.services();
        return show(
          request,
          a,
          view,
          auditPage(view, services.admin.auditLog(AUDIT_ROWS), AUDIT_ROWS),
          services,
        );
      })
      .get("/admin/tokens/issued", ({ request, auth }) => {
        const view = { ...viewFor(request, auth as Auth), exported: false };
        const nonce = view.url.searchParams.get("reveal") ?? "";
        const issued = nonce ? ctx.store.services().admin.takeReveal(nonce, view.now) : null;
        if (!issued) {
          return message(
            410,
            "Already shown",
            "A new token is shown only once, within 10 minutes of issuing it, and this one has been shown or has timed out. If it was not copied, reissue it from Users & tokens.",
            { href: "/admin/tokens", label: "Go to users & tokens" },
          );
        }
        const others = ctx.store.services().tokens.othersActive(issued.email, issued.id);
        return htmlResponse(issuedPage(view, issued, ctx.config.baseUrl, others));
      })
      .get("/admin/api/usage.csv", ({ request, auth }) => usageExport(request, auth as Auth, "csv"))
      .get("/admin/api/usage.json", ({ request, auth }) => usageExport(request, auth as Auth, "json"))
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
      .get("/admin/api/people.csv", ({ request, auth }) => peopleExport(request, auth as Auth, "csv"))
      .get("/admin/api/people.json", ({ request, auth }) => peopleExport(request, auth as Auth, "json"))
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
            return htmlResponse(
              tokensPage(view, services.tokens.list(), EMPTY_FORM, null, plan.problems),
              400,
            );
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
          const publicKey = body?.public_key ?? "";
          const key = services.keys.find(publicKey);
          if (!key || !services.keys.revoke(publicKey)) return redirect(withNotice(back, "nothing-changed"));
          audit(
            services,
            request,
            auth as Auth,
            "device-revoke",
            key.email,
            `device "${key.deviceId}" key ${publicKey}`,
          );
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
          const publicKey = body?.public_key ?? "";
          const key = services.keys.find(publicKey);
          if (!key || !services.keys.allow(publicKey, Date.now()))
            return redirect(withNotice(back, "nothing-changed"));
          audit(
            services,
            request,
            auth as Auth,
            "device-allow",
            key.email,
            `device "${key.deviceId}" key ${publicKey}`,
          );
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
      )
      .post(
        "/admin/logout",
        ({ request, auth, cookie }) => {
          const a = auth as Auth;
          const services = ctx.store.services();
          if (a.kind === "session") services.admin.endSession(a.sessionId);
          audit(services, request, a, "logout");
          clearSessionCookie(cookie);
          return redirect("/admin/login");
        },
        { body: AdminModel.action },
      )
      .post(
        "/admin/sessions/end-all",
        ({ request, auth, cookie }) => {
          const services = ctx.store.services();
          const ended = services.admin.endAllSessions();
          audit(services, request, auth as Auth, "logout-all", "", countOf(ended, "session"));
          clearSessionCookie(cookie);
          return redirect("/admin/login");
        },
        { body: AdminModel.action },
      )
  );

  function clearSessionCookie(cookie: Record<string, Cookie<unknown>>): void {
    cookie[SESSION_COOKIE]!.set({
      value: "",
      httpOnly: true,
      sameSite: "strict",
      path: "/admin",
      secure: ctx.config.cookieSecure,
      maxAge: 0,
    });
  }

  /** The range an export asks for, or the 400 that says what to change. */
  function exportRange(url: URL): DayRange | Response {
    const { range, problem } = parseDayRange(url.searchParams, Date.now());
    if (!problem) return range;
    return adminResponse(`${problem}\n`, 400, { "Content-Type": "text/plain; charset=utf-8" });
  }

  function usageExport(request: Request, auth: Auth, format: ExportFormat): Response {
    const url = new URL(request.url);
    const range = exportRange(url);
    if (range instanceof Response) return range;
    const services = ctx.store.services();
    // People download CSV; JSON is what dashboards such as Grafana poll, so only CSV is audited.
    if (format === "csv")
      audit(services, request, auth, "export", url.pathname, `${range.from} to ${range.to}`);
    const stream = usageStream(format, (after, limit) => services.analytics.exportPage(range, after, limit));
    return adminResponse(stream, 200, {
      "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/json",
      "Content-Disposition": `${format === "csv" ? "attachment" : "inline"}; filename="${exportFileName(
        new URL("/admin/usage", url),
        format,
        range,
      )}"`,
    });
  }

  /** One row per person over the overview's range (custom too) and division filter. */
  function peopleExport(request: Request, auth: Auth, format: ExportFormat): Response {
    const url = new URL(request.url);
    const now = Date.now();
    const range = exportRange(url);
    if (range instanceof Response) return range;
    const division = parseDivision(url.searchParams);
    const services = ctx.store.services();
    const overview = services.analytics.overview(range, now, division);
    const rows = personRows(overview.people, seatAdvice(overview.people.map(evidenceOf), daysIn(range)));
    if (format === "csv")
      audit(services, request, auth, "export", url.pathname, `${range.from} to ${range.to}`);
    return adminResponse(personExport(format, rows), 200, {
      "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/json",
      "Content-Disposition": `${format === "csv" ? "attachment" : "inline"}; filename="${exportFileName(
        new URL("/admin/people", url),
        format,
        range,
      )}"`,
    });
  }
}
