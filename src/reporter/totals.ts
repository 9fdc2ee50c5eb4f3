// A turn's new usage per model, and the /report bodies it becomes (PROTOCOL §3, §4). No I/O.

import {
  MAX_MODEL_NAME,
  MAX_MODELS,
  type ModelUsage,
  parseRfc3339,
  type Report,
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

export class TurnTotals {
  readonly models = new Map<string, ModelTotals>();
  /** Instants of the earliest and latest API call counted, in milliseconds. */
  firstCall: number | null = null;
  lastCall: number | null = null;
  claudeCodeVersion = "";

  get isEmpty(): boolean {
    return this.models.size === 0;
  }

  add(response: ResponseUsage, { delta, isNew }: Contribution): void {
    // Report limits: a longer model name is cut rather than losing its tokens.
    const name = response.model.slice(0, MAX_MODEL_NAME);
    let model = this.models.get(name);
    if (!model) {
      model = { usage: emptyUsage(), subagent: null, requests: 0, hasCacheSplit: false };
      this.models.set(name, model);
    }
    addUsage(model.usage, delta);
    if (isNew) model.requests++;
    model.hasCacheSplit ||= response.hasCacheSplit;
    if (response.subagent) {
      model.subagent ??= { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
      model.subagent.input_tokens += delta.input_tokens;
      model.subagent.output_tokens += delta.output_tokens;
      model.subagent.cache_read_tokens += delta.cache_read_tokens;
      model.subagent.cache_write_tokens += delta.cache_write_tokens;
    }
    const at = parseRfc3339(response.timestamp);
    if (at !== null && (this.firstCall === null || at < this.firstCall)) this.firstCall = at;
    // The version that made the turn's latest call is the one the session runs now.
    if (at !== null && (this.lastCall === null || at >= this.lastCall)) {
      this.lastCall = at;
      this.claudeCodeVersion = response.claudeCodeVersion || this.claudeCodeVersion;
    }
  }

  /** One report, or several with consecutive turn indexes when more models than a report may hold. */
  toReports(context: ReportContext): Report[] {
    const entries = [...this.models].map(([name, totals]) => [name, modelUsage(totals)] as const);
    const reports: Report[] = [];
    for (let i = 0; i < entries.length; i += MAX_MODELS) {
      const report: Report = {
        schema_version: 2,
        session_id: context.sessionId,
        user_email: context.userEmail,
        turn_index: context.firstTurnIndex + reports.length,
        timestamp_utc: this.lastCall === null ? "" : toRfc3339(this.lastCall),
        models: Object.fromEntries(entries.slice(i, i + MAX_MODELS)),
        plugin_version: context.pluginVersion,
      };
      if (context.sessionStart) report.session_start_utc = context.sessionStart;
      if (this.claudeCodeVersion) report.claude_code_version = this.claudeCodeVersion;
      reports.push(report);
    }
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
