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
import { dataTable, section, userHref } from "./parts.ts";

export interface ProvisionForm {
  email: string;
  division: string;
  days: string;
}

export const EMPTY_FORM: ProvisionForm = { email: "", division: "", days: String(DEFAULT_TOKEN_DAYS) };

export function tokensTable(view: View, tokens: readonly RefreshTokenRow[]): Html {
  const returnTo = `${view.url.pathname}${view.url.search}`;
  return dataTable({
    name: "tokens",
    item: "token",
    columns: [
      { key: "id", label: "#", numeric: true },
      { key: "user", label: "User" },
      { key: "division", label: "Division" },
      { key: "status", label: "Status" },
      { key: "created", label: "Issued", byValue: true },
      { key: "expires", label: "Expires", byValue: true },
      { key: "used", label: "Last used", byValue: true },
      ...(view.exported ? [] : [{ key: "actions", label: "" }]),
    ],
    rows: tokens.map(
      (t) =>
        html`<tr><td class="num" data-value="${t.id}">${t.id}</td><td>${link(view, userHref(t.email), t.email)}</td><td>${
          t.division ?? ""
        }</td><td><span class="status ${t.status}">${t.status}</span></td><td data-value="${timeSortKey(
          t.created_at,
        )}">${timeCell(t.created_at, "unknown")}</td><td data-value="${timeSortKey(t.expires_at)}">${timeCell(
          t.expires_at,
        )}</td><td data-value="${timeSortKey(t.last_used_at)}">${timeCell(t.last_used_at)}</td>${
          view.exported
            ? ""
            : html`<td class="actions">${
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
              })}</td>`
        }</tr>`,
    ),
    empty: "No refresh tokens yet. Add a user above to issue the first one.",
  });
}

function addForm(view: View, form: ProvisionForm, problem: string | null): Html {
  if (view.exported) return html``;
  return html`<form method="post" action="/admin/tokens" class="provision">${
    problem ? html`<p class="error" role="alert">${problem}</p>` : ""
  }<input type="hidden" name="csrf" value="${view.csrf}"><label>Email <input type="email" name="email" required maxlength="254" value="${form.email}" placeholder="jsmith@example.org" autocomplete="off"></label><label>Division <input type="text" name="division" maxlength="${MAX_DIVISION}" value="${form.division}" placeholder="optional, such as engineering"></label><label>Days valid <input type="number" name="days" min="1" max="${MAX_TOKEN_DAYS}" required value="${form.days}"></label><button type="submit">Add user and issue token</button></form>`;
}

export function tokensPage(
  view: View,
  tokens: readonly RefreshTokenRow[],
  form: ProvisionForm,
  problem: string | null,
): Html {
  return page(view, {
    title: "Users & tokens",
    section: "tokens",
    body: html`${section(
      "add",
      "Add a user",
      addForm(view, form, problem),
      "Issues a refresh token, shown once on the next page together with the report endpoint, ready to send.",
    )}${section(
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
