// `bun run bench:reporter`: the Stop hook's cost on a 5 MB and a 50 MB transcript with one new turn
// appended, measured on the compiled reporter as Claude Code runs it (a new process per hook,
// detached sender included). Target: under 50 ms, and not growing with the transcript's size.

import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../support/receiver.ts";

const REPORTER = join(import.meta.dir, "..", "..", "dist", "ccflux-linux-x86_64");
const RUNS = 7;
const TARGET_MS = 50;

let messageNumber = 0;

/** One turn as Claude Code writes it: a prompt, a response over three lines, progress noise. */
function turn(sessionId: string, padding: number): string {
  const id = `msg_${(messageNumber++).toString(36).padStart(8, "0")}`;
  const common = {
    sessionId,
    version: "2.1.39",
    cwd: "/home/dev/project",
    timestamp: new Date().toISOString(),
  };
  const usage = {
    input_tokens: 3,
    output_tokens: 420,
    cache_read_input_tokens: 51_234,
    cache_creation_input_tokens: 812,
    cache_creation: { ephemeral_5m_input_tokens: 812, ephemeral_1h_input_tokens: 0 },
  };
  const lines = [
    { ...common, type: "user", message: { role: "user", content: "x".repeat(padding / 10) } },
    ...["thinking", "text", "tool_use"].map((kind) => ({
      ...common,
      type: "assistant",
      requestId: `req_${id}`,
      message: {
        id,
        model: "claude-opus-4-6",
        role: "assistant",
        content: [{ type: kind, text: "y".repeat(padding / 2) }],
        usage,
      },
    })),
    { ...common, type: "progress", data: { message: { type: "assistant", message: { usage } } } },
    {
      ...common,
      type: "user",
      toolUseResult: { stdout: "z".repeat(padding) },
      message: { role: "user", content: [] },
    },
  ];
  return lines.map((line) => `${JSON.stringify(line)}\n`).join("");
}

function hook(env: Record<string, string>, input: string): { wallMs: number; cpuMs: number } {
  const started = performance.now();
  const result = Bun.spawnSync([REPORTER, "hook", "stop"], { env, stdin: Buffer.from(input) });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0 || result.stdout.length > 0 || result.stderr.length > 0) {
    throw new Error(`the hook must exit 0 silently; it exited ${result.exitCode}: ${result.stderr}`);
  }
  const cpu = result.resourceUsage.cpuTime;
  return { wallMs, cpuMs: Number(cpu.user + cpu.system) / 1000 };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/** `padding` sets how long a turn's lines are: short turns mean more responses for the same size. */
function bench(megabytes: number, padding: number, label: string): { wallMs: number; cpuMs: number } {
  const home = mkdtempSync(join(tmpdir(), "ccflux-bench-"));
  try {
    const configDir = join(home, ".claude");
    const projectDir = join(configDir, "projects", "-home-dev-project");
    mkdirSync(projectDir, { recursive: true });
    const sessionId = `bench-${megabytes}mb-${padding}`;
    const transcript = join(projectDir, `${sessionId}.jsonl`);
    const chunk: string[] = [];
    let size = 0;
    while (size < megabytes * 1024 * 1024) {
      const text = turn(sessionId, padding);
      chunk.push(text);
      size += text.length;
    }
    writeFileSync(transcript, chunk.join(""));
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      CLAUDE_CONFIG_DIR: configDir,
      // An endpoint that refuses at once, so each detached sender gives up quickly.
      CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "http://127.0.0.1:9/report",
      CLAUDE_PLUGIN_OPTION_API_TOKEN: "rtok_bench",
      CCFLUX_ALLOW_HTTP: "1",
      CCFLUX_BACKOFF_MS: "1",
    };
    const input = JSON.stringify({
      session_id: sessionId,
      transcript_path: transcript,
      hook_event_name: "Stop",
    });
    // The first Stop reads the whole history; what is measured is every Stop after it.
    const first = hook(env, input);
    const runs: { wallMs: number; cpuMs: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      appendFileSync(transcript, turn(sessionId, padding));
      runs.push(hook(env, input));
    }
    const result = { wallMs: median(runs.map((r) => r.wallMs)), cpuMs: median(runs.map((r) => r.cpuMs)) };
    console.log(
      `${String(megabytes).padStart(3)} MB transcript, ${label.padEnd(38)}: Stop with one new turn  wall ${result.wallMs.toFixed(1)} ms  cpu ${result.cpuMs.toFixed(1)} ms  (median of ${RUNS}; the first Stop, reading all of it: wall ${first.wallMs.toFixed(0)} ms)`,
    );
    return result;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

ensureBinary();
const small = bench(5, 2500, "about 500 responses");
const large = bench(50, 2500, "about 5,000 responses");
// The ledger of counted responses is the one thing a hook loads that grows; it stops at 10,000 (LEDGER_LIMIT).
const full = bench(50, 200, "over 20,000 responses (ledger full)");
const verdict =
  [small, large, full].every((r) => r.wallMs < TARGET_MS) && large.wallMs < small.wallMs * 1.5 + 5
    ? "met"
    : "NOT met";
console.log(`target (< ${TARGET_MS} ms, not growing with size): ${verdict}`);
