// /admin/users/<email>: one person's daily usage, 5-hour windows, sessions, devices and tokens.

import type { Cost } from "../../analytics/cost.ts";
import type { WindowFigures } from "../../analytics/estimates.ts";
import { limitTypeOf } from "../../analytics/overview.ts";
import { type DayRange, dayRangeLabel } from "../../analytics/ranges.ts";
import type { TokenTotals } from "../../analytics/totals.ts";
import type { LimitEventRow, SessionSummary, WindowWithSessions } from "../../analytics/user.ts";
import { summarizeWindows } from "../../analytics/windows.ts";
import type { DeviceKeyRow } from "../../keys/service.ts";
import type { RefreshTokenRow } from "../../tokens/service.ts";
import { type Html, html } from "../html.ts";
import { devicesTable } from "./devices.ts";
import { countOf, formatInteger, timeCell, timeSortKey } from "./format.ts";
import { page, type View } from "./layout.ts";
import { type PageChoice, pager } from "./paging.ts";
import { card, dataTable, numberCell, section, tierBadge } from "./parts.ts";
import { rangeTools } from "./range-tools.ts";
import { LIMIT_LABELS } from "./seat-pressure.ts";
import { tokensTable } from "./tokens.ts";
import { costNote, dailyCharts, modelChart, modelTable, usageCards } from "./usage-parts.ts";

export interface UserPageData {
  email: string;
  range: DayRange;
  /** A correction said at the top (a bad range or date), or null. */
  problem: string | null;
  totals: TokenTotals & { sessions: number; turns: number; cost: Cost };
  daily: (TokenTotals & { day: string })[];
  models: (TokenTotals & { model: string; turns: number; cost: Cost })[];
  lastActive: string | null;
  estimate: WindowFigures | null;
  windows: WindowWithSessions[];
  sessions: SessionSummary[];
  sessionLimit: number;
  limitEvents: LimitEventRow[];
  limitEventsPage: PageChoice;
  devices: DeviceKeyRow[];
  devicesPage: PageChoice;
  activeDevices: number;
  tokens: RefreshTokenRow[];
  colourSlots: Map<string, number>;
  pricesTakenOn: string;
}

function windowsTable(windows: readonly WindowWithSessions[], label: string): Html {
  const instant = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");
  return dataTable({
    name: "windows",
    item: "window",
    columns: [
      { key: "start", label: "Start", byValue: true },
      { key: "end", label: "End", byValue: true },
      { key: "state", label: "State" },
      {
        key: "basis",
        label: "Start",
        hint: "Confirmed: anchored on a limit's reset time (reset − 5 h). Inferred: the first turn's whole hour.",
      },
      { key: "billed", label: "Billed tokens", numeric: true, hint: "Input + output" },
      { key: "total", label: "All tokens", numeric: true, hint: "Including cache reads and writes" },
      { key: "turns", label: "Turns", numeric: true },
      { key: "sessions", label: "Sessions", numeric: true },
      { key: "limit", label: "Limit hit" },
    ],
    rows: windows.map(
      (w) =>
        html`<tr${w.hasLimitEvent ? html` class="limit"` : ""}><td data-value="${w.start}">${timeCell(
          instant(w.start),
          "",
          true,
        )}</td><td data-value="${w.end}">${timeCell(instant(w.end), "", true)}</td><td>${
          w.open ? html`<span class="status active">open</span>` : "closed"
        }</td><td>${
          w.anchored
            ? html`<span class="badge confirmed">confirmed</span>`
            : html`<span class="badge inferred">inferred</span>`
        }</td>${numberCell(w.billedTokens)}${numberCell(w.totalTokens)}${numberCell(w.turns)}${numberCell(
          w.sessions,
        )}<td>${w.hasLimitEvent ? html`<strong>limit hit</strong>` : ""}</td></tr>`,
    ),
    empty: `No 5-hour windows start in ${label}.`,
  });
}

function sessionsTable(sessions: readonly SessionSummary[]): Html {
  return dataTable({
    name: "sessions",
    item: "session",
    columns: [
      { key: "session", label: "Session" },
      { key: "first", label: "First turn", byValue: true },
      { key: "last", label: "Last turn", byValue: true },
      { key: "turns", label: "Turns", numeric: true },
      { key: "input", label: "Input", numeric: true },
      { key: "output", label: "Output", numeric: true },
      { key: "cache-reads", label: "Cache reads", numeric: true },
      { key: "cache-writes", label: "Cache writes", numeric: true },
      { key: "devices", label: "Devices" },
    ],
    rows: sessions.map(
      (s) =>
        html`<tr><td class="mono">${s.sessionId}</td><td data-value="${timeSortKey(s.firstAt)}">${timeCell(
          s.firstAt,
        )}</td><td data-value="${timeSortKey(s.lastAt)}">${timeCell(s.lastAt)}</td>${numberCell(s.turns)}${numberCell(
          s.input,
        )}${numberCell(s.output)}${numberCell(s.cacheRead)}${numberCell(s.cacheWrite)}<td>${
          s.devices ?? html`<span class="muted">unsigned</span>`
        }</td></tr>`,
    ),
    empty: "No sessions in this range.",
  });
}

function limitName(stored: string | null): Html | string {
  if (stored === null) return html`<span class="muted">type not reported</span>`;
  const type = limitTypeOf(stored);
  return type === "other" ? stored : LIMIT_LABELS[type];
}

function limitEventsTable(events: readonly LimitEventRow[]): Html {
  return dataTable({
    name: "limits",
    item: "limit event",
    filter: false,
    columns: [
      { key: "at", label: "When", byValue: true },
      { key: "type", label: "Limit" },
      { key: "resets", label: "Resets", byValue: true },
      { key: "device", label: "Device" },
      { key: "session", label: "Session" },
    ],
    rows: events.map(
      (e) =>
        html`<tr><td data-value="${timeSortKey(e.eventAt)}">${timeCell(e.eventAt)}</td><td>${limitName(e.limitType)}</td><td data-value="${timeSortKey(
          e.resetsAt,
        )}">${timeCell(e.resetsAt, "not given")}</td><td>${e.deviceId || html`<span class="muted">unsigned</span>`}</td><td class="mono">${e.sessionId}</td></tr>`,
    ),
    empty: "Claude Code has reported no usage limit for this user.",
  });
}

export function userPage(view: View, data: UserPageData): Html {
  const label = dayRangeLabel(data.range);
  const summary = summarizeWindows(data.windows);
  const estimate = data.estimate;
  const windowCards = html`<div class="cards">${card("Windows", summary.windowCount)}${card(
    "Peak window",
    summary.peakBilledTokens,
    "billed tokens",
  )}${card("Average window", Math.round(summary.averageBilledTokens), "billed tokens")}${card(
    "Peak 7 days",
    estimate?.peakWeekBilledTokens ?? 0,
    "billed tokens over any 7 days in a row",
  )}${card(
    "Windows with a limit hit",
    data.windows.filter((w) => w.hasLimitEvent).length,
  )}<div class="card"><div class="card-label">Tier estimate</div><div class="card-value">${tierBadge(
    estimate,
  )}</div><div class="card-detail">${
    estimate?.p75BilledTokens != null
      ? `p75 window ${formatInteger(estimate.p75BilledTokens)} billed tokens`
      : "needs 3 closed windows"
  }</div></div></div>`;
  const body = html`${data.problem ? html`<p class="notice warn" role="status">${data.problem}</p>` : ""}<p class="lede">Last active ${timeCell(data.lastActive)}</p>${usageCards(data.totals)}${section(
    "daily",
    "Daily tokens",
    dailyCharts(data.email, data.range, data.daily, view.now),
  )}<div class="two-up">${section(
    "by-model",
    "Tokens by model",
    modelChart(
      `${data.email}: tokens by model, ${label}`,
      data.models,
      data.colourSlots,
      `No reports in ${label}.`,
    ),
  )}${section(
    "models",
    "Models",
    modelTable("models", data.models, data.colourSlots, `No reports in ${label}.`),
    costNote(data.pricesTakenOn),
  )}</div>${section(
    "windows",
    "5-hour windows",
    html`${windowCards}${windowsTable(data.windows, label)}`,
    "Windows that start in the range, newest first; an open window has not ended yet and its totals are so far. Rows marked “limit hit” hold a limit event.",
  )}${section(
    "limit-events",
    "Limit events",
    html`${limitEventsTable(data.limitEvents)}${pager(view, "limits_page", data.limitEventsPage, "limit events")}`,
    "All time, newest first.",
  )}${section(
    "sessions",
    "Sessions",
    sessionsTable(data.sessions),
    `The ${countOf(data.sessionLimit, "most recent session")} in ${label} at most.`,
  )}${section(
    "devices",
    "Device keys",
    html`${devicesTable(view, data.devices, new Map([[data.email, data.activeDevices]]))}${pager(
      view,
      "devices_page",
      data.devicesPage,
      "device keys",
    )}`,
  )}${section("tokens", "Refresh tokens", tokensTable(view, data.tokens))}`;
  return page(view, { title: data.email, section: null, body, tools: rangeTools(view, data.range) });
}
