// A turn's new usage per model, and the /report bodies it becomes (docs/protocol.md §3, §4). No I/O.

import {
  MAX_HOURS,
  MAX_MODEL_NAME,
  MAX_MODELS,
  type ModelUsage,
  parseRfc3339,
  type Report,
  TOKEN_FIELDS,
  type TokenCounts,
  toRfc3339,
} from "../protocol/index.ts";
import type { Contribution } from "./ledger.ts";
import { addUsage, emptyUsage, type ResponseUsage, type Usage } from "./transcript.ts";

interface ModelTotals {
  usage: Usage;
  subagent: TokenCounts | null;
  requests: number;
  hasCacheSplit: boolean;
}

export interface ReportContext {
  sessionId: string;
  firstTurnIndex: number;
  sessionStart: string;
  userEmail: string;
  pluginVersion: string;
}

/** `2026-05-11T03:00:00Z`: the UTC hour a call falls in, as the v2 `hours` split names it. */
function hourOf(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 13)}:00:00Z`;
}

/** Calls with no readable time are placed in the turn's last hour, as a whole turn was before. */
const UNTIMED = "";

function emptyModel(): ModelTotals {
  return { usage: emptyUsage(), subagent: null, requests: 0, hasCacheSplit: false };
}

function addModel(into: ModelTotals, more: ModelTotals): void {
  addUsage(into.usage, more.usage);
  into.requests += more.requests;
  into.hasCacheSplit ||= more.hasCacheSplit;
  if (more.subagent) {
    into.subagent ??= tokenCounts(emptyUsage());
    for (const field of TOKEN_FIELDS) into.subagent[field] += more.subagent[field];
  }
}

function tokenCounts(usage: Usage): TokenCounts {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_tokens: usage.cache_read_tokens,
    cache_write_tokens: usage.cache_write_tokens,
  };
}

export class TurnTotals {
  /** Per UTC hour of the calls (UNTIMED for calls without a time), per model. */
  private readonly hours = new Map<string, Map<string, ModelTotals>>();
  /** The latest call of each hour, in milliseconds. */
  private readonly lastCallOfHour = new Map<string, number>();
  /** Instants of the earliest and latest API call counted, in milliseconds. */
  firstCall: number | null = null;
  lastCall: number | null = null;
  claudeCodeVersion = "";

  get isEmpty(): boolean {
    return this.hours.size === 0;
  }

  add(response: ResponseUsage, { delta, isNew }: Contribution): void {
    const at = parseRfc3339(response.timestamp);
    const hour = at === null ? UNTIMED : hourOf(at);
    let models = this.hours.get(hour);
    if (!models) {
      models = new Map();
      this.hours.set(hour, models);
    }
    // Report limits: a longer model name is cut rather than losing its tokens.
    const name = response.model.slice(0, MAX_MODEL_NAME);
    let model = models.get(name);
    if (!model) {
      model = emptyModel();
      models.set(name, model);
    }
    addModel(model, {
      usage: delta,
      subagent: response.subagent ? tokenCounts(delta) : null,
      requests: isNew ? 1 : 0,
      hasCacheSplit: response.hasCacheSplit,
    });
    if (at === null) return;
    this.lastCallOfHour.set(hour, Math.max(at, this.lastCallOfHour.get(hour) ?? at));
    if (this.firstCall === null || at < this.firstCall) this.firstCall = at;
    // The version that made the turn's latest call is the one the session runs now.
    if (this.lastCall === null || at >= this.lastCall) {
      this.lastCall = at;
      this.claudeCodeVersion = response.claudeCodeVersion || this.claudeCodeVersion;
    }
  }

  /**
   * One report per MAX_HOURS hours of calls and MAX_MODELS models, with consecutive turn indexes.
   * Each model's `hours` split says how its tokens spread over the hours of its calls; it is left out
   * when they all lie in the hour of the report's own time (the common case, and what a v1 receiver
   * assumes anyway).
   */
  toReports(context: ReportContext): Report[] {
    const timed = [...this.hours.keys()].filter((hour) => hour !== UNTIMED).sort();
    const groups: string[][] = [];
    for (let i = 0; i < timed.length; i += MAX_HOURS) groups.push(timed.slice(i, i + MAX_HOURS));
    if (groups.length === 0) groups.push([]);
    const untimed = this.hours.get(UNTIMED);
    const reports: Report[] = [];
    groups.forEach((group, index) => {
      const last = group[group.length - 1];
      const lastCall = last === undefined ? null : (this.lastCallOfHour.get(last) ?? null);
      const totals = new Map<string, { model: ModelTotals; hours: Record<string, TokenCounts> }>();
      const place = (hour: string, models: Map<string, ModelTotals>) => {
        for (const [name, part] of models) {
          let entry = totals.get(name);
          if (!entry) {
            entry = { model: emptyModel(), hours: {} };
            totals.set(name, entry);
          }
          addModel(entry.model, part);
          if (hour === UNTIMED) continue;
          const counts = entry.hours[hour] ?? tokenCounts(emptyUsage());
          entry.hours[hour] = counts;
          for (const field of TOKEN_FIELDS) counts[field] += part.usage[field];
        }
      };
      for (const hour of group) place(hour, this.hours.get(hour) ?? new Map());
      // Untimed calls go with the last group, in its last hour.
      if (untimed && index === groups.length - 1) place(last ?? UNTIMED, untimed);
      const entries = [...totals].map(([name, { model, hours }]) => {
        const usage = modelUsage(model);
        const spread = Object.keys(hours);
        if (spread.length > 1 || (spread.length === 1 && spread[0] !== last)) usage.hours = hours;
        return [name, usage] as const;
      });
      for (let i = 0; i < entries.length; i += MAX_MODELS) {
        const report: Report = {
          schema_version: 2,
          session_id: context.sessionId,
          user_email: context.userEmail,
          turn_index: context.firstTurnIndex + reports.length,
          timestamp_utc: lastCall === null ? "" : toRfc3339(lastCall),
          models: Object.fromEntries(entries.slice(i, i + MAX_MODELS)),
          plugin_version: context.pluginVersion,
        };
        if (context.sessionStart) report.session_start_utc = context.sessionStart;
        if (this.claudeCodeVersion) report.claude_code_version = this.claudeCodeVersion;
        reports.push(report);
      }
    });
    return reports;
  }
}

function modelUsage({ usage, subagent, requests, hasCacheSplit }: ModelTotals): ModelUsage {
  const model: ModelUsage = {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_tokens: usage.cache_read_tokens,
    cache_write_tokens: usage.cache_write_tokens,
    requests,
  };
  // Old transcripts do not split cache writes by lifetime; an absent split is not a zero split.
  if (hasCacheSplit) {
    model.cache_write_5m_tokens = usage.cache_write_5m_tokens;
    model.cache_write_1h_tokens = usage.cache_write_1h_tokens;
  }
  if (subagent) model.subagent = subagent;
  return model;
}
