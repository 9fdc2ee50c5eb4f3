// Usage pieces the overview and the user page share: cards, charts over time, model tables.
import { addCost, type Cost, NO_COST } from "../../analytics/cost.ts";
import type { DayRange } from "../../analytics/ranges.ts";
import { dayRangeLabel } from "../../analytics/ranges.ts";
import { addTokens, type DayUsage, noTokens, type TokenTotals } from "../../analytics/totals.ts";
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
