// Shared pieces of the reporter tests: the shared transcripts, temp folders, hand-made transcript lines.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** ../shared/fixtures/transcripts beside the repository; never copied into it. */
export const FIXTURES = join(import.meta.dir, "..", "..", "..", "shared", "fixtures", "transcripts");
export const HAVE_FIXTURES = existsSync(join(FIXTURES, "expected-totals.json"));
export const FIXTURES_MISSING = `skipped: the shared transcripts are not at ${FIXTURES}`;

/** Per model, per field: token counts. */
export type ModelCounts = Record<string, Record<string, number>>;

/** Per shared transcript file: its expected counts. */
export type Expected = Record<string, ModelCounts>;

export function expectedTotals(): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, "expected-totals.json"), "utf8"));
}

export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** The `ccflux` command from source, as a person runs it: exit code and what it printed. */
export function ccflux(env: Record<string, string>, args: string[], stdin = "") {
  const result = Bun.spawnSync([process.execPath, join(REPO_ROOT, "src/reporter/main.ts"), ...args], {
    env,
    stdin: Buffer.from(stdin),
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix = "ccflux-reporter-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LineOptions {
  id: string;
  requestId?: string;
  model?: string;
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  /** [5m, 1h] split of cacheWrite; omitted when absent, as in old transcripts. */
  split?: [number, number];
  sidechain?: boolean;
  sessionId?: string;
  timestamp?: string;
  version?: string;
  /** usage.iterations, as newer Claude Code writes it (advisor calls among them). */
  iterations?: unknown[];
}

/** One assistant line as Claude Code writes it, with usage. */
export function assistant(o: LineOptions): string {
  const usage: Record<string, unknown> = {
    input_tokens: o.input ?? 10,
    output_tokens: o.output ?? 5,
    cache_read_input_tokens: o.cacheRead ?? 100,
    cache_creation_input_tokens: o.cacheWrite ?? 20,
  };
  if (o.split)
    usage.cache_creation = { ephemeral_5m_input_tokens: o.split[0], ephemeral_1h_input_tokens: o.split[1] };
  if (o.iterations) usage.iterations = o.iterations;
  return JSON.stringify({
    type: "assistant",
    isSidechain: o.sidechain ?? false,
    sessionId: o.sessionId ?? "s-main",
    version: o.version ?? "2.1.39",
    timestamp: o.timestamp ?? "2026-05-11T03:00:00.000Z",
    requestId: o.requestId ?? `req_${o.id}`,
    uuid: crypto.randomUUID(),
    message: {
      id: o.id,
      model: o.model ?? "claude-opus-4-6",
      role: "assistant",
      content: [{ type: "text", text: "some secret code" }],
      usage,
    },
  });
}

export function userLine(text = "a prompt"): string {
  return JSON.stringify({ type: "user", sessionId: "s-main", message: { role: "user", content: text } });
}

/** A progress line that embeds a sub-agent's assistant message with usage: a copy, never counted. */
export function progressCopy(inner: string): string {
  return JSON.stringify({ type: "progress", data: { message: JSON.parse(inner) } });
}

export function jsonl(...lines: string[]): string {
  return lines.map((line) => `${line}\n`).join("");
}

export interface ApiErrorOptions {
  uuid?: string;
  timestamp?: string;
  sessionId?: string;
  sidechain?: boolean;
  text?: string;
  /** Top-level fields of the line besides the common ones (error, apiError, apiErrorParams…). */
  fields: Record<string, unknown>;
}

/** A synthetic assistant line as Claude Code 2.1 writes for an API error (model `<synthetic>`, zero usage). */
export function apiErrorLine(o: ApiErrorOptions): string {
  const uuid = o.uuid ?? crypto.randomUUID();
  return JSON.stringify({
    parentUuid: crypto.randomUUID(),
    isSidechain: o.sidechain ?? false,
    type: "assistant",
    uuid,
    timestamp: o.timestamp ?? "2026-05-11T03:00:00.000Z",
    sessionId: o.sessionId ?? "s-main",
    version: "2.1.328",
    message: {
      id: crypto.randomUUID(),
      container: null,
      model: "<synthetic>",
      role: "assistant",
      stop_reason: "stop_sequence",
      stop_sequence: "",
      type: "message",
      usage: {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
        service_tier: null,
        cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
      },
      content: [{ type: "text", text: o.text ?? "API Error" }],
    },
    isApiErrorMessage: true,
    ...o.fields,
  });
}

export interface UsageLimitOptions extends Omit<ApiErrorOptions, "fields"> {
  limitType?: string;
  /** Unix seconds. */
  resetsAt?: number;
  overageStatus?: string;
  /** Extra members of rate_limit_info. */
  info?: Record<string, unknown>;
}

/** The line Claude Code writes when a subscriber's usage limit refuses a turn. */
export function usageLimitLine(o: UsageLimitOptions = {}): string {
  return apiErrorLine({
    text: "You've hit your 5-hour limit · resets 8am (UTC)",
    ...o,
    fields: {
      apiErrorStatus: 429,
      error: "rate_limit",
      apiError: "usage_limit_reached",
      apiErrorParams: {
        rate_limit_info: {
          status: "rejected",
          rateLimitType: o.limitType ?? "five_hour",
          resetsAt: o.resetsAt ?? 1_778_486_400,
          overageStatus: o.overageStatus ?? "rejected",
          overageDisabledReason: "org_level_disabled_until",
          ...o.info,
        },
      },
    },
  });
}

/** A server 429 that is not the seat's limit: no rate_limit_info, marked transient. */
export function transientLimitLine(o: Omit<ApiErrorOptions, "fields"> = {}): string {
  return apiErrorLine({
    text: "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited",
    ...o,
    fields: { apiErrorStatus: 429, error: "rate_limit", apiErrorIsTransient: true },
  });
}

/** An advisor call inside a response's usage.iterations: its own model and tokens. */
export function advisorIteration(
  model: string,
  input: number,
  output: number,
  cacheRead = 0,
  cacheWrite = 0,
) {
  return {
    type: "advisor_message",
    model,
    input_tokens: input,
    output_tokens: output,
    cache_read_input_tokens: cacheRead,
    cache_creation_input_tokens: cacheWrite,
  };
}
