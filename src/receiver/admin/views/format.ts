// Numbers and times as the dashboard shows them (STYLE.md): thousands separated, abbreviated only
// where space is tight, times as UTC instants that the page's script shows in the viewer's zone.
import { fromSqlTime } from "../../../protocol/index.ts";
import { type Cost, UNPRICED_NAMES_LISTED } from "../../analytics/cost.ts";
import { type Html, html } from "../html.ts";

const WHOLE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatInteger(value: number): string {
  return WHOLE.format(Math.round(value));
}

const UNITS: readonly [number, string][] = [
  [1e12, "T"],
  [1e9, "B"],
  [1e6, "M"],
  [1e3, "k"],
];

/** "1 device key", "2 device keys", "1,500 entries": every count the dashboard writes out. */
export function countOf(n: number, one: string, many = `${one}s`): string {
  return `${formatInteger(n)} ${n === 1 ? one : many}`;
}

/** 1234567 → "1.2M"; below 1,000 the exact value. Three significant figures at most. */
export function abbreviate(value: number): string {
  const magnitude = Math.abs(value);
  for (const [size, unit] of UNITS) {
    if (magnitude >= size) {
      const scaled = value / size;
      const digits = Math.abs(scaled) >= 100 ? 0 : Math.abs(scaled) >= 10 ? 1 : 2;
      return `${Number(scaled.toFixed(digits))}${unit}`;
    }
  }
  return formatInteger(value);
}

/** A ratio as a percentage with one decimal; "–" when there is nothing to divide. */
export function formatPercent(numerator: number, denominator: number): string {
  return denominator > 0 ? `${((numerator / denominator) * 100).toFixed(1)}%` : "–";
}

/** An abbreviated number with the exact value on hover. */
export function compactNumber(value: number): Html {
  return html`<span title="${formatInteger(value)}">${abbreviate(value)}</span>`;
}

/** `2026-05-11 03:00:00` (UTC, as stored) → `2026-05-11T03:00:00Z`. */
export function isoInstant(sqlTime: string): string {
  const ms = fromSqlTime(sqlTime);
  return Number.isNaN(ms) ? sqlTime : new Date(ms).toISOString().replace(".000Z", "Z");
}

/**
 * A stored UTC time. Without script it reads as UTC; the page's script rewrites it as relative
 * ("3 min ago"), or with `absolute` as a local date and time, with the local time on hover.
 */
export function timeCell(sqlTime: string | null, empty = "never", absolute = false): Html {
  if (!sqlTime) return html`<span class="muted">${empty}</span>`;
  const iso = isoInstant(sqlTime);
  return html`<time datetime="${iso}"${absolute ? html` data-absolute` : ""} title="${iso
    .replace("T", " ")
    .replace("Z", " UTC")}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

/** A time cell that sorts by its instant. */
export function timeSortKey(sqlTime: string | null): string {
  return sqlTime ? String(fromSqlTime(sqlTime)) : "0";
}

/** The part of an email before the @, for short labels ("jsmith's laptop"). */
export function shortName(email: string): string {
  return email.split("@")[0] || email;
}

const USD = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2 });

/** Dollars with cents; below a cent "< $0.01" rather than a misleading $0.00. */
export function formatUsd(usd: number): string {
  return usd > 0 && usd < 0.005 ? "< $0.01" : USD.format(usd);
}

/** "$12.30", "unpriced" (no price for any of it), or "$12.30 + unpriced" (some models have none). */
export function costText(cost: Cost): string {
  if (!cost.priced) return cost.unpricedModels.length > 0 ? "unpriced" : formatUsd(0);
  return cost.unpricedModels.length > 0 ? `${formatUsd(cost.usd)} + unpriced` : formatUsd(cost.usd);
}

/** Says which models have no price, for a tooltip; "" when all are priced. */
export function unpricedNote(cost: Cost): string {
  const names = cost.unpricedModels;
  if (names.length === 0) return "";
  const listed =
    names.length > UNPRICED_NAMES_LISTED
      ? `${names.slice(0, UNPRICED_NAMES_LISTED).join(", ")} and others`
      : names.join(", ");
  return `No list price for ${listed}: those tokens are not in this figure.`;
}
