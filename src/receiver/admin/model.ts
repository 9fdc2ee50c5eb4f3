// What the admin routes accept. Fields are strings of bounded length; what they must mean
// (an email, a number of days) is checked by the handlers, which answer with a message in the form.
import { t } from "elysia";
import {
  customRange,
  type DayRange,
  DEFAULT_RANGE,
  fixedRange,
  isRangeKey,
  type RangeKey,
} from "../analytics/ranges.ts";

const field = t.Optional(t.String({ maxLength: 2000 }));

export const AdminModel = {
  // Bodies are optional: a post with no fields at all must reach the CSRF check (403), not fail here.
  login: t.Optional(t.Object({ token: field, next: field })),
  loginQuery: t.Object({ next: field }),
  /** Every state-changing form: the session's CSRF token, and where to go back to. */
  action: t.Optional(t.Object({ csrf: field, return: field })),
  provision: t.Optional(t.Object({ csrf: field, email: field, division: field, days: field })),
  reissue: t.Optional(t.Object({ csrf: field, days: field })),
  /** A pasted CSV of people: up to ~1 MB of text. */
  importPeople: t.Optional(
    t.Object({ csrf: field, days: field, csv: t.Optional(t.String({ maxLength: 1_000_000 })) }),
  ),
  /** Revoke (with reissue=1 also replace the person's token) or allow again one device key. */
  deviceRevoke: t.Optional(t.Object({ csrf: field, public_key: field, return: field, reissue: field })),
  tokenId: t.Object({ id: t.String({ maxLength: 20 }) }),
  /** The JSON token API: days a whole number of days (checked by the handler). */
  apiProvision: t.Optional(
    t.Object({
      email: t.Optional(t.String({ maxLength: 2000 })),
      division: t.Optional(t.Union([t.String({ maxLength: 2000 }), t.Null()])),
      days: t.Optional(t.Integer()),
    }),
  ),
  apiReissue: t.Optional(t.Object({ days: t.Optional(t.Integer()) })),
  userEmail: t.Object({ email: t.String({ maxLength: 2000 }) }),
};

/** Messages shown after a redirect, by code, so a URL can never carry arbitrary text into a page. */
export const NOTICES: Record<string, string> = {
  revoked: "Token revoked. Every device using it stops reporting on its next turn.",
  "device-revoked":
    "Device key revoked. That device stops reporting on its next turn; the user's other devices keep working.",
  "device-allowed":
    "Device allowed again. It registers a new key on its next turn; its old key stays revoked.",
  "nothing-changed": "Nothing changed: it was already revoked or no longer exists.",
  "tiers-recomputed": "Tier estimates and window figures recomputed.",
};

export type RangeChoice = { ok: true; range: RangeKey } | { ok: false; message: string };

/** The `range` query parameter; absent means the default of 30 days. */
export function parseRange(raw: string | null, fallback: RangeKey): RangeChoice {
  if (raw === null || raw === "") return { ok: true, range: fallback };
  if (isRangeKey(raw)) return { ok: true, range: raw };
  return {
    ok: false,
    message: `range=${raw.slice(0, 40)} is not a range this dashboard knows; use 7, 30, 90 or all.`,
  };
}

/**
 * A page's or export's range: `range` as above, or `range=custom&from=YYYY-MM-DD&to=YYYY-MM-DD`.
 * A bad one gives the default range and a message saying what to change: a page shows both (it
 * still works), an export answers 400 with the message.
 */
export function parseDayRange(
  params: URLSearchParams,
  now: number,
): { range: DayRange; problem: string | null } {
  const raw = params.get("range");
  const from = params.get("from");
  const to = params.get("to");
  if (raw === "custom" || ((raw === null || raw === "") && (from !== null || to !== null))) {
    const custom = customRange(from ?? "", to ?? "");
    if ("problem" in custom) return { range: fixedRange(DEFAULT_RANGE, now), problem: custom.problem };
    return { range: custom, problem: null };
  }
  const choice = parseRange(raw, DEFAULT_RANGE);
  if (!choice.ok) {
    return {
      range: fixedRange(DEFAULT_RANGE, now),
      problem: choice.message.replace(
        "; use 7, 30, 90 or all.",
        "; use 7, 30, 90 or all, or custom from/to dates.",
      ),
    };
  }
  return { range: fixedRange(choice.range, now), problem: null };
}

/** What a page says above itself when its range was not understood. */
export function rangeProblemNotice(problem: string): string {
  return `${problem} Showing the last 30 days.`;
}

/** The division filter: absent or `__all` is everyone, "" people with no division. */
export function parseDivision(params: URLSearchParams): string | null {
  const raw = params.get("division");
  if (raw === null || raw === "__all") return null;
  return raw.trim().slice(0, 64);
}

const RETURN_BASE = "http://admin.invalid";

/**
 * A path inside the dashboard to go back to after a form, or the fallback (never another site).
 * Judged on the path as a browser would resolve it (`/admin/..//evil.example` is `//evil.example`),
 * and returned in that resolved, percent-encoded form, so whatever re-reads it (withNotice, a
 * Location header, which takes only Latin-1) sees exactly what was checked.
 */
export function safeReturn(raw: string | undefined, fallback: string): string {
  if (!raw?.startsWith("/admin/") || /[\\\s]/.test(raw)) return fallback;
  let url: URL;
  try {
    url = new URL(raw, RETURN_BASE);
  } catch {
    return fallback;
  }
  if (url.origin !== RETURN_BASE || !url.pathname.startsWith("/admin/")) return fallback;
  return `${url.pathname}${url.search}`;
}

/** Adds `notice=<code>` to a dashboard path (one that safeReturn gave). */
export function withNotice(path: string, code: keyof typeof NOTICES): string {
  const url = new URL(path, RETURN_BASE);
  url.searchParams.set("notice", code);
  return `${url.pathname}${url.search}`;
}

/** A refresh token's id from the path, or null. */
export function parseId(raw: string): number | null {
  return /^\d{1,15}$/.test(raw) ? Number(raw) : null;
}

/** Days valid from the form: a whole number, or NaN for the validation message. */
export function parseDays(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  return /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
}
