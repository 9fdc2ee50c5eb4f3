// /admin/: who needs a bigger seat. The first screen answers it (limit hits by type, recommended
// seat changes, the headline figures against the period before); below come the trend, people
// close to their limit, divisions, everyone (paged on the server), tiers, models and recent events.
import type { Cost } from "../../analytics/cost.ts";
import type {
  DivisionUsage,
  Headline,
  LimitHits,
  LimitType,
  Overview,
  PersonUsage,
  RecentEvent,
} from "../../analytics/overview.ts";
import { chartBuckets, type DayRange, dayRangeLabel, daysIn } from "../../analytics/ranges.ts";
import {
  roughTokens,
  SEAT_RULE,
  type SeatAdvice,
  type SeatEvidence,
  seatAdvice,
} from "../../analytics/seats.ts";
import { MIN_WINDOWS_FOR_ESTIMATE } from "../../analytics/tiers.ts";
import { type Html, html } from "../html.ts";
import { shortDay, stackedColumns } from "./charts.ts";
import { abbreviate, costText, formatInteger, timeCell, timeSortKey } from "./format.ts";
import { actionForm, link, page, type View, withQuery } from "./layout.ts";
import { costCell, dataTable, numberCell, section, tierBadge, userHref } from "./parts.ts";
import { rangeTools } from "./range-tools.ts";
import { type ServerColumn, serverTable } from "./server-table.ts";
import { costNote, dailyCharts, modelChart, modelTable } from "./usage-parts.ts";

const FIRST_SCREEN_ROWS = 6;
const FULL_LIST_ROWS = 50;

export interface OverviewData {
  overview: Overview;
  /** The division filter, "" for people without one; null for everyone. */
  division: string | null;
  recent: RecentEvent[];
  /** Asked only for the rows a page shows. */
  lastActive: (email: string) => string | null;
  /** A person's sessions and turns in the range; asked only for the rows a page shows. */
  sessionCounts: (email: string) => { sessions: number; turns: number };
  colourSlots: Map<string, number>;
  tierIntervalSecs: number;
  /** The day the price table was read, for the cost note. */
  pricesTakenOn: string;
  /** A correction said at the top (a bad range or date), or null. */
  problem: string | null;
}

export const LIMIT_LABELS: Record<LimitType, string> = {
  five_hour: "5-hour",
  seven_day: "weekly",
  seven_day_opus: "weekly Opus",
  seven_day_sonnet: "weekly Sonnet",
  other: "type not reported",
};

/** What the seat rules read about a person. */
export function evidenceOf(p: PersonUsage): SeatEvidence {
  const { byType } = p.limits;
  return {
    email: p.email,
    division: p.division,
    billedTokens: p.input + p.output,
    activeDays: p.activeDays,
    limits: {
      total: p.limits.total,
      fiveHour: byType.five_hour,
      weekly: byType.seven_day + byType.seven_day_opus + byType.seven_day_sonnet,
      days: p.limits.days,
      last: p.limits.last,
    },
    peakWindowBilled: p.windows?.peakBilledTokens ?? null,
    limitWindowBilled: p.windows?.limitBilledTokens ?? null,
  };
}

/**
 * "+12%", "−3%", "new" or "" beside a headline figure; `worseWhenUp` colours a rise as bad (limit
 * hits), otherwise a change is only information (tokens, cost).
 */
function change(current: number, previous: number | undefined, worseWhenUp = false): Html {
  if (previous === undefined) return html``;
  if (previous === 0) {
    return current === 0
      ? html``
      : html`<span class="change${worseWhenUp ? " up" : ""}" title="none in the period before">new</span>`;
  }
  const percent = Math.round(((current - previous) / previous) * 100);
  const shown = percent === 0 ? "±0%" : `${percent > 0 ? "+" : "−"}${Math.abs(percent)}%`;
  const tone = !worseWhenUp || percent === 0 ? "" : percent > 0 ? "up" : "down";
  return html`<span class="change ${tone}" title="vs ${formatInteger(
    previous,
  )} in the period before">${shown}</span>`;
}

function headlineCard(label: string, value: Html | string, delta: Html, detail?: Html | string): Html {
  return html`<div class="card"><div class="card-label">${label}</div><div class="card-value">${value}${delta}</div>${
    detail ? html`<div class="card-detail">${detail}</div>` : ""
  }</div>`;
}

function compact(value: number): Html {
  return html`<span title="${formatInteger(value)}">${abbreviate(value)}</span>`;
}

function costChange(current: Cost, previous: Cost | undefined): Html {
  return previous?.priced && current.priced ? change(current.usd, previous.usd) : html``;
}

function headlineCards(t: Headline, before: Headline | null, upgrades: number, pricesTakenOn: string): Html {
  const p = before ?? undefined;
  return html`<div class="cards headline">${headlineCard(
    "People who hit a limit",
    compact(t.limitUsers),
    change(t.limitUsers, p?.limitUsers, true),
    `${formatInteger(t.limitHits)} limit hits`,
  )}${headlineCard(
    "Upgrade candidates",
    compact(upgrades),
    html``,
    "repeated confirmed limits",
  )}${headlineCard(
    "Billed tokens",
    compact(t.input + t.output),
    change(t.input + t.output, p ? p.input + p.output : undefined),
    html`input + output; cache reads ${compact(t.cacheRead)}`,
  )}${headlineCard(
    "At API list prices",
    costText(t.cost),
    costChange(t.cost, p?.cost),
    `comparison, prices of ${pricesTakenOn}`,
  )}${headlineCard(
    "Active people",
    compact(t.activeUsers),
    change(t.activeUsers, p?.activeUsers),
    html`${compact(t.sessions)} sessions · ${compact(t.turns)} turns`,
  )}</div>`;
}

function limitSummary(hits: LimitHits): string {
  return (Object.keys(LIMIT_LABELS) as LimitType[])
    .filter((type) => hits.byType[type] > 0)
    .map((type) => `${LIMIT_LABELS[type]} ×${hits.byType[type]}`)
    .join(" · ");
}

function personLink(view: View, email: string, anchor = ""): Html {
  return link(view, `${userHref(email)}${anchor}`, html`<span class="who">${email}</span>`);
}

function limitHitters(view: View, people: readonly PersonUsage[], label: string): Html {
  const hitters = people
    .filter((p) => p.limits.total > 0)
    .sort(
      (a, b) =>
        b.limits.total - a.limits.total ||
        (b.limits.last ?? "").localeCompare(a.limits.last ?? "") ||
        a.email.localeCompare(b.email),
    );
  if (hitters.length === 0) {
    return html`<p class="empty">Nobody hit a usage limit in ${label}.</p>`;
  }
  const more = hitters.length - FIRST_SCREEN_ROWS;
  return html`<ol class="pressure-list" data-list="limit-hitters">${hitters
    .slice(0, FIRST_SCREEN_ROWS)
    .map(
      (p) =>
        html`<li><div class="line">${personLink(view, p.email, "#windows")}<span class="badge confirmed" title="Claude Code reported these limits">${formatInteger(
          p.limits.total,
        )} ${p.limits.total === 1 ? "hit" : "hits"}</span></div><div class="meta">${limitSummary(p.limits)} · on ${formatInteger(
          p.limits.days,
        )} ${p.limits.days === 1 ? "day" : "days"} · last ${timeCell(p.limits.last)}${
          p.division ? html` · ${p.division}` : ""
        }</div></li>`,
    )}</ol>${
    more > 0
      ? html`<p class="more">${link(
          view,
          `${withQuery(view.url, { "people.sort": "limits", "people.dir": "desc", "people.page": null })}#people`,
          `All ${formatInteger(hitters.length)} people with limit hits`,
        )}</p>`
      : ""
  }`;
}

function adviceList(
  view: View,
  advice: readonly SeatAdvice[],
  kind: SeatAdvice["kind"],
  empty: string,
): Html {
  const chosen = advice.filter((a) => a.kind === kind);
  if (chosen.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<ol class="pressure-list" data-list="${kind}">${chosen
    .slice(0, kind === "upgrade" ? FIRST_SCREEN_ROWS : 3)
    .map(
      (a) =>
        html`<li><div class="line">${personLink(view, a.email, kind === "upgrade" ? "#windows" : "")}<span class="badge ${a.evidence}" title="${
          a.evidence === "confirmed" ? "Rests on limits Claude Code reported" : "Inferred from usage alone"
        }">${a.evidence}</span>${
          kind === "upgrade" && !view.exported
            ? html`<a class="windows-link" href="${userHref(a.email)}#windows">windows</a>`
            : ""
        }</div><div class="meta">${a.reason}</div></li>`,
    )}</ol>${
    chosen.length > (kind === "upgrade" ? FIRST_SCREEN_ROWS : 3)
      ? html`<p class="more"><a href="#seat-changes">All ${formatInteger(chosen.length)}</a></p>`
      : ""
  }`;
}

function firstScreen(view: View, overview: Overview, advice: readonly SeatAdvice[], label: string): Html {
  return html`<div class="pressure">${section(
    "limit-hitters",
    "Who hit a usage limit",
    limitHitters(view, overview.people, label),
    `Limits Claude Code reported in ${label}, by type: confirmed.`,
  )}${section(
    "recommendations",
    "Recommended seat changes",
    html`<h3>Upgrade</h3>${adviceList(view, advice, "upgrade", `Nobody hit a limit repeatedly in ${label}.`)}<h3>Downgrade</h3>${adviceList(
      view,
      advice,
      "downgrade",
      "Everyone uses their seat.",
    )}`,
    SEAT_RULE,
  )}</div>`;
}

const LIMIT_SERIES: { type: LimitType; colour: string }[] = [
  { type: "five_hour", colour: "#D55E00" },
  { type: "seven_day", colour: "#0072B2" },
  { type: "seven_day_opus", colour: "#CC79A7" },
  { type: "seven_day_sonnet", colour: "#009E73" },
  { type: "other", colour: "#999999" },
];

function limitTrend(
  overview: Overview,
  range: DayRange,
  now: number,
  label: string,
  filtered: boolean,
): Html {
  if (filtered) {
    return html`<p class="empty">The trend is for everyone; clear the division filter to see it.</p>`;
  }
  const first = range.key === "all" ? overview.limitDaily[0]?.day : range.from;
  const end = Math.min(now, Date.parse(`${range.to}T23:59:59Z`));
  // Days, weeks, months or years a column, as the token charts: at most MAX_CHART_COLUMNS.
  const buckets = first ? chartBuckets(first, end) : { unit: "day", step: 1, starts: [] as string[] };
  const used = LIMIT_SERIES.filter((s) => overview.limitDaily.some((d) => d.byType[s.type] > 0));
  const series = used.length > 0 ? used : LIMIT_SERIES.slice(0, 1);
  const columns = buckets.starts.map((start) => ({
    label: buckets.unit === "day" ? start : `${buckets.unit} from ${start}`,
    tick: shortDay(start),
    values: series.map(() => 0),
  }));
  for (const d of overview.limitDaily) {
    let index = -1;
    for (let i = 0; i < buckets.starts.length && buckets.starts[i]! <= d.day; i++) index = i;
    if (index < 0) continue;
    const values = columns[index]!.values;
    series.forEach((s, i) => {
      values[i]! += d.byType[s.type];
    });
  }
  return stackedColumns({
    title: `Limit hits per ${buckets.unit} by type, ${label}`,
    series: series.map((s) => ({ name: LIMIT_LABELS[s.type], colour: s.colour })),
    columns,
    xLabel:
      buckets.unit === "day"
        ? "Day (UTC)"
        : `${buckets.unit[0]!.toUpperCase()}${buckets.unit.slice(1)} (UTC)`,
    yLabel: "Limit hits",
    empty: `No limit hits in ${label}.`,
    height: 180,
  });
}

function divisionTable(
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

function peopleColumns(view: View, data: OverviewData): ServerColumn<PersonUsage>[] {
  const counted = new Map<string, { sessions: number; turns: number }>();
  const countsOf = (email: string) => {
    const counts = counted.get(email) ?? data.sessionCounts(email);
    counted.set(email, counts);
    return counts;
  };
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
function tierSummary(people: readonly PersonUsage[]): Html {
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

function adviceTable(view: View, advice: readonly SeatAdvice[]): Html {
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

function recentEvents(view: View, events: readonly RecentEvent[]): Html {
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
    serverTable(view, {
      name: "people",
      item: "person",
      items: "people",
      columns: peopleColumns(view, data),
      rows: overview.people,
      defaultSort: "billed",
      searchText: (p) => `${p.email} ${p.division ?? ""}`,
      empty,
      rowClass: (p) => (p.limits.total > 0 ? "limit" : ""),
    }),
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

function dailyCostTable(daily: readonly { day: string; cost: Cost }[], empty: string): Html {
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
