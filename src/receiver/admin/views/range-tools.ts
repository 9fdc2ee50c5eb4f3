// The controls beside a page's heading: 7/30/90 days or all time, custom from/to dates, and on the
// overview the division filter. All are GET links or forms, so every choice is a URL that survives
// a reload.
import { type DayRange, dayRangeLabel, RANGE_KEYS, rangeShortLabel } from "../../analytics/ranges.ts";
import { type Html, html } from "../html.ts";
import { type View, withQuery } from "./layout.ts";
import { keptFields } from "./server-table.ts";

export interface DivisionFilter {
  /** Every division anyone has. */
  names: readonly string[];
  /** The chosen one, "" for people without one; null for everyone. */
  division: string | null;
}

export function rangeTools(view: View, range: DayRange, filter?: DivisionFilter): Html {
  const division = filter?.division ?? null;
  if (view.exported) {
    return html`<p class="range-note">Range: ${dayRangeLabel(range)}${
      division === null ? "" : `; division: ${division || "no division"}`
    }</p>`;
  }
  const fixed = html`<nav class="range" aria-label="Range">${RANGE_KEYS.map(
    (key) =>
      // Without a filter (a person's page) the tables sort in the browser: the links keep their state.
      html`<a href="${withQuery(view.url, { range: key, from: null, to: null, "people.page": null })}"${
        filter ? "" : html` data-keep-state`
      }${key === range.key ? html` aria-current="true"` : ""}>${rangeShortLabel(key)}</a>`,
  )}</nav>`;
  const custom = html`<form method="get" class="custom-range" aria-label="Custom range">${keptFields(
    view.url,
    ["range", "from", "to", "people.page"],
  )}<input type="hidden" name="range" value="custom"><label>From <input type="date" name="from" value="${
    range.key === "custom" ? range.from : ""
  }" required></label><label>to <input type="date" name="to" value="${range.to}" required></label><button type="submit" class="secondary">Show</button></form>`;
  const divisions = filter
    ? html`<form method="get" class="division-filter">${keptFields(view.url, [
        "division",
        "people.page",
      ])}<label>Division <select name="division"><option value="__all"${division === null ? " selected" : ""}>Everyone</option>${filter.names.map(
        (name) => html`<option value="${name}"${name === division ? html` selected` : ""}>${name}</option>`,
      )}<option value=""${division === "" ? " selected" : ""}>No division</option></select></label><button type="submit" class="secondary">Filter</button></form>`
    : "";
  return html`<div class="tools">${fixed}${custom}${divisions}</div>`;
}
