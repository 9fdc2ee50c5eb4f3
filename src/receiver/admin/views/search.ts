// /admin/search?q=: find a person from any page by part of their email.
import { type Html, html } from "../html.ts";
import { page, type View } from "./layout.ts";
import { section, userHref } from "./parts.ts";
import { serverTable } from "./server-table.ts";

export interface SearchData {
  q: string;
  people: { email: string; division: string | null }[];
  /** More matched than were read; the search should be narrower. */
  truncated: boolean;
  problem: string | null;
}

export function searchPage(view: View, data: SearchData): Html {
  const body = html`${data.problem ? html`<p class="notice warn" role="status">${data.problem}</p>` : ""}${section(
    "results",
    data.q ? `People matching “${data.q}”` : "Find a person",
    serverTable(view, {
      name: "results",
      item: "person",
      items: "people",
      columns: [
        {
          key: "person",
          label: "Person",
          sortValue: (p) => p.email,
          cell: (p) => html`<td><a href="${userHref(p.email)}"><span class="who">${p.email}</span></a></td>`,
        },
        {
          key: "division",
          label: "Division",
          sortValue: (p) => p.division ?? "",
          cell: (p) => html`<td>${p.division ?? ""}</td>`,
        },
      ],
      rows: data.people,
      defaultSort: "person",
      defaultDir: "asc",
      searchText: (p) => p.email,
      empty: data.q
        ? `Nobody's email contains “${data.q}”. Check the spelling, or search for part of it.`
        : "Type part of an email in the search box above.",
    }),
    data.truncated ? "Only the first matches are shown; type more of the email to narrow them." : undefined,
  )}`;
  return page(view, { title: "Find a person", section: null, body });
}
