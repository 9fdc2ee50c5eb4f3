// The page frame shared by every admin view, live or exported.
import { createHash } from "node:crypto";
import { VERSION } from "../../../protocol/version.ts";
import { DASHBOARD_CSS, DASHBOARD_JS } from "../assets.ts";
import { type Html, html, trusted } from "../html.ts";
import { NOTICES } from "../model.ts";
import { timeCell } from "./format.ts";

export type Section = "overview" | "devices" | "tokens" | "audit";

/** How a page is being rendered: for the browser (with forms) or as a read-only export file. */
export interface View {
  /** Self-contained, read-only file: inline assets, no forms, no links back to the server. */
  exported: boolean;
  /** The session's CSRF token for forms; empty for bearer requests (scripts do not post forms). */
  csrf: string;
  /** The URL being shown, for range links and the export link. */
  url: URL;
  now: number;
}

const NAV: readonly [Section, string, string][] = [
  ["overview", "Overview", "/admin/"],
  ["devices", "Device Keys", "/admin/devices"],
  ["tokens", "Users & tokens", "/admin/tokens"],
  ["audit", "Audit log", "/admin/audit"],
];

function sha256Base64(text: string): string {
  return createHash("sha256").update(text).digest("base64");
}

// The export carries its own policy: only its own inline style and script, nothing from anywhere.
const EXPORT_POLICY = `default-src 'none'; style-src 'sha256-${sha256Base64(DASHBOARD_CSS)}'; script-src 'sha256-${sha256Base64(DASHBOARD_JS)}'; img-src data:`;

/** The same URL with other query parameters set (null removes one); `export` is always dropped. */
export function withQuery(url: URL, changes: Record<string, string | null>): string {
  const params = new URLSearchParams(url.search);
  params.delete("export");
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  return `${url.pathname}${query ? `?${query}` : ""}`;
}

/** The message a redirect asked for (`?notice=<code>`), from a fixed list. */
function notice(url: URL): Html {
  const text = NOTICES[url.searchParams.get("notice") ?? ""];
  return text ? html`<p class="notice" role="status">${text}</p>` : html``;
}

/** This page as a self-contained file (`?export`), keeping the range and table state. */
export function exportHref(url: URL): string {
  const base = withQuery(url, {});
  return `${base}${base.includes("?") ? "&" : "?"}export`;
}

/** A link to the server, or plain text in an export (which has no server to go to). */
export function link(view: View, href: string, label: Html | string): Html {
  return view.exported ? html`<span>${label}</span>` : html`<a href="${href}">${label}</a>`;
}

export interface FormOptions {
  action: string;
  label: string;
  /** Says what will happen; the page's script asks before submitting. */
  confirm?: string;
  fields?: Record<string, string>;
  danger?: boolean;
}

/** A one-button POST form with the CSRF token; nothing in a read-only export. */
export function actionForm(view: View, options: FormOptions): Html {
  if (view.exported) return html``;
  return html`<form method="post" action="${options.action}" class="inline"${
    options.confirm ? html` data-confirm="${options.confirm}"` : ""
  }><input type="hidden" name="csrf" value="${view.csrf}">${Object.entries(options.fields ?? {}).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  )}<button type="submit" class="${options.danger ? "danger" : "secondary"}">${options.label}</button></form>`;
}

export interface PageOptions {
  title: string;
  section: Section | null;
  body: Html;
  /** Controls shown beside the heading (the range selector). */
  tools?: Html;
}

function head(title: string, view: View): Html {
  const assets = view.exported
    ? html`<meta http-equiv="Content-Security-Policy" content="${EXPORT_POLICY}"><style>${trusted(DASHBOARD_CSS)}</style><script defer>${trusted(DASHBOARD_JS)}</script>`
    : html`<link rel="stylesheet" href="/admin/assets/dashboard.css?v=${VERSION}"><script defer src="/admin/assets/dashboard.js?v=${VERSION}"></script>`;
  return html`<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>${title} · ccflux</title>${assets}</head>`;
}

export function page(view: View, options: PageOptions): Html {
  const nav = view.exported
    ? html`<p class="export-note">Exported from ccflux ${VERSION} on ${timeCell(
        new Date(view.now).toISOString().slice(0, 19).replace("T", " "),
      )}; read-only.</p>`
    : html`<nav aria-label="Sections">${NAV.map(
        ([section, label, href]) =>
          html`<a href="${href}"${section === options.section ? html` aria-current="page"` : ""}>${label}</a>`,
      )}</nav><form method="get" action="/admin/search" class="find" role="search"><input type="search" name="q" placeholder="Find a person…" aria-label="Find a person by email" maxlength="200" required></form><div class="session"><a class="button secondary" href="${exportHref(view.url)}" download title="A read-only HTML file of this page that works offline">Export</a>${
        view.csrf
          ? html`<form method="post" action="/admin/logout" class="inline"><input type="hidden" name="csrf" value="${view.csrf}"><button type="submit" class="secondary">Log out</button></form>`
          : ""
      }</div>`;
  return html`<!doctype html><html lang="en">${head(options.title, view)}<body${
    view.exported ? html` class="exported"` : ""
  }><header class="top"><span class="brand">ccflux</span>${nav}</header><main><div class="heading"><h1>${options.title}</h1>${
    options.tools ?? ""
  }</div>${view.exported ? "" : notice(view.url)}${options.body}</main></body></html>`;
}

/** A small page for the login form, errors and notices: no navigation, no data. */
export function simplePage(title: string, body: Html): Html {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><link rel="icon" href="data:,"><title>${title} · ccflux</title><link rel="stylesheet" href="/admin/assets/dashboard.css?v=${VERSION}"><script defer src="/admin/assets/dashboard.js?v=${VERSION}"></script></head><body class="narrow"><main><p class="brand">ccflux</p><h1>${title}</h1>${body}</main></body></html>`;
}
