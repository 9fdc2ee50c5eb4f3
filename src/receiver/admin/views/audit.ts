// The audit log: every login, failed login, provision, revoke, reissue, device revoke and export.

import { type Html, html } from "../html.ts";
import type { AuditEntry } from "../service.ts";
import { timeCell, timeSortKey } from "./format.ts";
import { page, type View } from "./layout.ts";
import { dataTable, section } from "./parts.ts";

/** Who made the change, in words; a command line entry names its OS user ("cli:alice"). */
function actorLabel(actor: string): string {
  if (actor.startsWith("cli:")) return `${actor.slice(4)} (command line)`;
  return actor === "bearer" ? "ADMIN_TOKEN (script)" : "dashboard session";
}

export function auditTable(entries: readonly AuditEntry[]): Html {
  return dataTable({
    name: "audit",
    noun: "entries",
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
        )}</td><td>${e.action}</td><td>${e.subject}</td><td>${e.detail}</td><td>${actorLabel(
          e.actor,
        )}</td><td class="mono">${e.address}</td></tr>`,
    ),
    empty: "Nothing recorded yet.",
  });
}

export function auditPage(view: View, entries: readonly AuditEntry[], limit: number): Html {
  return page(view, {
    title: "Audit log",
    section: "audit",
    body: section(
      "audit-log",
      "Audit log",
      auditTable(entries),
      `The last ${limit} entries, newest first. Client addresses come from X-Real-IP (set by the proxy) only when TRUST_PROXY is on.`,
    ),
  });
}
