// A fake Claude Code home for reporter tests: config folder, project folder, transcripts, hook runs.

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Report } from "../../src/protocol/index.ts";
import { statePaths } from "../../src/reporter/files.ts";
import { runHook } from "../../src/reporter/hook.ts";
import { listOutbox, type OutboxEntry, readOutboxEntry } from "../../src/reporter/outbox.ts";
import { expectedTotals, type ModelCounts, tempDir } from "./helpers.ts";

export interface FakeHome {
  dir: string;
  configDir: string;
  projectDir: string;
  env: Record<string, string>;
  transcript(sessionId: string): string;
  append(path: string, text: string | Uint8Array): void;
  hookInput(sessionId: string, event?: string, extra?: Record<string, unknown>): string;
  /** Runs the hook in this process (the sender is not started). */
  hook(sessionId: string, event?: string, extra?: Record<string, unknown>): void;
  /** Runs hooks (of `sessionId`) until nothing is kept in the spool for later: what a budget cut short is read. */
  settle(sessionId: string): void;
  outbox(): OutboxEntry[];
  reports(): Report[];
  remove(): void;
}

export function fakeHome(env: Record<string, string> = {}): FakeHome {
  const { dir, remove } = tempDir("ccflux-home-");
  const configDir = join(dir, ".claude");
  const projectDir = join(configDir, "projects", "-work-secret-project");
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(
    join(configDir, ".claude.json"),
    JSON.stringify({ oauthAccount: { emailAddress: "dev@example.org" } }),
  );
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    CLAUDE_CONFIG_DIR: configDir,
    CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "https://ccflux.example.org/report",
    CLAUDE_PLUGIN_OPTION_API_TOKEN: "rtok_test",
    CCFLUX_SENDER: "none",
    ...env,
  };
  const home: FakeHome = {
    dir,
    configDir,
    projectDir,
    env: fullEnv,
    transcript: (sessionId) => join(projectDir, `${sessionId}.jsonl`),
    append(path, text) {
      mkdirSync(dirname(path), { recursive: true });
      appendFileSync(path, text);
    },
    hookInput: (sessionId, event = "Stop", extra = {}) =>
      JSON.stringify({
        session_id: sessionId,
        transcript_path: home.transcript(sessionId),
        cwd: "/work/secret-project",
        hook_event_name: event,
        ...extra,
      }),
    hook(sessionId, event = "Stop", extra = {}) {
      runHook(event, home.hookInput(sessionId, event, extra), fullEnv);
    },
    settle(sessionId) {
      const spool = statePaths(fullEnv).spool;
      for (let i = 0; i < 50 && existsSync(spool) && readdirSync(spool).length > 0; i++) home.hook(sessionId);
    },
    outbox() {
      const outbox = statePaths(fullEnv).outbox;
      return listOutbox(outbox).flatMap((name) => readOutboxEntry(outbox, name) ?? []);
    },
    reports: () =>
      home.outbox().flatMap((entry) => (entry.kind === "report" ? [JSON.parse(entry.body)] : [])),
    remove,
  };
  return home;
}

/** Everything the reporter keeps, concatenated, for checks that nothing private leaked into it. */
export function stateText(configDir: string): string {
  const dir = join(configDir, "ccflux");
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(join(entry.parentPath, entry.name), "utf8"))
    .join("\n");
}

/** Adds the numeric fields of `counts` to the model's running totals. */
export function addCounts(into: ModelCounts, model: string, counts: object): void {
  into[model] ??= {};
  const target = into[model];
  for (const [field, value] of Object.entries(counts)) {
    if (typeof value === "number") target[field] = (target[field] ?? 0) + value;
  }
}

/** Per-model sums over reports, and of their sub-agent parts. */
export function sumReports(reports: Report[]): { totals: ModelCounts; subagent: ModelCounts } {
  const totals: ModelCounts = {};
  const subagent: ModelCounts = {};
  for (const report of reports) {
    for (const [model, usage] of Object.entries(report.models)) {
      const { subagent: part, ...counts } = usage;
      addCounts(totals, model, counts);
      if (part) addCounts(subagent, model, part);
    }
  }
  return { totals, subagent };
}

/** The spotter session: its main transcript and its two sub-agent files (one of them compaction). */
export const SESSION_FILES = {
  main: "spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl",
  subagents: [
    "spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04/subagents/agent-aac57f5.jsonl",
    "spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04/subagents/agent-acompact-946d2b.jsonl",
  ],
};

/** The session's expected totals: main file plus sub-agent files, and the sub-agent part alone. */
export function expectedSession(): { totals: ModelCounts; subagent: ModelCounts } {
  const expected = expectedTotals();
  const merge = (files: string[]) => {
    const into: ModelCounts = {};
    for (const file of files) {
      for (const [model, counts] of Object.entries(expected[file] ?? {})) addCounts(into, model, counts);
    }
    return into;
  };
  return {
    totals: merge([SESSION_FILES.main, ...SESSION_FILES.subagents]),
    subagent: merge(SESSION_FILES.subagents),
  };
}

const FOUR = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"] as const;
/** Only the four counts every protocol version has. */
export function countsOf(totals: ModelCounts): ModelCounts {
  return Object.fromEntries(
    Object.entries(totals).map(([model, counts]) => [
      model,
      Object.fromEntries(FOUR.map((f) => [f, counts[f] ?? 0])),
    ]),
  );
}
