// The overview's controls beside its heading: 7/30/90 days or all time, custom from/to dates, and
// the division filter. All are GET links or forms, so every choice is a URL that survives a reload.
import { type DayRange, dayRangeLabel, RANGE_KEYS, rangeShortLabel } from "../../analytics/ranges.ts";
import { type Html, html } from "../html.ts";
import { type View, withQuery } from "./layout.ts";
import { keptFields } from "./server-table.ts";

export function rangeTools(
  view: View,
  range: DayRange,
  divisions: readonly string[],
  division: string | null,
): Html {
  if (view.exported) {
    return html`<p class="range-note">Range: ${dayRangeLabel(range)}${
      division === null ? "" : `; division: ${division || "no division"}`
    }</p>`;
  }
  const fixed = html`<nav class="range" aria-label="Range">${RANGE_KEYS.map(
    (key) =>
      html`<a href="${withQuery(view.url, { range: key, from: null, to: null, "people.page": null })}"${
        key === range.key ? html` aria-current="true"` : ""
      }>${rangeShortLabel(key)}</a>`,
  )}</nav>`;
  const custom = html`<form method="get" class="custom-range" aria-label="Custom range">${keptFields(
    view.url,
    ["range", "from", "to", "people.page"],
  )}<input type="hidden" name="range" value="custom"><label>From <input type="date" name="from" value="${
    range.key === "custom" ? range.from : ""
  }" required></label><label>to <input type="date" name="to" value="${range.to}" required></label><button type="submit" class="secondary">Show</button></form>`;
  const filter = html`<form method="get" class="division-filter">${keptFields(view.url, [
    "division",
    "people.page",
  ])}<label>Division <select name="division"><option value="__all"${division === null ? " selected" : ""}>Everyone</option>${divisions.map(
    (name) => html`<option value="${name}"${name === division ? html` selected` : ""}>${name}</option>`,
  )}<option value=""${division === "" ? " selected" : ""}>No division</option></select></label><button type="submit" class="secondary">Filter</button></form>`;
  return html`<div class="tools">${fixed}${custom}${filter}</div>`;
}
