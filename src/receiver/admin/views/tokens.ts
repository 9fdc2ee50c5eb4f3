// Users & tokens: provisioning (add, revoke, reissue) and the show-once page for a new token.

import {
  DEFAULT_TOKEN_DAYS,
  MAX_DIVISION,
  MAX_TOKEN_DAYS,
  type RefreshTokenRow,
} from "../../tokens/service.ts";
import { type Html, html } from "../html.ts";
import type { RevealedToken } from "../service.ts";
import { shortName, timeCell, timeSortKey } from "./format.ts";
import { actionForm, link, page, type View } from "./layout.ts";
import { section, userHref } from "./parts.ts";
import { type ServerColumn, serverTable } from "./server-table.ts";

export interface ProvisionForm {
  email: string;
  division: string;
  days: string;
}

export const EMPTY_FORM: ProvisionForm = { email: "", division: "", days: String(DEFAULT_TOKEN_DAYS) };

/** Refresh tokens, sorted, searched and paged on the server (an organisation has thousands). */
export function tokensTable(view: View, tokens: readonly RefreshTokenRow[]): Html {
  const returnTo = `${view.url.pathname}${view.url.search}`;
  const time = (at: string | null, empty?: string) => html`<td>${timeCell(at, empty)}</td>`;
  const columns: ServerColumn<RefreshTokenRow>[] = [
    {
      key: "id",
      label: "#",
      numeric: true,
      sortValue: (t) => t.id,
      cell: (t) => html`<td class="num">${t.id}</td>`,
    },
    {
      key: "user",
      label: "User",
      sortValue: (t) => t.email,
      cell: (t) => html`<td>${link(view, userHref(t.email), t.email)}</td>`,
    },
    {
      key: "division",
      label: "Division",
      sortValue: (t) => t.division ?? "",
      cell: (t) => html`<td>${t.division ?? ""}</td>`,
    },
    {
      key: "status",
      label: "Status",
      sortValue: (t) => t.status,
      cell: (t) => html`<td><span class="status ${t.status}">${t.status}</span></td>`,
    },
    {
      key: "created",
      label: "Issued",
      sortValue: (t) => Number(timeSortKey(t.created_at)),
      cell: (t) => time(t.created_at, "unknown"),
    },
    {
      key: "expires",
      label: "Expires",
      sortValue: (t) => Number(timeSortKey(t.expires_at)),
      cell: (t) => time(t.expires_at),
    },
    {
      key: "used",
      label: "Last used",
      sortValue: (t) => Number(timeSortKey(t.last_used_at)),
      cell: (t) => time(t.last_used_at),
    },
  ];
  if (!view.exported) {
    columns.push({
      key: "actions",
      label: "",
      cell: (t) =>
        html`<td class="actions">${
          t.status === "active"
            ? actionForm(view, {
                action: `/admin/tokens/${t.id}/revoke`,
                label: "Revoke",
                danger: true,
                confirm: `Revoke token #${t.id} of ${t.email}? Every device of ${shortName(t.email)}'s that uses it stops reporting on its next turn. Their usage history stays.`,
                fields: { return: returnTo },
              })
            : ""
        }${actionForm(view, {
          action: `/admin/tokens/${t.id}/reissue`,
          label: "Reissue",
          confirm: `Reissue token #${t.id} of ${t.email}? It is revoked now, so ${shortName(t.email)}'s devices stop reporting until the new token (valid ${DEFAULT_TOKEN_DAYS} days, shown once on the next page) is entered in the plugin settings.`,
          fields: { days: String(DEFAULT_TOKEN_DAYS) },
        })}</td>`,
    });
  }
  return serverTable(view, {
    name: "tokens",
    item: "token",
    columns,
    rows: tokens,
    defaultSort: "id",
    searchText: (t) => `${t.email} ${t.division ?? ""} ${t.status}`,
    empty: "No refresh tokens yet. Add a user above to issue the first one.",
  });
}

function addForm(view: View, form: ProvisionForm, problem: string | null): Html {
  if (view.exported) return html``;
  return html`<form method="post" action="/admin/tokens" class="provision">${
    problem ? html`<p class="error" role="alert">${problem}</p>` : ""
  }<input type="hidden" name="csrf" value="${view.csrf}"><label>Email <input type="email" name="email" required maxlength="254" value="${form.email}" placeholder="jsmith@example.org" autocomplete="off"></label><label>Division <input type="text" name="division" maxlength="${MAX_DIVISION}" value="${form.division}" placeholder="optional, such as engineering"></label><label>Days valid <input type="number" name="days" min="1" max="${MAX_TOKEN_DAYS}" required value="${form.days}"></label><button type="submit">Add user and issue token</button></form>`;
}

function importForm(view: View, problems: readonly string[]): Html {
  return html`<form method="post" action="/admin/tokens/import" class="import">${
    problems.length
      ? html`<div class="error" role="alert"><p>Nobody was added:</p><ul>${problems.map((p) => html`<li>${p}</li>`)}</ul></div>`
      : ""
  }<input type="hidden" name="csrf" value="${view.csrf}"><label>People <textarea name="csv" rows="6" required placeholder="email,division,days&#10;jsmith@example.org,engineering,365"></textarea></label><label>Days valid when a line gives none <input type="number" name="days" min="1" max="${MAX_TOKEN_DAYS}" value="${DEFAULT_TOKEN_DAYS}"></label><button type="submit">Add everyone and download their tokens</button></form>`;
}

export function tokensPage(
  view: View,
  tokens: readonly RefreshTokenRow[],
  form: ProvisionForm,
  problem: string | null,
  importProblems: readonly string[] = [],
): Html {
  return page(view, {
    title: "Users & tokens",
    section: "tokens",
    body: html`${section(
      "add",
      "Add a user",
      addForm(view, form, problem),
      "Issues a refresh token, shown once on the next page together with the report endpoint, ready to send.",
    )}${view.exported ? "" : section("import", "Add many people", importForm(view, importProblems), "Paste a CSV of email,division,days lines (a header line, division and days optional). Everyone is checked first: a file with any problem adds nobody. People who already hold an active token are left as they are. The new tokens download once, as a CSV to hand out.")}${section(
      "refresh-tokens",
      "Refresh tokens",
      tokensTable(view, tokens),
      "One token per person. Each use extends it (REFRESH_TOKEN_ROLLING_DAYS); revoking stops every device using it on the next turn. Reissue revokes and issues a replacement in one step.",
    )}`,
  });
}

/** The user's guide: how to install the plugin and where the two values go. */
export const USER_SETUP_URL = "https://github.com/Psy-Fer/ccflux/blob/main/docs/user-setup.md";

/**
 * The token, once, as a block to send to the user, with the guide it needs. `otherActive`: how
 * many other tokens of the person still work (a second one is rarely meant).
 */
export function issuedPage(
  view: View,
  issued: RevealedToken,
  baseUrl: string | undefined,
  otherActive: number,
): Html {
  const endpoint = baseUrl ? `${baseUrl}/report` : null;
  const block = `Refresh token: ${issued.token}\nReceiver URL:  ${endpoint ?? "(set BASE_URL on the receiver)"}\nSetup guide:   ${USER_SETUP_URL}`;
  return page(view, {
    title: `New token for ${issued.email}`,
    section: "tokens",
    body: html`<section><p class="warning" role="status">This token is shown <strong>once</strong>: copy it now. It cannot be shown again; if it is lost, reissue it.</p>${
      issued.status !== "active"
        ? html`<p class="error">This token is ${issued.status} already; issue a new one.</p>`
        : ""
    }${
      otherActive > 0
        ? html`<p class="warning">${issued.email} already has ${otherActive} other active refresh token${
            otherActive === 1 ? "" : "s"
          }; both work. If this one replaces ${otherActive === 1 ? "it" : "them"}, revoke the other${
            otherActive === 1 ? "" : "s"
          } on Users &amp; tokens.</p>`
        : ""
    }<p>Send this to ${issued.email}; it ends with the link to the <a href="${USER_SETUP_URL}" rel="noreferrer">User Setup guide</a>, which says how to install the plugin. They enter the token and the receiver URL in the ccflux plugin settings of Claude Code.</p><pre class="handout" id="handout">${block}</pre><p><button type="button" data-copy="handout">Copy</button> ${link(
      view,
      "/admin/tokens",
      "Back to users & tokens",
    )}</p>${
      endpoint
        ? ""
        : html`<p class="error">BASE_URL is not set, so the report endpoint is unknown here: set BASE_URL to the receiver's public URL (such as https://ccflux.example.org) and restart the receiver; the endpoint is that URL + /report.</p>`
    }<p class="note">Token #${issued.id}; it expires ${timeCell(issued.expiresAt)} unless used, and each use extends it.</p></section>`,
  });
}
