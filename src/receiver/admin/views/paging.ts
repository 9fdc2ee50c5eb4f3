// Server-side pages of long tables (device keys, limit events): a bounded number of rows per
// page whatever the table holds, chosen by a query parameter, with links to the neighbours.
import { type Html, html } from "../html.ts";
import { formatInteger } from "./format.ts";
import { type View, withQuery } from "./layout.ts";

export const ROWS_PER_PAGE = 50;

export interface PageChoice {
  /** 1-based, within 1 … pages. */
  page: number;
  offset: number;
  limit: number;
  total: number;
}

/** The page `?<param>=N` asks for (digits only), kept within the rows there are; else page 1. */
export function choosePage(view: View, param: string, total: number, perPage = ROWS_PER_PAGE): PageChoice {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const text = view.url.searchParams.get(param) ?? "";
  const asked = /^\d{1,9}$/.test(text) ? Number(text) : 0;
  const page = asked >= 1 ? Math.min(asked, pages) : 1;
  return { page, offset: (page - 1) * perPage, limit: perPage, total };
}

/** "Rows 51–100 of 340" and Previous/Next links; nothing when everything fits on one page. */
export function pager(view: View, param: string, choice: PageChoice, noun: string): Html {
  if (choice.total <= choice.limit) return html``;
  const first = choice.offset + 1;
  const last = Math.min(choice.offset + choice.limit, choice.total);
  const range = html`<span>${noun[0]!.toUpperCase()}${noun.slice(1)} ${formatInteger(first)}–${formatInteger(
    last,
  )} of ${formatInteger(choice.total)}</span>`;
  if (view.exported) return html`<p class="pager">${range} (this page only)</p>`;
  const link = (page: number, text: string, rel: string) =>
    html`<a href="${withQuery(view.url, { [param]: page === 1 ? null : String(page) })}" rel="${rel}">${text}</a>`;
  return html`<nav class="pager" aria-label="Pages of ${noun}">${
    choice.page > 1 ? link(choice.page - 1, "← Previous", "prev") : ""
  }${range}${last < choice.total ? link(choice.page + 1, "Next →", "next") : ""}</nav>`;
}
