// /admin/: who uses how many tokens, on which models, how close to the 5-hour limits, which tier.

import { addCost, type Cost, NO_COST } from "../../analytics/cost.ts";
import type { DivisionUsage, Overview, RecentEvent, UserUsage } from "../../analytics/overview.ts";
import { type RangeKey, rangeLabel } from "../../analytics/ranges.ts";
import { MIN_WINDOWS_FOR_ESTIMATE } from "../../analytics/tiers.ts";
import { addTokens, type DayUsage, noTokens, type TokenTotals } from "../../analytics/totals.ts";
import { type Html, html } from "../html.ts";
import { horizontalBars, modelColour, stackedColumns, TOKEN_SERIES } from "./charts.ts";
import {
  abbreviate,
  costText,
  countOf,
  formatInteger,
  formatPercent,
  timeCell,
  timeSortKey,
  unpricedNote,
} from "./format.ts";
import { actionForm, link, page, type View } from "./layout.ts";
import {
  card,
  costCell,
  dataTable,
  numberCell,
  rangeSelector,
  section,
  tierBadge,
  userHref,
} from "./parts.ts";
import { timeColumns } from "./time-columns.ts";

const TOP_USERS_IN_CHART = 15;
/** Drawing width of the charts shown two side by side. */
const HALF_WIDTH = 620;

export interface OverviewData {
  range: RangeKey;
  overview: Overview;
  recent: RecentEvent[];
  colourSlots: Map<string, number>;
  tierIntervalSecs: number;
  /** The day the price table was read, for the cost note. */
  pricesTakenOn: string;
}

export function tokenValues(t: TokenTotals): number[] {
  return [t.input, t.output, t.cacheRead, t.cacheWrite];
}

export function totalTokens(t: TokenTotals): number {
  return t.input + t.output + t.cacheRead + t.cacheWrite;
}

export function cacheHitRate(t: TokenTotals): string {
  return formatPercent(t.cacheRead, t.input + t.cacheRead + t.cacheWrite);
}

/** The cost note beside every cost figure: what it is and how old the prices are. */
export function costNote(pricesTakenOn: string): string {
  return `At API list prices of ${pricesTakenOn}, as a comparison: seats are not billed per token. Models without a list price are shown as unpriced, never as $0.`;
}

export function usageCards(
  t: TokenTotals & { sessions: number; turns: number; cost: Cost },
  users?: number,
): Html {
  return html`<div class="cards">${users === undefined ? "" : card("Users", users)}${card(
    "At API prices",
    costText(t.cost),
    unpricedNote(t.cost) || "comparison figure",
  )}${card("Sessions", t.sessions)}${card(
    "Turns",
    t.turns,
  )}${card("Input tokens", t.input)}${card("Output tokens", t.output)}${card("Cache reads", t.cacheRead)}${card(
    "Cache writes",
    t.cacheWrite,
  )}${card("Cache hit rate", cacheHitRate(t), "cache reads ÷ (input + cache reads + cache writes)")}</div>`;
}

/**
 * `who` names the user on a user page ("" on the overview).
 * Tokens per day (per week, month or years over a long range) stacked by kind, then input and
 * output alone: cache reads are usually many times the rest, which would flatten the billed
 * tokens into a sliver.
 */
export function dailyCharts(who: string, range: RangeKey, daily: readonly DayUsage[], now: number): Html {
  const { per, axis, columns } = timeColumns(range, daily, now);
  const label = rangeLabel(range);
  const empty = `No reports in ${label}.`;
  const title = (what: string) => (who ? `${who}: ${what}` : `${what[0]!.toUpperCase()}${what.slice(1)}`);
  return html`${stackedColumns({
    title: title(`tokens per ${per} by kind, ${label}`),
    series: TOKEN_SERIES,
    columns: columns.map((c) => ({ label: c.label, tick: c.tick, values: tokenValues(c) })),
    xLabel: axis,
    yLabel: "Tokens",
    empty,
  })}${stackedColumns({
    title: title(`billed tokens per ${per} (input and output), ${label}`),
    series: TOKEN_SERIES.slice(0, 2),
    columns: columns.map((c) => ({ label: c.label, tick: c.tick, values: [c.input, c.output] })),
    xLabel: axis,
    yLabel: "Tokens",
    empty,
    height: 200,
  })}`;
}

function userRow(view: View, user: UserUsage): Html {
  const w = user.windows;
  return html`<tr><td>${link(view, userHref(user.email), user.email)}</td><td>${user.division ?? ""}</td>${numberCell(
    user.input,
  )}${numberCell(user.output)}${numberCell(user.cacheRead)}${numberCell(user.cacheWrite)}${numberCell(
    totalTokens(user),
  )}${costCell(user.cost)}${numberCell(user.sessions)}${numberCell(user.turns)}${numberCell(w ? w.peakBilledTokens : null)}${numberCell(
    w ? Math.round(w.averageBilledTokens) : null,
  )}${numberCell(w ? w.limitWindows : null)}<td data-value="${w?.tier ?? 0}">${tierBadge(w)}</td><td data-value="${timeSortKey(
    user.lastActive,
  )}">${timeCell(user.lastActive)}</td></tr>`;
}

const USER_COLUMNS = [
  { key: "user", label: "User" },
  { key: "division", label: "Division" },
  { key: "input", label: "Input", numeric: true },
  { key: "output", label: "Output", numeric: true },
  { key: "cache-reads", label: "Cache reads", numeric: true },
  { key: "cache-writes", label: "Cache writes", numeric: true },
  { key: "total", label: "Total", numeric: true, hint: "All four kinds of tokens" },
  { key: "cost", label: "Cost", numeric: true, hint: "At API list prices, as a comparison" },
  { key: "sessions", label: "Sessions", numeric: true },
  { key: "turns", label: "Turns", numeric: true },
  {
    key: "peak",
    label: "Peak 5h",
    numeric: true,
    hint: "Largest 5-hour window in the range, billed tokens (input + output)",
  },
  { key: "average", label: "Avg 5h", numeric: true, hint: "Mean billed tokens per 5-hour window" },
  {
    key: "limits",
    label: "Limit hits",
    numeric: true,
    hint: "Windows in which Claude Code reported a usage limit",
  },
  { key: "tier", label: "Tier", byValue: true, hint: "Estimated seat tier and its confidence" },
  { key: "last-active", label: "Active", byValue: true, hint: "Last active" },
];

function tierSummary(users: readonly UserUsage[]): Html {
  const tiers = new Map<
    number,
    { users: number; low: number; high: number; confidence: Record<string, number> }
  >();
  let unestimated = 0;
  for (const user of users) {
    const w = user.windows;
    if (!w || w.tier === null || w.p75BilledTokens === null) {
      unestimated++;
      continue;
    }
    const entry = tiers.get(w.tier) ?? {
      users: 0,
      low: w.p75BilledTokens,
      high: w.p75BilledTokens,
      confidence: { confirmed: 0, medium: 0, low: 0 },
    };
    entry.users++;
    entry.low = Math.min(entry.low, w.p75BilledTokens);
    entry.high = Math.max(entry.high, w.p75BilledTokens);
    entry.confidence[w.confidence ?? "low"]!++;
    tiers.set(w.tier, entry);
  }
  const rows = [...tiers.entries()]
    .sort(([a], [b]) => a - b)
    .map(
      ([tier, t]) =>
        html`<tr><td data-value="${tier}"><span class="tier tier-${tier}">Tier ${tier}</span></td>${numberCell(
          t.users,
        )}<td class="num" data-value="${t.low}"><span title="${formatInteger(t.low)} – ${formatInteger(t.high)}">${abbreviate(
          t.low,
        )} – ${abbreviate(t.high)}</span></td>${numberCell(t.confidence.confirmed ?? 0)}${numberCell(
          t.confidence.medium ?? 0,
        )}${numberCell(t.confidence.low ?? 0)}</tr>`,
    );
  const table = dataTable({
    name: "tiers",
    item: "tier",
    filter: false,
    columns: [
      { key: "tier", label: "Tier", byValue: true },
      { key: "users", label: "Users", numeric: true },
      {
        key: "p75",
        label: "Typical heavy window",
        numeric: true,
        hint: "75th percentile of each user's closed 5-hour windows, billed tokens: lowest – highest user",
      },
      {
        key: "confirmed",
        label: "Confirmed",
        numeric: true,
        hint: "A limit event shows the user hit a limit",
      },
      { key: "medium", label: "Medium", numeric: true, hint: "10 or more closed windows" },
      { key: "low", label: "Low", numeric: true, hint: "3 to 9 closed windows" },
    ],
    rows,
    empty: `No user has ${MIN_WINDOWS_FOR_ESTIMATE} closed 5-hour windows in this range yet, so no tier is estimated.`,
  });
  return html`${table}${
    unestimated > 0 && rows.length > 0
      ? html`<p class="note">${formatInteger(unestimated)} ${
          unestimated === 1 ? "user has" : "users have"
        } fewer than ${MIN_WINDOWS_FOR_ESTIMATE} closed windows in this range and no estimate.</p>`
      : ""
  }`;
}

function divisionTable(divisions: readonly DivisionUsage[], empty: string): Html {
  return dataTable({
    name: "divisions",
    item: "division",
    filter: false,
    columns: [
      { key: "division", label: "Division" },
      { key: "users", label: "Users", numeric: true },
      { key: "billed", label: "Billed tokens", numeric: true, hint: "Input + output" },
      { key: "cache-reads", label: "Cache reads", numeric: true },
      { key: "cost", label: "Cost", numeric: true, hint: "At API list prices, as a comparison" },
    ],
    rows: [...divisions]
      .sort((a, b) => b.input + b.output - (a.input + a.output))
      .map(
        (d) =>
          html`<tr><td>${d.division ?? html`<span class="muted">no division</span>`}</td>${numberCell(d.users)}${numberCell(
            d.input + d.output,
          )}${numberCell(d.cacheRead)}${costCell(d.cost)}</tr>`,
      ),
    empty,
  });
}

function dailyCostTable(daily: readonly { day: string; cost: Cost }[], empty: string): Html {
  return html`<details><summary>Cost per day</summary>${dataTable({
    name: "days",
    item: "day",
    filter: false,
    columns: [
      { key: "day", label: "Day (UTC)" },
      { key: "cost", label: "Cost", numeric: true },
    ],
    rows: [...daily].reverse().map((d) => html`<tr><td>${d.day}</td>${costCell(d.cost)}</tr>`),
    empty,
  })}</details>`;
}

function recentEvents(view: View, events: readonly RecentEvent[]): Html {
  return dataTable({
    name: "events",
    item: "event",
    columns: [
      { key: "received", label: "Received", byValue: true },
      { key: "user", label: "User" },
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
    empty: "No reports received yet. Users appear here after their first Claude Code turn with the plugin.",
  });
}

type ModelRow = TokenTotals & { model: string; turns: number; users?: number; cost: Cost };

/** Models drawn as bars of their own on a chart; the rest share one "other" bar. */
export const MODEL_BARS = 8;
/** Models listed as rows of their own in a models table; the rest share one row. */
export const MODEL_ROWS = 50;
const OTHER_COLOUR = "#999999";

/**
 * The `keep` largest models by tokens, largest first, and the sums of the rest (null when none
 * is left over), so that neither a chart nor a page grows with the number of model names.
 */
export function largestModels(
  models: readonly ModelRow[],
  keep: number,
): { shown: ModelRow[]; rest: (ModelRow & { count: number }) | null } {
  const sorted = [...models].sort((a, b) => totalTokens(b) - totalTokens(a));
  const others = sorted.slice(keep);
  if (others.length === 0) return { shown: sorted, rest: null };
  const rest = {
    model: `${others.length} other models`,
    count: others.length,
    turns: 0,
    cost: NO_COST,
    ...noTokens(),
  };
  for (const m of others) {
    rest.turns += m.turns;
    addTokens(rest, m);
    rest.cost = addCost(rest.cost, m.cost);
  }
  return { shown: sorted.slice(0, keep), rest };
}

/** The models a page draws in colour, whose colour slots it needs. */
export function modelsInColour(models: readonly ModelRow[]): string[] {
  return largestModels(models, Math.max(MODEL_BARS, MODEL_ROWS)).shown.map((m) => m.model);
}

export function modelTable(
  name: string,
  models: readonly ModelRow[],
  colourSlots: Map<string, number>,
  emptyMessage: string,
): Html {
  const grand = models.reduce((sum, m) => sum + totalTokens(m), 0);
  const withUsers = models.some((m) => m.users !== undefined);
  const { shown, rest } = largestModels(models, MODEL_ROWS);
  const row = (m: ModelRow, colour: string) =>
    html`<tr><td><svg class="swatch" width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${colour}"/></svg>${m.model}</td>${
      withUsers ? numberCell(m.users ?? null) : ""
    }${numberCell(m.turns)}${numberCell(m.input)}${numberCell(m.output)}${numberCell(m.cacheRead)}${numberCell(
      m.cacheWrite,
    )}${numberCell(totalTokens(m))}${numberCell(totalTokens(m), formatPercent(totalTokens(m), grand))}${costCell(
      m.cost,
    )}</tr>`;
  return dataTable({
    name,
    item: "model",
    filter: false,
    columns: [
      { key: "model", label: "Model" },
      ...(withUsers ? [{ key: "users", label: "Users", numeric: true }] : []),
      { key: "turns", label: "Turns", numeric: true, hint: "Turns that used the model" },
      { key: "input", label: "Input", numeric: true },
      { key: "output", label: "Output", numeric: true },
      { key: "cache-reads", label: "Cache reads", numeric: true },
      { key: "cache-writes", label: "Cache writes", numeric: true },
      { key: "total", label: "Total", numeric: true },
      { key: "share", label: "Share", numeric: true, hint: "Share of all tokens in the range" },
      { key: "cost", label: "Cost", numeric: true, hint: "At API list prices, as a comparison" },
    ],
    rows: [
      ...shown.map((m) => row(m, modelColour(colourSlots.get(m.model)))),
      ...(rest ? [row({ ...rest, users: undefined }, OTHER_COLOUR)] : []),
    ],
    empty: emptyMessage,
  });
}

export function modelChart(
  title: string,
  models: readonly ModelRow[],
  colourSlots: Map<string, number>,
  empty: string,
): Html {
  const { shown, rest } = largestModels(models, MODEL_BARS);
  const bars = rest ? [...shown, rest] : shown;
  return horizontalBars({
    title,
    series: [{ name: "Tokens", colour: OTHER_COLOUR }],
    rows: bars.map((m) => ({ label: m.model, values: [totalTokens(m)] })),
    rowColours: bars.map((m) => (m === rest ? OTHER_COLOUR : modelColour(colourSlots.get(m.model)))),
    xLabel: "Tokens (all kinds)",
    empty,
    width: HALF_WIDTH,
  });
}

export function overviewPage(view: View, data: OverviewData): Html {
  const { overview, range } = data;
  const label = rangeLabel(range);
  const topUsers = [...overview.users]
    .sort((a, b) => totalTokens(b) - totalTokens(a))
    .slice(0, TOP_USERS_IN_CHART);
  const empty = `No reports in ${label}.`;
  const computed = overview.tiersComputedAt;
  const body = html`${usageCards(overview.totals, overview.totals.users)}${section(
    "daily",
    "Daily tokens",
    dailyCharts("", range, overview.daily, view.now),
  )}<div class="two-up">${section(
    "by-user",
    "Tokens by user",
    horizontalBars({
      title: `Top ${countOf(Math.min(TOP_USERS_IN_CHART, topUsers.length), "user")} by tokens, ${label}`,
      series: TOKEN_SERIES,
      rows: topUsers.map((u) => ({
        label: u.email,
        values: tokenValues(u),
        href: view.exported ? undefined : userHref(u.email),
      })),
      xLabel: "Tokens",
      empty,
      width: HALF_WIDTH,
    }),
  )}${section(
    "by-model",
    "Tokens by model",
    modelChart(`Tokens by model, ${label}`, overview.models, data.colourSlots, empty),
  )}</div>${section(
    "users",
    "Usage by user",
    dataTable({
      name: "users",
      item: "user",
      columns: USER_COLUMNS,
      rows: [...overview.users].sort((a, b) => totalTokens(b) - totalTokens(a)).map((u) => userRow(view, u)),
      empty,
    }),
    html`5-hour windows: a window opens at a user's first turn outside an open window, starting on the whole UTC hour, and lasts 5 hours. Billed tokens are input + output. Window figures as of ${timeCell(
      computed,
      "not computed yet",
    )}.`,
  )}${section(
    "divisions",
    "Divisions",
    html`${divisionTable(overview.divisions, empty)}${dailyCostTable(overview.daily, empty)}`,
    costNote(data.pricesTakenOn),
  )}${section("models", "Models", modelTable("models", overview.models, data.colourSlots, empty))}${section(
    "tiers",
    "Seat tier estimate",
    html`${tierSummary(overview.users)}${actionForm(view, {
      action: "/admin/tiers/recompute",
      label: "Recompute now",
      fields: { return: `${view.url.pathname}${view.url.search}` },
    })}`,
    html`From each user's closed 5-hour windows in ${label} (at least ${MIN_WINDOWS_FOR_ESTIMATE}): the 75th-percentile window, users sorted by it, a new tier where a value exceeds the previous user's by more than 1.8×. Recomputed every ${Math.round(
      data.tierIntervalSecs / 60,
    )} min; last ${timeCell(computed, "not yet")}.`,
  )}${section("recent", "Recent events", recentEvents(view, data.recent), "The last 50 reports and limit events.")}`;
  return page(view, { title: "Overview", section: "overview", body, tools: rangeSelector(view, range) });
}
