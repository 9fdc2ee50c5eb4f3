// The overview's tables below the first screen: divisions, everyone (paged on the server), the
// seat tiers in a manager's units, all recommendations, cost per day and recent events.
import type { Cost } from "../../analytics/cost.ts";
import type { DivisionUsage, PersonUsage, RecentEvent } from "../../analytics/overview.ts";
import { roughTokens, type SeatAdvice } from "../../analytics/seats.ts";
import { NO_SESSIONS, type SessionCounts } from "../../analytics/sessions.ts";
import { MIN_WINDOWS_FOR_ESTIMATE } from "../../analytics/tiers.ts";
import { type Html, html } from "../html.ts";
import { abbreviate, formatInteger, timeCell, timeSortKey } from "./format.ts";
import { link, type View, withQuery } from "./layout.ts";
import type { OverviewData } from "./overview.ts";
import { costCell, dataTable, numberCell, tierBadge, userHref } from "./parts.ts";
import { limitSummary, personLink } from "./seat-pressure.ts";
import { type ServerColumn, serverTable } from "./server-table.ts";

const FULL_LIST_ROWS = 50;

export function divisionTable(
  view: View,
  divisions: readonly DivisionUsage[],
  advice: readonly SeatAdvice[],
  empty: string,
) {
  const count = (division: string | null, kind: SeatAdvice["kind"]) =>
    advice.filter((a) => a.division === division && a.kind === kind).length;
  return dataTable({
    name: "divisions",
    item: "division",
    filter: false,
    columns: [
      { key: "division", label: "Division" },
      { key: "people", label: "People", numeric: true },
      { key: "limits", label: "Hit a limit", numeric: true, hint: "People with a confirmed limit hit" },
      { key: "upgrades", label: "Upgrade", numeric: true },
      { key: "downgrades", label: "Downgrade", numeric: true },
      { key: "billed", label: "Billed tokens", numeric: true, hint: "Input + output" },
      { key: "cache-reads", label: "Cache reads", numeric: true },
      { key: "cost", label: "Cost", numeric: true, hint: "At API list prices, as a comparison" },
    ],
    rows: [...divisions]
      .sort((a, b) => b.limitUsers - a.limitUsers || b.input + b.output - (a.input + a.output))
      .map(
        (d) =>
          html`<tr><td>${link(
            view,
            withQuery(view.url, { division: d.division ?? "", "people.page": null }),
            d.division ?? html`<span class="muted">no division</span>`,
          )}</td>${numberCell(d.users)}${numberCell(d.limitUsers)}${numberCell(count(d.division, "upgrade"))}${numberCell(
            count(d.division, "downgrade"),
          )}${numberCell(d.input + d.output)}${numberCell(d.cacheRead)}${costCell(d.cost)}</tr>`,
      ),
    empty,
  });
}

/** Everyone in the range, a page at a time, ranked by billed tokens. */
export function peopleTable(view: View, data: OverviewData, empty: string): Html {
  let counts = new Map<string, SessionCounts>();
  const countsOf = (email: string) => counts.get(email) ?? NO_SESSIONS;
  return serverTable(view, {
    name: "people",
    item: "person",
    items: "people",
    columns: peopleColumns(view, data, countsOf),
    rows: data.overview.people,
    defaultSort: "billed",
    searchText: (p) => `${p.email} ${p.division ?? ""}`,
    empty,
    rowClass: (p) => (p.limits.total > 0 ? "limit" : ""),
    onPage: (shown) => {
      counts = data.sessionCounts(shown.map((p) => p.email));
    },
  });
}

function peopleColumns(
  view: View,
  data: OverviewData,
  countsOf: (email: string) => SessionCounts,
): ServerColumn<PersonUsage>[] {
  return [
    {
      key: "person",
      label: "Person",
      sortValue: (p) => p.email,
      cell: (p) => html`<td>${personLink(view, p.email)}</td>`,
    },
    {
      key: "division",
      label: "Division",
      sortValue: (p) => p.division ?? "",
      cell: (p) => html`<td>${p.division ?? ""}</td>`,
    },
    {
      key: "billed",
      label: "Billed tokens",
      numeric: true,
      hint: "Input + output: what counts against the plan's limits",
      sortValue: (p) => p.input + p.output,
      cell: (p) => numberCell(p.input + p.output),
    },
    {
      key: "cache-reads",
      label: "Cache reads",
      numeric: true,
      sortValue: (p) => p.cacheRead,
      cell: (p) => numberCell(p.cacheRead),
    },
    {
      key: "cost",
      label: "Cost",
      numeric: true,
      hint: "At API list prices, as a comparison",
      sortValue: (p) => (p.cost.priced ? p.cost.usd : -1),
      cell: (p) => costCell(p.cost),
    },
    {
      key: "limits",
      label: "Limit hits",
      numeric: true,
      hint: "Usage limits Claude Code reported in the range (confirmed)",
      sortValue: (p) => p.limits.total,
      cell: (p) =>
        html`<td class="num" title="${limitSummary(p.limits) || "none"}">${
          p.limits.total > 0 ? html`<strong>${formatInteger(p.limits.total)}</strong>` : "0"
        }</td>`,
    },
    {
      key: "peak",
      label: "Peak 5h",
      numeric: true,
      hint: "Largest 5-hour window, billed tokens (inferred unless anchored on a confirmed limit)",
      sortValue: (p) => p.windows?.peakBilledTokens ?? -1,
      cell: (p) => numberCell(p.windows ? p.windows.peakBilledTokens : null),
    },
    {
      key: "week",
      label: "Peak 7 days",
      numeric: true,
      hint: "Largest billed total over any 7 days in a row",
      sortValue: (p) => p.windows?.peakWeekBilledTokens ?? -1,
      cell: (p) => numberCell(p.windows ? p.windows.peakWeekBilledTokens : null),
    },
    {
      key: "tier",
      label: "Tier",
      sortValue: (p) => p.windows?.tier ?? 0,
      cell: (p) => html`<td>${tierBadge(p.windows)}</td>`,
    },
    {
      key: "sessions",
      label: "Sessions",
      numeric: true,
      cell: (p) => numberCell(countsOf(p.email).sessions),
    },
    {
      key: "turns",
      label: "Turns",
      numeric: true,
      cell: (p) => numberCell(countsOf(p.email).turns),
    },
    {
      key: "days",
      label: "Active days",
      numeric: true,
      sortValue: (p) => p.activeDays,
      cell: (p) => numberCell(p.activeDays),
    },
    {
      key: "last-active",
      label: "Last active",
      cell: (p) => html`<td>${timeCell(data.lastActive(p.email))}</td>`,
    },
  ];
}

/** The stored tiers in a manager's units: what each tier's confirmed limits show. */
export function tierSummary(people: readonly PersonUsage[]): Html {
  const tiers = new Map<
    number,
    { people: number; low: number; high: number; limits: number[]; confirmed: number }
  >();
  let unestimated = 0;
  for (const p of people) {
    const w = p.windows;
    if (!w || w.tier === null || w.p75BilledTokens === null) {
      unestimated++;
      continue;
    }
    const entry = tiers.get(w.tier) ?? {
      people: 0,
      low: w.p75BilledTokens,
      high: w.p75BilledTokens,
      limits: [],
      confirmed: 0,
    };
    entry.people++;
    entry.low = Math.min(entry.low, w.p75BilledTokens);
    entry.high = Math.max(entry.high, w.p75BilledTokens);
    if (w.limitBilledTokens !== null) entry.limits.push(w.limitBilledTokens);
    if (w.confidence === "confirmed") entry.confirmed++;
    tiers.set(w.tier, entry);
  }
  const rows = [...tiers.entries()]
    .sort(([a], [b]) => a - b)
    .map(([tier, t]) => {
      const sorted = [...t.limits].sort((a, b) => a - b);
      const typical = sorted[Math.floor((sorted.length - 1) / 2)];
      const meaning =
        typical === undefined
          ? html`<span class="badge inferred">inferred</span> no limit hits yet: usage alone`
          : html`<span class="badge confirmed">confirmed</span> hits the 5-hour limit at ~${roughTokens(typical)} billed tokens (${formatInteger(
              sorted.length,
            )} ${sorted.length === 1 ? "person" : "people"})`;
      return html`<tr><td><span class="tier tier-${tier}">Tier ${tier}</span></td>${numberCell(t.people)}<td class="num"><span title="${formatInteger(
        t.low,
      )} – ${formatInteger(t.high)}">${abbreviate(t.low)} – ${abbreviate(t.high)}</span></td><td>${meaning}</td></tr>`;
    });
  const table = dataTable({
    name: "tiers",
    item: "tier",
    filter: false,
    columns: [
      { key: "tier", label: "Tier" },
      { key: "people", label: "People", numeric: true },
      {
        key: "p75",
        label: "Typical heavy 5 hours",
        numeric: true,
        hint: "75th percentile of each person's closed 5-hour windows, billed tokens: lowest – highest person",
      },
      { key: "meaning", label: "What it means" },
    ],
    rows,
    empty: `Nobody has ${MIN_WINDOWS_FOR_ESTIMATE} closed 5-hour windows in this range yet, so no tier is estimated.`,
  });
  return html`${table}${
    unestimated > 0 && rows.length > 0
      ? html`<p class="note">${formatInteger(unestimated)} ${
          unestimated === 1 ? "person has" : "people have"
        } fewer than ${MIN_WINDOWS_FOR_ESTIMATE} closed windows in this range and no estimate.</p>`
      : ""
  }`;
}

export function adviceTable(view: View, advice: readonly SeatAdvice[]): Html {
  const kinds: Record<SeatAdvice["kind"], string> = {
    upgrade: "Upgrade",
    close: "Close to the limit",
    downgrade: "Downgrade",
  };
  return dataTable({
    name: "seat-changes",
    item: "recommendation",
    columns: [
      { key: "kind", label: "Recommendation" },
      { key: "person", label: "Person" },
      { key: "division", label: "Division" },
      { key: "evidence", label: "Evidence" },
      { key: "reason", label: "Why" },
    ],
    rows: (["upgrade", "close", "downgrade"] as const).flatMap((kind) =>
      advice
        .filter((a) => a.kind === kind)
        .slice(0, FULL_LIST_ROWS)
        .map(
          (a) =>
            html`<tr><td>${kinds[a.kind]}</td><td>${personLink(view, a.email, a.kind === "upgrade" ? "#windows" : "")}</td><td>${
              a.division ?? ""
            }</td><td><span class="badge ${a.evidence}">${a.evidence}</span></td><td>${a.reason}</td></tr>`,
        ),
    ),
    empty: "No seat changes to recommend in this range.",
  });
}

export function recentEvents(view: View, events: readonly RecentEvent[]): Html {
  return dataTable({
    name: "events",
    item: "event",
    columns: [
      { key: "received", label: "Received", byValue: true },
      { key: "user", label: "Person" },
      { key: "device", label: "Device" },
      { key: "what", label: "Event" },
      { key: "input", label: "Input", numeric: true },
      { key: "output", label: "Output", numeric: true },
      { key: "cache-reads", label: "Cache reads", numeric: true },
      { key: "cache-writes", label: "Cache writes", numeric: true },
    ],
    rows: events.map(
      (e) =>
        html`<tr${e.kind === "limit" ? html` class="limit"` : ""}><td data-value="${timeSortKey(e.receivedAt)}">${timeCell(
          e.receivedAt,
        )}</td><td>${link(view, userHref(e.email), e.email)}</td><td>${e.deviceId || html`<span class="muted">unsigned</span>`}</td><td>${
          e.kind === "limit" ? html`<strong>Limit hit</strong> (${e.model})` : e.model
        }</td>${numberCell(e.input)}${numberCell(e.output)}${numberCell(e.cacheRead)}${numberCell(e.cacheWrite)}</tr>`,
    ),
    empty: "No reports received yet. People appear here after their first Claude Code turn with the plugin.",
  });
}

export function dailyCostTable(daily: readonly { day: string; cost: Cost }[], empty: string): Html {
  return dataTable({
    name: "days",
    item: "day",
    filter: false,
    columns: [
      { key: "day", label: "Day (UTC)" },
      { key: "cost", label: "Cost", numeric: true },
    ],
    rows: [...daily].reverse().map((d) => html`<tr><td>${d.day}</td>${costCell(d.cost)}</tr>`),
    empty,
  });
}
