// Usage pieces the overview and the user page share: cards, charts over time, model tables.
import type { Cost } from "../../analytics/cost.ts";
import type { DayRange } from "../../analytics/ranges.ts";
import { dayRangeLabel } from "../../analytics/ranges.ts";
import type { DayUsage, TokenTotals } from "../../analytics/totals.ts";
import { type Html, html } from "../html.ts";
import { horizontalBars, modelColour, stackedColumns, TOKEN_SERIES } from "./charts.ts";
import { costText, formatPercent, unpricedNote } from "./format.ts";
import { card, costCell, dataTable, numberCell } from "./parts.ts";
import { timeColumns } from "./time-columns.ts";

/** Drawing width of the charts shown two side by side. */
export const HALF_WIDTH = 620;

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
export function dailyCharts(who: string, range: DayRange, daily: readonly DayUsage[], now: number): Html {
  const { per, axis, columns } = timeColumns(range, daily, now);
  const label = dayRangeLabel(range);
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

export function modelTable(
  name: string,
  models: readonly (TokenTotals & { model: string; turns: number; users?: number; cost: Cost })[],
  colourSlots: Map<string, number>,
  emptyMessage: string,
): Html {
  const grand = models.reduce((sum, m) => sum + totalTokens(m), 0);
  const withUsers = models.some((m) => m.users !== undefined);
  return dataTable({
    name,
    noun: "models",
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
    rows: [...models]
      .sort((a, b) => totalTokens(b) - totalTokens(a))
      .map(
        (m) =>
          html`<tr><td><svg class="swatch" width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${modelColour(
            colourSlots.get(m.model),
          )}"/></svg>${m.model}</td>${withUsers ? numberCell(m.users ?? 0) : ""}${numberCell(m.turns)}${numberCell(
            m.input,
          )}${numberCell(m.output)}${numberCell(m.cacheRead)}${numberCell(m.cacheWrite)}${numberCell(
            totalTokens(m),
          )}${numberCell(totalTokens(m), formatPercent(totalTokens(m), grand))}${costCell(m.cost)}</tr>`,
      ),
    empty: emptyMessage,
  });
}

export function modelChart(
  title: string,
  models: readonly (TokenTotals & { model: string })[],
  colourSlots: Map<string, number>,
  empty: string,
): Html {
  const sorted = [...models].sort((a, b) => totalTokens(b) - totalTokens(a));
  return horizontalBars({
    title,
    series: [{ name: "Tokens", colour: "#999999" }],
    rows: sorted.map((m) => ({ label: m.model, values: [totalTokens(m)] })),
    rowColours: sorted.map((m) => modelColour(colourSlots.get(m.model))),
    xLabel: "Tokens (all kinds)",
    empty,
    width: HALF_WIDTH,
  });
}
