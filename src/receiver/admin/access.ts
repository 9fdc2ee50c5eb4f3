// Who may use /admin and how it is recorded: login with ADMIN_TOKEN into a server-side session, or
// the ADMIN_TOKEN as a bearer token for scripts; the guard on every later route; the audit log.
import type { Cookie, Elysia } from "elysia";
import { addressLimitKey, clientAddress } from "../client-address.ts";
import type { ReceiverContext } from "../context.ts";
import { bearerToken } from "../http.ts";
import { RateLimiter } from "../rate-limit.ts";
import type { Services } from "../services.ts";
import { AdminModel, safeReturn } from "./model.ts";
import { adminResponse, htmlResponse, message, redirect } from "./responses.ts";
import { type AuditAction, SESSION_HOURS, secretsEqual } from "./service.ts";
import { countOf } from "./views/format.ts";
import { loginPage } from "./views/messages.ts";

const SESSION_COOKIE = "ccflux_admin";
/** Login attempts (and failed bearer tokens) per client address (IPv6: per /64) over any 60 s. */
export const LOGIN_ATTEMPTS_PER_MINUTE = 10;

export type Auth = { kind: "session"; sessionId: string; csrf: string } | { kind: "bearer" };

export type Audit = (
  services: Services,
  request: Request,
  auth: Auth | null,
  action: AuditAction,
  subject?: string,
  detail?: string,
) => void;

/** What the dashboard's routes are given: the receiver, and the audit log to record changes in. */
export interface AdminDeps {
  ctx: ReceiverContext;
  audit: Audit;
}

function addressOf(ctx: ReceiverContext, request: Request): string {
  return clientAddress(request, ctx.config.trustProxy);
}

/** An audit row (who: the Auth's kind; from where: the client address) and a log line per action. */
export function auditLog(ctx: ReceiverContext): Audit {
  return (services, request, auth, action, subject = "", detail = "") => {
    services.admin.audit(
      { action, actor: auth?.kind ?? "anonymous", address: addressOf(ctx, request), subject, detail },
      Date.now(),
    );
    ctx.log.info("admin", { action, subject: subject || undefined, address: addressOf(ctx, request) });
  };
}

/**
 * The session cookie's value. Elysia parses a JSON-looking value ({...}, [...], 12) into an object
 * or a number; that is no session of ours (a planted cookie must not lock the admin out).
 */
function sessionIdOf(cookie: Record<string, { value: unknown } | undefined>): string | undefined {
  const value = cookie[SESSION_COOKIE]?.value;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Adds the login page and form to app, then the guard: every route added to the returned app
 * afterwards needs a session or the bearer token, and its forms the session's CSRF token.
 */
export function addLoginAndGuard(app: Elysia, { ctx, audit }: AdminDeps, adminToken: string) {
  const loginLimiter = new RateLimiter(LOGIN_ATTEMPTS_PER_MINUTE, 10_000);
  const limitKeyOf = (request: Request) => addressLimitKey(addressOf(ctx, request));

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

  app
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
          ctx.log.warn("admin login rate-limited", { address: addressOf(ctx, request) });
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
        const sessionId = services.admin.startSession(addressOf(ctx, request), Date.now());
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
    );

  return app
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
    });
}

/** The app every guarded route is added to: its handlers see the request's auth. */
export type GuardedApp = ReturnType<typeof addLoginAndGuard>;

/** Logging out, of this session or of every one. */
export function addSessionEndRoutes(app: GuardedApp, { ctx, audit }: AdminDeps): void {
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

  app
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
    );
}
