// What every /admin response is made of: the security headers, pages, redirects, JSON, and the
// pages for errors; no routes here.
import { type DayRange, rangeShortLabel } from "../analytics/ranges.ts";
import { DatabaseUnavailableError } from "../db/store.ts";
import { isClientAbort } from "../http.ts";
import type { Logger } from "../log.ts";
import type { Html } from "./html.ts";
import { messagePage } from "./views/messages.ts";

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

export function htmlResponse(page: Html, status = 200, headers: Record<string, string> = {}): Response {
  return adminResponse(page.text, status, headers);
}

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return adminResponse(null, 303, { Location: location, ...headers });
}

export function message(
  status: number,
  title: string,
  text: string,
  action?: { href: string; label: string },
) {
  return htmlResponse(messagePage(title, text, action), status);
}

export function json(status: number, body: unknown): Response {
  return adminResponse(JSON.stringify(body), status, { "Content-Type": "application/json" });
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

/** A download's file name: the page it comes from, its range when it has one, and today. */
export function exportFileName(url: URL, extension: string, range?: DayRange): string {
  const what =
    url.pathname
      .replace(/^\/admin\/?/, "")
      // An escaped character (the @ of an email is %40) is a separator like any other.
      .replace(/%[0-9A-Fa-f]{2}|[^A-Za-z0-9]+/g, "-")
      .replace(/-+/g, "-")
      .replace(/^-|-$/g, "") || "overview";
  const day = new Date().toISOString().slice(0, 10);
  const span = !range
    ? ""
    : range.key === "custom"
      ? `-${range.from}-to-${range.to}`
      : `-${rangeShortLabel(range.key).replace(" ", "")}`;
  return `ccflux-${what}${span}-${day}.${extension}`;
}
