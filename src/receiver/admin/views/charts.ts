// Server-drawn SVG charts: no library, nothing fetched. Every chart has a title naming what and
// over which range, labelled axes, a legend when there is more than one series, and a <title> on
// every mark with the exact value. Colours are presentation attributes, not inline styles, so the
// page's Content-Security-Policy needs no 'unsafe-inline'.
import { type Html, html } from "../html.ts";
import { abbreviate, countOf, formatInteger } from "./format.ts";

/** Okabe–Ito, colour-blind safe; black is swapped for grey so it shows on the dark theme too. */
export const OKABE_ITO = [
  "#E69F00",
  "#0072B2",
  "#009E73",
  "#CC79A7",
  "#D55E00",
  "#56B4E9",
  "#F0E442",
  "#999999",
];

export interface Series {
  name: string;
  colour: string;
}

export const TOKEN_SERIES: readonly Series[] = [
  { name: "Input", colour: "#0072B2" },
  { name: "Output", colour: "#D55E00" },
  { name: "Cache reads", colour: "#56B4E9" },
  { name: "Cache writes", colour: "#009E73" },
];

export function modelColour(slot: number | undefined): string {
  return OKABE_ITO[(slot ?? OKABE_ITO.length - 1) % OKABE_ITO.length]!;
}

/** Round axis ticks from 0 past `max`: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power) as number;
  const ticks: number[] = [];
  for (let value = 0; value < max + step; value += step) {
    ticks.push(value);
    if (value >= max) break;
  }
  return ticks;
}

function swatch(colour: string): Html {
  return html`<svg class="swatch" width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${colour}"/></svg>`;
}

export function legend(series: readonly Series[]): Html {
  if (series.length < 2) return html``;
  return html`<ul class="legend">${series.map((s) => html`<li>${swatch(s.colour)}${s.name}</li>`)}</ul>`;
}

function figure(title: string, body: Html, series: readonly Series[], caption?: string): Html {
  return html`<figure class="chart"><figcaption>${title}</figcaption>${legend(series)}${body}${
    caption ? html`<p class="chart-note">${caption}</p>` : ""
  }</figure>`;
}

function emptyChart(title: string, message: string): Html {
  return html`<figure class="chart"><figcaption>${title}</figcaption><p class="empty">${message}</p></figure>`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `2026-11-27` → `27 Nov`. */
export function shortDay(day: string): string {
  return `${Number(day.slice(8, 10))} ${MONTHS[Number(day.slice(5, 7)) - 1] ?? ""}`;
}

export interface Column {
  /** In full, for the marks' titles. */
  label: string;
  /** Under the axis. */
  tick: string;
  values: readonly number[];
}

export interface StackedColumnsChart {
  title: string;
  series: readonly Series[];
  columns: readonly Column[];
  xLabel: string;
  yLabel: string;
  /** Shown instead of the chart when every value is zero. */
  empty: string;
  caption?: string;
  /** Drawing height; 300 unless a secondary chart wants less. */
  height?: number;
}

/** The largest value, 0 for none; a loop, since Math.max(...values) overflows the stack on long lists. */
function largest(values: readonly number[]): number {
  let max = 0;
  for (const value of values) if (value > max) max = value;
  return max;
}

/** Vertical stacked columns, one per category (a day, a week…), series stacked bottom-up. */
export function stackedColumns(chart: StackedColumnsChart): Html {
  const totals = chart.columns.map((c) => c.values.reduce((a, b) => a + b, 0));
  const max = largest(totals);
  if (max === 0) return emptyChart(chart.title, chart.empty);
  const width = 960;
  const height = chart.height ?? 300;
  const left = 64;
  const right = 12;
  const top = 12;
  const bottom = 52;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const ticks = niceTicks(max);
  const scaleMax = ticks[ticks.length - 1]!;
  const y = (value: number) => top + plotHeight - (value / scaleMax) * plotHeight;
  const slot = plotWidth / chart.columns.length;
  const barWidth = Math.max(1, slot * 0.78);
  const labelEvery = Math.max(1, Math.ceil(chart.columns.length / 12));

  const grid = ticks.map(
    (tick) =>
      html`<line class="grid" x1="${left}" x2="${width - right}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}"/><text class="tick" x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${abbreviate(tick)}</text>`,
  );
  const bars = chart.columns.map((column, i) => {
    const x = left + i * slot + (slot - barWidth) / 2;
    let base = 0;
    const segments = column.values.map((value, s) => {
      if (value <= 0) return html``;
      const y0 = y(base);
      base += value;
      const y1 = y(base);
      const name = chart.series[s]?.name ?? "";
      return html`<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}" fill="${chart.series[s]?.colour ?? "#999999"}"><title>${column.label} · ${name}: ${formatInteger(value)}</title></rect>`;
    });
    const label =
      i % labelEvery === 0
        ? html`<text class="tick" x="${(left + i * slot + slot / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle">${column.tick}</text>`
        : "";
    return html`<g>${segments}<title>${column.label}: ${countOf(totals[i]!, "token")} in all</title></g>${label}`;
  });
  const body = html`<svg class="plot" viewBox="0 0 ${width} ${height}" role="img" aria-label="${chart.title}">${grid}<line class="axis" x1="${left}" x2="${width - right}" y1="${y(0)}" y2="${y(0)}"/>${bars}<text class="axis-label" x="${left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">${chart.xLabel}</text><text class="axis-label" transform="translate(14 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${chart.yLabel}</text></svg>`;
  return figure(chart.title, body, chart.series, chart.caption);
}

export interface BarRow {
  label: string;
  /** One value per series. */
  values: readonly number[];
  href?: string;
}

export interface HorizontalBarsChart {
  title: string;
  series: readonly Series[];
  rows: readonly BarRow[];
  xLabel: string;
  empty: string;
  caption?: string;
  /** Per-row colours (one series per bar, such as models): overrides the series colour. */
  rowColours?: readonly string[];
  /** Drawing width: 960 for a full-width chart, less for a half-width one so text stays legible. */
  width?: number;
}

/** Horizontal bars, one per row (a user, a model), stacked by series, largest first as given. */
export function horizontalBars(chart: HorizontalBarsChart): Html {
  const totals = chart.rows.map((r) => r.values.reduce((a, b) => a + b, 0));
  const max = largest(totals);
  if (max === 0) return emptyChart(chart.title, chart.empty);
  const width = chart.width ?? 960;
  const left = Math.round(width * 0.3);
  const right = 56;
  const top = 8;
  const rowHeight = 22;
  const bottom = 44;
  const plotWidth = width - left - right;
  const height = top + chart.rows.length * rowHeight + bottom;
  const ticks = niceTicks(max);
  const scaleMax = ticks[ticks.length - 1]!;
  const x = (value: number) => left + (value / scaleMax) * plotWidth;
  const plotBottom = top + chart.rows.length * rowHeight;

  const grid = ticks.map(
    (tick) =>
      html`<line class="grid" x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${top}" y2="${plotBottom}"/><text class="tick" x="${x(tick).toFixed(1)}" y="${plotBottom + 16}" text-anchor="middle">${abbreviate(tick)}</text>`,
  );
  const bars = chart.rows.map((row, i) => {
    const y = top + i * rowHeight + 3;
    let base = 0;
    const segments = row.values.map((value, s) => {
      if (value <= 0) return html``;
      const x0 = x(base);
      base += value;
      const colour = chart.rowColours?.[i] ?? chart.series[s]?.colour ?? "#999999";
      const name = chart.series[s]?.name;
      return html`<rect x="${x0.toFixed(1)}" y="${y}" width="${Math.max(0.5, x(base) - x0).toFixed(1)}" height="${rowHeight - 6}" fill="${colour}"><title>${row.label}${name ? ` · ${name}` : ""}: ${formatInteger(value)}</title></rect>`;
    });
    const fits = Math.floor(left / 8.2);
    const short = row.label.length > fits ? `${row.label.slice(0, fits - 1)}…` : row.label;
    const text = html`<text class="row-label" x="${left - 8}" y="${y + 12}" text-anchor="end">${short}<title>${row.label}</title></text>`;
    return html`${row.href ? html`<a href="${row.href}">${text}</a>` : text}${segments}<text class="value" x="${(x(totals[i]!) + 6).toFixed(1)}" y="${y + 12}">${abbreviate(totals[i]!)}<title>${formatInteger(totals[i]!)}</title></text>`;
  });
  const body = html`<svg class="plot" viewBox="0 0 ${width} ${height}" role="img" aria-label="${chart.title}">${grid}${bars}<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${plotBottom}"/><text class="axis-label" x="${left + plotWidth / 2}" y="${height - 6}" text-anchor="middle">${chart.xLabel}</text></svg>`;
  return figure(chart.title, body, chart.rowColours ? [] : chart.series, chart.caption);
}
