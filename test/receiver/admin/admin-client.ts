// A browser-like client for the dashboard over real HTTP: keeps the session cookie, reads the
// CSRF token from pages, posts forms, never follows redirects (tests look at them).
import { expect } from "bun:test";
import type { TestReceiver } from "../../support/receiver.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

export class AdminClient {
  cookie = "";
  csrf = "";

  constructor(readonly url: string) {}

  request(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      redirect: "manual",
      ...init,
      headers: { ...(this.cookie ? { Cookie: this.cookie } : {}), ...init.headers },
    });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { headers });
  }

  /** A urlencoded form; the session's CSRF token is added unless `csrf` is given (null: none). */
  post(
    path: string,
    fields: Record<string, string> = {},
    csrf: string | null = this.csrf,
  ): Promise<Response> {
    const body = new URLSearchParams({ ...(csrf === null ? {} : { csrf }), ...fields });
    return this.request(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    });
  }

  async login(token = ADMIN_TOKEN, headers: Record<string, string> = {}): Promise<Response> {
    const response = await this.request("/admin/login", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ token, next: "/admin/" }).toString(),
    });
    const setCookie = response.headers.get("set-cookie");
    if (response.status === 303 && setCookie) {
      this.cookie = setCookie.split(";")[0]!;
      await this.refreshCsrf();
    }
    return response;
  }

  /** Reads the session's CSRF token from a page's forms. */
  async refreshCsrf(): Promise<void> {
    const page = await (await this.get("/admin/tokens")).text();
    this.csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    expect(this.csrf.length).toBeGreaterThan(20);
  }
}

export const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

export function expectSecurityHeaders(response: Response): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    expect(response.headers.get(name)).toBe(value);
  const csp = response.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).toContain("frame-ancestors 'none'");
}

/**
 * Waits for the tier computation the receiver runs at start: it takes SQLite's write lock for a
 * moment, and the sqlite3 CLI the tests use (like an admin's) gives up at once on a lock.
 */
export async function firstTierRun(receiver: TestReceiver): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!receiver.output().includes("tier estimates recomputed")) {
    if (Date.now() > deadline) throw new Error(`no tier computation at start:\n${receiver.output()}`);
    await Bun.sleep(10);
  }
}
