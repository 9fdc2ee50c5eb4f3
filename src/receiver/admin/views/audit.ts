// The audit log: every login, failed login, logout, provision, revoke, reissue, device revoke
// and export; and the button that logs everyone out.

import { type Html, html } from "../html.ts";
import type { AuditEntry } from "../service.ts";
import { countOf, timeCell, timeSortKey } from "./format.ts";
import { actionForm, page, type View } from "./layout.ts";
import { dataTable, section } from "./parts.ts";

/** Who did it, in words: a failed login has no session behind it, only an address. */
export function actorLabel(entry: Pick<AuditEntry, "actor" | "address">): string {
  // A command line entry names the OS user that ran it ("cli:alice").
  if (entry.actor.startsWith("cli:")) return `${entry.actor.slice(4)} (command line)`;
  switch (entry.actor) {
    case "bearer":
      return "ADMIN_TOKEN (script)";
    case "session":
      return "dashboard session";
    case "anonymous":
      return `anonymous, from ${entry.address}`;
    default:
      return entry.actor;
  }
}

export function auditTable(entries: readonly AuditEntry[]): Html {
  return dataTable({
    name: "audit",
    item: "entry",
    items: "entries",
    columns: [
      { key: "at", label: "When", byValue: true },
      { key: "action", label: "Action" },
      { key: "subject", label: "Subject" },
      { key: "detail", label: "Detail" },
      { key: "actor", label: "By" },
      { key: "address", label: "Client address" },
    ],
    rows: entries.map(
      (e) =>
        html`<tr${e.action === "login-failed" ? html` class="limit"` : ""}><td data-value="${timeSortKey(e.at)}">${timeCell(
          e.at,
        )}</td><td>${e.action}</td><td>${e.subject}</td><td>${e.detail}</td><td>${actorLabel(e)}</td><td class="mono">${e.address}</td></tr>`,
    ),
    empty: "Nothing recorded yet.",
  });
}

function sessionsSection(view: View): Html {
  if (view.exported) return html``;
  return section(
    "sessions",
    "Dashboard sessions",
    actionForm(view, {
      action: "/admin/sessions/end-all",
      label: "Log out everyone",
      danger: true,
      confirm:
        "End every dashboard session, yours included? Everyone logged in, on any browser, has to log in again with ADMIN_TOKEN. Scripts using the token as a bearer are not affected.",
    }),
    "Ends every logged-in session at once, for instance after a laptop with a session was lost. Changing ADMIN_TOKEN (and restarting the receiver) also ends every session, and locks out scripts that use the old token.",
  );
}

export function auditPage(view: View, entries: readonly AuditEntry[], limit: number): Html {
  return page(view, {
    title: "Audit log",
    section: "audit",
    body: html`${section(
      "audit-log",
      "Audit log",
      auditTable(entries),
      `The last ${countOf(limit, "entry", "entries")}, newest first. Client addresses come from X-Real-IP (set by the proxy) only when TRUST_PROXY is on.`,
    )}${sessionsSection(view)}`,
  });
}
