// /admin/: who needs a bigger seat. The first screen answers it (seat-pressure.ts); below come the
// trend, people close to their limit, and the tables of overview-tables.ts, then charts and models.
import type { Overview, RecentEvent } from "../../analytics/overview.ts";
import { dayRangeLabel, daysIn } from "../../analytics/ranges.ts";
import { evidenceOf, SEAT_RULE, seatAdvice } from "../../analytics/seats.ts";
import type { SessionCounts } from "../../analytics/sessions.ts";
import { MIN_WINDOWS_FOR_ESTIMATE } from "../../analytics/tiers.ts";
import { type Html, html } from "../html.ts";
import { timeCell } from "./format.ts";
import { actionForm, page, type View } from "./layout.ts";
import {
  adviceTable,
  dailyCostTable,
  divisionTable,
  peopleTable,
  recentEvents,
  tierSummary,
} from "./overview-tables.ts";
import { section } from "./parts.ts";
import { rangeTools } from "./range-tools.ts";
import { adviceList, firstScreen, headlineCards, limitTrend } from "./seat-pressure.ts";
import { costNote, dailyCharts, modelChart, modelTable } from "./usage-parts.ts";

export interface OverviewData {
  overview: Overview;
  /** The division filter, "" for people without one; null for everyone. */
  division: string | null;
  recent: RecentEvent[];
  /** Asked only for the rows a page shows. */
  lastActive: (email: string) => string | null;
  /** Sessions and turns in the range of the people a page shows, by email. */
  sessionCounts: (emails: readonly string[]) => Map<string, SessionCounts>;
  colourSlots: Map<string, number>;
  tierIntervalSecs: number;
  /** The day the price table was read, for the cost note. */
  pricesTakenOn: string;
  /** A correction said at the top (a bad range or date), or null. */
  problem: string | null;
}

export function overviewPage(view: View, data: OverviewData): Html {
  const { overview } = data;
  const range = overview.range;
  const label = dayRangeLabel(range);
  const empty = `No reports in ${label}.`;
  const computed = overview.tiersComputedAt;
  const advice = seatAdvice(overview.people.map(evidenceOf), daysIn(range));
  const windowNote =
    range.key === "custom"
      ? ` Window figures (peaks, tiers) for a custom range are those of ${overview.windowRange === "all" ? "all time" : `the last ${overview.windowRange} days`}.`
      : "";
  const body = html`${data.problem ? html`<p class="notice warn" role="status">${data.problem}</p>` : ""}${headlineCards(
    overview.totals,
    overview.previous,
    advice.filter((a) => a.kind === "upgrade").length,
    data.pricesTakenOn,
  )}${firstScreen(view, overview, advice, label)}<div class="two-up">${section(
    "limit-trend",
    "Limit hits per day",
    limitTrend(overview, range, view.now, label, data.division !== null),
  )}${section(
    "close",
    "Close to their limit",
    adviceList(view, advice, "close", `Nobody runs close to a limit level seen in ${label}.`),
    "Inferred from 5-hour windows against the levels where others on the same seat size hit the limit, or one confirmed hit.",
  )}</div>${section(
    "divisions",
    "By division",
    divisionTable(view, overview.divisions, advice, empty),
    costNote(data.pricesTakenOn),
  )}${section(
    "people",
    "Everyone",
    peopleTable(view, data, empty),
    html`Ranked by billed tokens (input + output); cache reads beside them. 5-hour windows: a confirmed limit's reset time anchors its window (reset − 5 h); elsewhere a window opens at the first turn outside an open one, on the whole UTC hour, and lasts 5 hours. Window figures as of ${timeCell(
      computed,
      "not computed yet",
    )}.${windowNote}`,
  )}${section("seat-changes", "All recommendations", adviceTable(view, advice), SEAT_RULE)}${section(
    "tiers",
    "Seat tiers",
    html`${tierSummary(overview.people)}${actionForm(view, {
      action: "/admin/tiers/recompute",
      label: "Recompute now",
      fields: { return: `${view.url.pathname}${view.url.search}` },
    })}`,
    html`People are grouped by their typical heavy 5 hours (the 75th-percentile closed window, at least ${MIN_WINDOWS_FOR_ESTIMATE}), a new tier where one exceeds the last by more than 1.8×; a tier is named by the limit its people hit only where Claude Code confirmed one. Recomputed every ${Math.round(
      data.tierIntervalSecs / 60,
    )} min; last ${timeCell(computed, "not yet")}.`,
  )}${section("daily", "Tokens over time", dailyCharts("", range, overview.daily, view.now))}<div class="two-up">${section(
    "by-model",
    "Tokens by model",
    modelChart(`Tokens by model, ${label}`, overview.models, data.colourSlots, empty),
  )}${section("cost-days", "Cost per day", dailyCostTable(overview.daily, empty), costNote(data.pricesTakenOn))}</div>${section(
    "models",
    "Models",
    modelTable("models", overview.models, data.colourSlots, empty),
  )}${section("recent", "Recent events", recentEvents(view, data.recent), "The last 50 reports and limit events.")}`;
  return page(view, {
    title: data.division === null ? "Seat pressure" : `Seat pressure: ${data.division || "no division"}`,
    section: "overview",
    body,
    tools: rangeTools(view, range, { names: overview.divisionNames, division: data.division }),
  });
}
