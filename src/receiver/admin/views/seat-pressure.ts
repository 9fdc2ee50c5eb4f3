// The overview's first screen, which answers who needs a bigger seat: the headline figures
// against the period before, who hit a usage limit, the recommended seat changes and the trend.
import type { Cost } from "../../analytics/cost.ts";
import type { Headline, LimitHits, LimitType, Overview, PersonUsage } from "../../analytics/overview.ts";
import { chartBuckets, type DayRange } from "../../analytics/ranges.ts";
import { SEAT_RULE, type SeatAdvice } from "../../analytics/seats.ts";
import type { SessionCounts } from "../../analytics/sessions.ts";
import { type Html, html } from "../html.ts";
import { shortDay, stackedColumns } from "./charts.ts";
import { abbreviate, costText, formatInteger, timeCell } from "./format.ts";
import { link, type View, withQuery } from "./layout.ts";
import { section, userHref } from "./parts.ts";

const FIRST_SCREEN_ROWS = 6;

export const LIMIT_LABELS: Record<LimitType, string> = {
  five_hour: "5-hour",
  seven_day: "weekly",
  seven_day_opus: "weekly Opus",
  seven_day_sonnet: "weekly Sonnet",
  other: "type not reported",
};

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

export function headlineCards(
  t: Headline & SessionCounts,
  before: Headline | null,
  upgrades: number,
  pricesTakenOn: string,
): Html {
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

export function limitSummary(hits: LimitHits): string {
  return (Object.keys(LIMIT_LABELS) as LimitType[])
    .filter((type) => hits.byType[type] > 0)
    .map((type) => `${LIMIT_LABELS[type]} ×${hits.byType[type]}`)
    .join(" · ");
}

export function personLink(view: View, email: string, anchor = ""): Html {
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

export function adviceList(
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

export function firstScreen(
  view: View,
  overview: Overview,
  advice: readonly SeatAdvice[],
  label: string,
): Html {
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

export function limitTrend(
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
