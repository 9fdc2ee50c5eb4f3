// A stand-in for the Anthropic Messages API and for the release server, run as its own process so it
// can live in the same network namespace as Claude Code (see claude-code.test.ts). What it answers is
// decided by markers in the conversation's last user message, so the test drives it through prompts:
//   [usage-limit]    a 429 with the anthropic-ratelimit-unified-* headers of a rejected 5-hour limit
//   [transient-429]  a 429 without them (the server is busy, not the user's limit)
//   [subagent]       the main conversation calls the Agent tool once; the sub-agent then answers
//   anything else    a short text answer
// Every answer's usage is fixed per kind of answer and model (usage() below) and every request and
// answer is appended to MOCK_LOG as one JSON line, so the test knows exactly what Claude Code was told.
//
// GET /releases/<path> serves files from RELEASE_DIR (the launcher's CCFLUX_RELEASE_BASE).

import { appendFileSync, existsSync, statSync } from "node:fs";
import { join, normalize } from "node:path";

const LOG = process.env.MOCK_LOG ?? "/dev/null";
const RELEASE_DIR = process.env.RELEASE_DIR ?? "";
/** When the mocked 5-hour limit resets (unix seconds). */
export const LIMIT_RESET = Number(process.env.MOCK_LIMIT_RESET ?? Math.floor(Date.now() / 1000) + 3 * 3600);

export type AnswerKind = "text" | "agent-call" | "after-agent" | "subagent" | "side";

export interface MockUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/** Distinct figures per kind and model, so any answer counted twice or missed shows in the totals. */
export function usage(kind: AnswerKind, model: string, serial: number): MockUsage {
  const base = { text: 100, "agent-call": 200, "after-agent": 300, subagent: 400, side: 500 }[kind];
  const m = model.includes("sonnet") ? 7 : model.includes("haiku") ? 13 : 3;
  const fiveMinute = base + m * 2;
  const oneHour = kind === "subagent" ? 0 : base * 2 + serial;
  return {
    input_tokens: base / 100 + m,
    output_tokens: base + m * 11 + serial,
    cache_read_input_tokens: base * 50 + m,
    cache_creation_input_tokens: fiveMinute + oneHour,
    cache_creation: { ephemeral_5m_input_tokens: fiveMinute, ephemeral_1h_input_tokens: oneHour },
  };
}

export interface LoggedAnswer {
  at: number;
  path: string;
  status: number;
  kind: AnswerKind | "usage-limit" | "transient-429" | "not-found";
  model: string;
  /** "oauth" (a bearer token, as a subscriber signs in) or "api-key". */
  auth: string;
  messageId?: string;
  requestId?: string;
  usage?: MockUsage;
}

type Block = { type?: string; text?: string; content?: unknown };
type Message = { role?: string; content?: string | Block[] };

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block: Block) => (block.type === "text" ? (block.text ?? "") : "")).join("\n");
}

/** What to answer: by the last user message, and whether the conversation is the main one. */
function decide(body: {
  messages?: Message[];
  tools?: { name?: string }[];
}): AnswerKind | "usage-limit" | "transient-429" {
  const messages = body.messages ?? [];
  const last = messages[messages.length - 1];
  const lastText = textOf(last?.content);
  const first = textOf(messages[0]?.content);
  if (!Array.isArray(body.tools) || body.tools.length === 0) return "side";
  if (lastText.includes("[usage-limit]")) return "usage-limit";
  if (lastText.includes("[transient-429]")) return "transient-429";
  const toolResult =
    Array.isArray(last?.content) && last.content.some((block) => block.type === "tool_result");
  if (first.includes("SUBAGENT-TASK") || lastText.includes("SUBAGENT-TASK")) return "subagent";
  if (toolResult) return "after-agent";
  if (lastText.includes("[subagent]")) return "agent-call";
  return "text";
}

let serial = 0;

function sse(events: [string, unknown][]): string {
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
}

function streamAnswer(kind: AnswerKind, model: string): LoggedAnswer {
  serial++;
  const messageId = `msg_mock_${String(serial).padStart(4, "0")}`;
  const requestId = `req_mock_${String(serial).padStart(4, "0")}`;
  return {
    at: Date.now(),
    path: "/v1/messages",
    status: 200,
    kind,
    model,
    auth: "",
    messageId,
    requestId,
    usage: usage(kind, model, serial),
  };
}

function body(answer: LoggedAnswer, agentTool: string): string {
  const u = answer.usage as MockUsage;
  const blocks: [string, unknown][] = [];
  if (answer.kind === "agent-call") {
    const input = JSON.stringify({
      description: "Count files",
      prompt: "SUBAGENT-TASK: say done.",
      subagent_type: "general-purpose",
    });
    blocks.push(
      [
        "content_block_start",
        {
          type: "content_block_start",
          index: 0,
          content_block: { type: "tool_use", id: `toolu_${answer.messageId}`, name: agentTool, input: {} },
        },
      ],
      [
        "content_block_delta",
        { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: input } },
      ],
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
    );
  } else {
    blocks.push(
      [
        "content_block_start",
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      ],
      [
        "content_block_delta",
        {
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: `done (${answer.kind})` },
        },
      ],
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
    );
  }
  return sse([
    [
      "message_start",
      {
        type: "message_start",
        message: {
          id: answer.messageId,
          type: "message",
          role: "assistant",
          model: answer.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...u, output_tokens: 1 },
        },
      },
    ],
    ...blocks,
    [
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: answer.kind === "agent-call" ? "tool_use" : "end_turn", stop_sequence: null },
        usage: { output_tokens: u.output_tokens },
      },
    ],
    ["message_stop", { type: "message_stop" }],
  ]);
}

function log(entry: LoggedAnswer): void {
  appendFileSync(LOG, `${JSON.stringify(entry)}\n`);
}

function release(path: string): Response {
  const relative = normalize(path.slice("/releases/".length));
  const file = join(RELEASE_DIR, relative);
  if (!RELEASE_DIR || relative.startsWith("..") || !existsSync(file) || !statSync(file).isFile()) {
    return new Response("no such asset", { status: 404 });
  }
  return new Response(Bun.file(file));
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname.startsWith("/releases/")) return release(url.pathname);
    const auth = request.headers.get("authorization")?.startsWith("Bearer ") ? "oauth" : "api-key";
    if (request.method !== "POST" || url.pathname !== "/v1/messages") {
      log({ at: Date.now(), path: url.pathname, status: 404, kind: "not-found", model: "", auth });
      return Response.json(
        { type: "error", error: { type: "not_found_error", message: "not here" } },
        { status: 404 },
      );
    }
    const json = (await request.json()) as {
      model?: string;
      stream?: boolean;
      messages?: Message[];
      tools?: { name?: string }[];
    };
    const model = json.model ?? "";
    const kind = decide(json);
    if (kind === "usage-limit" || kind === "transient-429") {
      log({ at: Date.now(), path: url.pathname, status: 429, kind, model, auth });
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "request-id": "req_mock_429",
      };
      if (kind === "usage-limit") {
        Object.assign(headers, {
          "anthropic-ratelimit-unified-status": "rejected",
          "anthropic-ratelimit-unified-reset": String(LIMIT_RESET),
          "anthropic-ratelimit-unified-representative-claim": "five_hour",
          "anthropic-ratelimit-unified-5h-status": "rejected",
          "anthropic-ratelimit-unified-5h-reset": String(LIMIT_RESET),
          "anthropic-ratelimit-unified-5h-utilization": "1.0",
          "anthropic-ratelimit-unified-overage-status": "rejected",
          "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
        });
      }
      return new Response(
        JSON.stringify({
          type: "error",
          error: { type: "rate_limit_error", message: "Rate limit exceeded" },
        }),
        { status: 429, headers },
      );
    }
    const answer = { ...streamAnswer(kind, model), auth };
    log(answer);
    const agentTool = (json.tools ?? []).find((tool) => tool.name === "Agent" || tool.name === "Task")?.name;
    const text = body(answer, agentTool ?? "Agent");
    if (json.stream === false) {
      const u = answer.usage as MockUsage;
      return Response.json(
        {
          id: answer.messageId,
          type: "message",
          role: "assistant",
          model,
          content: [{ type: "text", text: `done (${kind})` }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage: u,
        },
        { headers: { "request-id": answer.requestId ?? "" } },
      );
    }
    return new Response(text, {
      headers: { "content-type": "text/event-stream", "request-id": answer.requestId ?? "" },
    });
  },
});

console.log(`listening ${server.port}`);
