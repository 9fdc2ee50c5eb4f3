// Pieces several pages share: cards, sortable tables, tier badges.

import type { Cost } from "../../analytics/cost.ts";
import type { WindowFigures } from "../../analytics/estimates.ts";
import { type Html, html } from "../html.ts";
import { abbreviate, costText, countOf, formatInteger, unpricedNote } from "./format.ts";

export function card(label: string, value: number | string, detail?: string): Html {
  const shown =
    typeof value === "number"
      ? html`<span title="${formatInteger(value)}">${abbreviate(value)}</span>`
      : value;
  return html`<div class="card"><div class="card-label">${label}</div><div class="card-value">${shown}</div>${
    detail ? html`<div class="card-detail">${detail}</div>` : ""
  }</div>`;
}

export interface TableColumn {
  key: string;
  label: string;
  numeric?: boolean;
  /** Sorts by the cells' data-value (an instant, a tier) but reads as text, left-aligned. */
  byValue?: boolean;
  /** Explains the column on hover. */
  hint?: string;
}

export interface TableOptions {
  /** Names the table's state in the query string (`users.sort`, `users.q`). */
  name: string;
  /** What one row is ("user", "device key"), for the row count. */
  item: string;
  /** Its plural when not `item` + "s" ("entries"). */
  items?: string;
  columns: readonly TableColumn[];
  rows: readonly Html[];
  empty: string;
  caption?: string;
  filter?: boolean;
}

export function dataTable(options: TableOptions): Html {
  if (options.rows.length === 0) return html`<p class="empty">${options.empty}</p>`;
  const items = options.items ?? `${options.item}s`;
  const tools =
    options.filter === false
      ? ""
      : html`<div class="table-tools"><input type="search" data-filter-for="${options.name}" placeholder="Filter ${items}…" aria-label="Filter ${items}"><span class="count" data-count-for="${options.name}" data-item="${options.item}" data-items="${items}">${countOf(options.rows.length, options.item, items)}</span></div>`;
  return html`${tools}<div class="table-wrap"><table data-table="${options.name}">${
    options.caption ? html`<caption>${options.caption}</caption>` : ""
  }<thead><tr>${options.columns.map(
    (c) =>
      html`<th scope="col" data-key="${c.key}" data-type="${c.numeric || c.byValue ? "number" : "text"}"${
        c.numeric ? html` class="num"` : ""
      }${c.hint ? html` title="${c.hint}"` : ""}>${c.label}</th>`,
  )}</tr></thead><tbody>${options.rows}</tbody></table></div>`;
}

/** A right-aligned number cell that sorts by its exact value. */
export function numberCell(value: number | null, shown?: string): Html {
  if (value === null) return html`<td class="num" data-value="-1"><span class="muted">–</span></td>`;
  return html`<td class="num" data-value="${value}">${shown ?? formatInteger(value)}</td>`;
}

export function tierBadge(figures: WindowFigures | null): Html {
  if (!figures || figures.tier === null) {
    const windows = figures?.countedWindows ?? 0;
    return html`<span class="muted" title="Needs at least 3 closed 5-hour windows in the range; has ${windows}">–</span>`;
  }
  const confidence = figures.confidence ?? "low";
  const why =
    confidence === "confirmed"
      ? "a limit event shows this user hit a 5-hour limit"
      : `${figures.countedWindows} closed windows (${confidence === "medium" ? "10 or more" : "3 to 9"})`;
  return html`<span class="tier tier-${figures.tier}" title="Tier ${figures.tier}, ${confidence} confidence: ${why}">Tier ${figures.tier}</span> <span class="confidence ${confidence}">${confidence}</span>`;
}

export function section(id: string, title: string, body: Html, note?: Html | string): Html {
  return html`<section id="${id}"><h2>${title}</h2>${note ? html`<p class="note">${note}</p>` : ""}${body}</section>`;
}

/** The path of a user's page; the email is the user's id, as usage is keyed by it. */
export function userHref(email: string): string {
  return `/admin/users/${encodeURIComponent(email)}`;
}

/** A right-aligned cost cell that sorts by dollars; an unpriced figure sorts last. */
export function costCell(cost: Cost): Html {
  const note = unpricedNote(cost);
  return html`<td class="num" data-value="${cost.priced ? cost.usd.toFixed(6) : -1}"${
    note ? html` title="${note}"` : ""
  }>${cost.priced ? costText(cost) : html`<span class="muted">${costText(cost)}</span>`}</td>`;
}
