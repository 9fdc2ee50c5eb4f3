// The real Claude Code (pinned, from npm) with the plugin installed from this checkout's marketplace,
// against a mock Messages API and the compiled receiver, all on loopback (in a network namespace of
// their own where allowed). Headless turns with --continue and --resume, a sub-agent, two models,
// an interactive session under tmux ending in /exit, usage limits and a transient 429 in both modes,
// and a plugin upgrade between sessions: the receiver must store exactly what the API reported, per
// model and field, and exactly the usage limits that were hit.

import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { sha256 } from "../../release/build.ts";
import { withVersion } from "../../release/set-version.ts";
import { toSqlTime } from "../../src/protocol/time.ts";
import { VERSION } from "../../src/protocol/version.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { CLAUDE_CODE_VERSION, installClaudeCode, loopbackNamespace, type Namespace } from "./claude-code.ts";
import type { LoggedAnswer } from "./mock-api.ts";

const ROOT = join(import.meta.dir, "..", "..");
const REPORTER = join(ROOT, "dist", "ccflux-linux-x86_64");
const ASSET = "ccflux-linux-x86_64";
const TOKEN = "rtok_claude_code_e2e_0123";
const UPGRADED = `${VERSION.replace(/-.*$/, "")}-e2e.1`;
/** The mocked 5-hour limit's reset: the whole hour three hours from now, as a real five-hour limit
 * would give (the receiver keeps only resets within 8 days of the event). */
const LIMIT_RESET = (Math.ceil(Date.now() / 3_600_000) + 3) * 3_600;
const OPUS = "claude-opus-4-6";
const SONNET = "claude-sonnet-4-6";

let dir: string;
let ns: Namespace;
let receiver: TestReceiver;
let mock: Subprocess<"ignore", "pipe", "pipe">;
let mockUrl: string;
let claudeBinary: string;
let home: string;
let project: string;
let marketplace: string;
let tmuxSocket: string;

const mockLog = () => join(dir, "mock.jsonl");
let debugFiles = 0;
/** Each Claude Code run's debug log, where it records every hook it ran and how it ended. */
const debugFile = () => join(dir, "debug", `${++debugFiles}.log`);

/**
 * The plugin's hook runs as Claude Code logged them: event and exit status, and the time it took
 * where Claude Code says (not for SessionEnd and StopFailure).
 */
function hookRuns(): { event: string; status: number; ms: number | null; line: string }[] {
  const runs: { event: string; status: number; ms: number | null; line: string }[] = [];
  const folder = join(dir, "debug");
  for (const name of existsSync(folder) ? readdirSync(folder) : []) {
    const lines = readFileSync(join(folder, name), "utf8").split("\n");
    for (const [i, line] of lines.entries()) {
      const match =
        /(?:Hooks: )?(\w+)(?::\w+)? \[sh "[^"]*ccflux-launcher" hook [a-z-]+\](?: \(plugin ccflux@ccflux\))? (?:finished|completed) with status (\d+)(?: \((\d+)ms\))?/.exec(
          line,
        );
      if (match)
        runs.push({
          event: match[1] ?? "",
          status: Number(match[2]),
          ms: match[3] ? Number(match[3]) : null,
          line: lines.slice(i - 2, i + 3).join("\n"),
        });
    }
  }
  return runs;
}
const pluginData = () => join(home, ".claude", "plugins", "data", "ccflux-ccflux");

async function waitFor(what: string, condition: () => boolean, story = () => "", timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${story() ? `: ${story()}` : ""}`);
    await Bun.sleep(50);
  }
}

/** A release folder as the launcher expects it: v<version>/ with the compressed reporter and SHA256SUMS. */
function publish(releases: string, version: string): void {
  const folder = join(releases, `v${version}`);
  mkdirSync(folder, { recursive: true });
  const binary = readFileSync(REPORTER);
  const compressed = Bun.gzipSync(binary, { level: 1 });
  writeFileSync(join(folder, `${ASSET}.gz`), compressed);
  writeFileSync(
    join(folder, "SHA256SUMS"),
    `${sha256(binary)}  ${ASSET}\n${sha256(compressed)}  ${ASSET}.gz\n`,
  );
}

function environment(auth: "api-key" | "oauth"): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    TERM: "xterm-256color",
    LANG: "C.UTF-8",
    ANTHROPIC_BASE_URL: mockUrl,
    // A subscriber's sign-in is what makes Claude Code write usage limits into the transcript.
    ...(auth === "oauth"
      ? { CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-e2e-dummy" }
      : { ANTHROPIC_API_KEY: "sk-ant-api03-e2e-dummy" }),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL: "1",
    CLAUDE_CODE_MAX_RETRIES: "0",
    CCFLUX_RELEASE_BASE: `${mockUrl}/releases`,
    CCFLUX_ALLOW_HTTP: "1",
  };
}

async function run(command: string[], env: Record<string, string>, cwd = project, timeoutMs = 90_000) {
  const child = Bun.spawn([...ns.prefix, ...command], {
    cwd,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

/** `claude plugin …` and the like; must succeed. */
async function claudeCommand(...args: string[]): Promise<string> {
  const result = await run([claudeBinary, ...args], environment("api-key"), dir);
  if (result.code !== 0)
    throw new Error(`claude ${args.join(" ")} exited ${result.code}:\n${result.stdout}${result.stderr}`);
  return result.stdout + result.stderr;
}

/** One headless turn; returns the session id Claude Code reports. */
async function headless(prompt: string, model: string, auth: "api-key" | "oauth", ...flags: string[]) {
  const result = await run(
    [
      claudeBinary,
      "-p",
      prompt,
      "--model",
      model,
      "--output-format",
      "json",
      "--debug-file",
      debugFile(),
      ...flags,
    ],
    environment(auth),
  );
  const json = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}") as {
    session_id?: string;
    is_error?: boolean;
  };
  if (!json.session_id)
    throw new Error(`claude -p gave no session id (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  return { sessionId: json.session_id, code: result.code, isError: json.is_error === true };
}

function answers(): LoggedAnswer[] {
  if (!existsSync(mockLog())) return [];
  return readFileSync(mockLog(), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LoggedAnswer);
}

const tmux = (...args: string[]) =>
  Bun.spawnSync(["tmux", "-S", tmuxSocket, ...args], { stdout: "pipe", stderr: "pipe" });
const screen = () => tmux("capture-pane", "-p").stdout.toString();

async function type(text: string, expectOnScreen: string | RegExp): Promise<void> {
  tmux("send-keys", "-l", text);
  await Bun.sleep(200);
  tmux("send-keys", "Enter");
  const seen = () =>
    typeof expectOnScreen === "string" ? screen().includes(expectOnScreen) : expectOnScreen.test(screen());
  await waitFor(`"${expectOnScreen}" on screen after "${text}"`, seen, screen);
}

/** The newest session id among the project's transcripts that is not in `known`. */
function newSession(known: string[]): string {
  const projects = join(home, ".claude", "projects");
  for (const folder of readdirSync(projects)) {
    for (const name of readdirSync(join(projects, folder))) {
      const id = name.replace(/\.jsonl$/, "");
      if (name.endsWith(".jsonl") && !known.includes(id)) return id;
    }
  }
  throw new Error("no new session transcript");
}

/** Per model: what the API reported for every answer that belongs to a conversation. */
function expectedTotals(only: (answer: LoggedAnswer) => boolean = () => true) {
  const totals: Record<string, Record<string, number>> = {};
  for (const answer of answers()) {
    const u = answer.usage;
    if (answer.status !== 200 || !u || answer.kind === "side" || !only(answer)) continue;
    const before = totals[answer.model] ?? {};
    const add = (field: string, value: number) => {
      before[field] = (before[field] ?? 0) + value;
    };
    add("input_tokens", u.input_tokens);
    add("output_tokens", u.output_tokens);
    add("cache_read_tokens", u.cache_read_input_tokens);
    add("cache_write_tokens", u.cache_creation_input_tokens);
    add("cache_write_5m_tokens", u.cache_creation.ephemeral_5m_input_tokens);
    add("cache_write_1h_tokens", u.cache_creation.ephemeral_1h_input_tokens);
    add("requests", 1);
    totals[answer.model] = before;
  }
  return totals;
}

function storedTotals(prefix = "") {
  const fields = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    ...(prefix ? [] : ["cache_write_5m_tokens", "cache_write_1h_tokens", "requests"]),
  ];
  const rows = receiver.sql(
    `SELECT model, ${fields.map((f) => `sum(coalesce(${prefix}${f}, 0))`).join(", ")} FROM usage_events GROUP BY model ORDER BY model;`,
  );
  const totals: Record<string, Record<string, number>> = {};
  for (const row of rows.split("\n").filter(Boolean)) {
    const [model = "", ...values] = row.split("|");
    const counts = Object.fromEntries(fields.map((f, i) => [f, Number(values[i])]));
    if (Object.values(counts).some((n) => n > 0)) totals[model] = counts;
  }
  return totals;
}

/**
 * The printed lines, each kept only where it matches the guide's line at the same place once the
 * guide's sample values (times, key, receiver, home folder) are read as patterns.
 */
function matchesShown(printed: string, shown: string, actual: { home: string; receiver: string }): string[] {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const patterns = shown
    .trimEnd()
    .split("\n")
    .map(
      (line) =>
        new RegExp(
          `^${literal(line)
            .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ")
            .replace(literal("q0sV…="), "[A-Za-z0-9+/]{43}=")
            .replace(/\d+ reports acknowledged/, "\\d+ reports acknowledged")
            .replaceAll(literal("https://ccflux.example.org"), literal(actual.receiver))
            .replaceAll(literal("/home/you"), literal(actual.home))}$`,
        ),
    );
  return printed
    .trimEnd()
    .split("\n")
    .map((line, i) =>
      patterns[i]?.test(line) ? line : `${line}   <- the guide shows: ${shown.split("\n")[i]}`,
    );
}

beforeAll(async () => {
  ensureBinary();
  claudeBinary = installClaudeCode();
  dir = mkdtempSync(join(tmpdir(), "ccflux-claude-code-"));
  ns = loopbackNamespace(dir);
  home = join(dir, "home");
  project = join(dir, "project");
  tmuxSocket = join(dir, "tmux.sock");
  mkdirSync(home);
  mkdirSync(project);

  receiver = await startReceiver({
    binary: true,
    wrap: ns.prefix,
    env: { REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "10000" },
  });
  receiver.sql(
    `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('${TOKEN}', 'dev@example.org', 'eng', datetime('now', '+365 days'));`,
  );

  const releases = join(dir, "releases");
  publish(releases, VERSION);
  publish(releases, UPGRADED);
  mock = Bun.spawn([...ns.prefix, process.execPath, join(import.meta.dir, "mock-api.ts")], {
    env: {
      PATH: process.env.PATH ?? "",
      MOCK_LOG: mockLog(),
      RELEASE_DIR: releases,
      MOCK_LIMIT_RESET: String(LIMIT_RESET),
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = mock.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  const port = /listening (\d+)/.exec(first)?.[1];
  if (!port) throw new Error(`the mock API did not start: ${first}`);
  mockUrl = `http://127.0.0.1:${port}`;

  // The marketplace as this checkout has it, copied so that the upgrade can bump its version.
  marketplace = join(dir, "marketplace");
  cpSync(join(ROOT, ".claude-plugin"), join(marketplace, ".claude-plugin"), { recursive: true });
  cpSync(join(ROOT, "release", "plugin"), join(marketplace, "release", "plugin"), { recursive: true });
}, 180_000);

afterAll(async () => {
  tmux("kill-server");
  mock?.kill();
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
  ns?.close();
  rmSync(dir, { recursive: true, force: true });
});

test(`Claude Code ${CLAUDE_CODE_VERSION}: every turn and every usage limit reaches the receiver exactly once`, async () => {
  const started = Date.now();
  // Install as a new user would, from the marketplace, with the settings on the command line.
  expect(await claudeCommand("plugin", "validate", marketplace)).toContain("Validation passed");
  expect(await claudeCommand("plugin", "validate", join(marketplace, "release", "plugin"))).toContain(
    "Validation passed",
  );
  // A session from before the install: the rollout's backfill_days reports it.
  const history = await headless("from before the plugin", SONNET, "api-key");
  expect(history.code).toBe(0);
  await claudeCommand("plugin", "marketplace", "add", marketplace);
  await claudeCommand(
    "plugin",
    "install",
    "ccflux@ccflux",
    "--config",
    `api_endpoint=${receiver.url}/report`,
    "--config",
    `api_token=${TOKEN}`,
    "--config",
    "backfill_days=30",
  );
  const binary = (version: string) => join(pluginData(), version, ASSET);
  expect(existsSync(binary(VERSION))).toBe(false);

  // A one-shot first session: its hooks all run before the reporter binary has arrived.
  const first = await headless("the very first turn", OPUS, "api-key");
  expect(first.code).toBe(0);
  await waitFor("the reporter binary to arrive", () => existsSync(binary(VERSION)));

  // A sub-agent under a second model, then --continue on the first model, then --resume of the first.
  const second = await headless("please run [subagent]", SONNET, "api-key");
  expect(second.code).toBe(0);
  expect((await headless("and one more thing", OPUS, "api-key", "--continue")).sessionId).toBe(
    second.sessionId,
  );
  expect(
    (await headless("back to the first", SONNET, "api-key", "--resume", first.sessionId)).sessionId,
  ).toBe(first.sessionId);

  // Usage limit, then a transient 429, headless, as a subscriber.
  const limited = await headless("go on [usage-limit]", OPUS, "oauth");
  expect(limited.isError).toBe(true);
  const transient = await headless("go on [transient-429]", OPUS, "oauth");
  expect(transient.isError).toBe(true);

  // The plugin is upgraded; the next session, one-shot, runs before the new binary arrives.
  for (const file of [".claude-plugin/marketplace.json", "release/plugin/.claude-plugin/plugin.json"]) {
    const path = join(marketplace, file);
    writeFileSync(path, withVersion(readFileSync(path, "utf8"), UPGRADED));
  }
  await claudeCommand("plugin", "marketplace", "update", "ccflux");
  await claudeCommand("plugin", "update", "ccflux@ccflux");
  const afterUpgrade = await headless("first turn after the upgrade", SONNET, "api-key");
  expect(afterUpgrade.code).toBe(0);
  // The old version's binary goes once the new one is in place.
  await waitFor(
    "the upgraded binary to replace the old one",
    () => existsSync(binary(UPGRADED)) && !existsSync(join(pluginData(), VERSION)),
  );

  // An interactive session under tmux: a turn, a transient 429, a usage limit, then /exit.
  const claudeJson = join(home, ".claude.json");
  const settings = JSON.parse(readFileSync(claudeJson, "utf8"));
  settings.hasCompletedOnboarding = true;
  settings.projects = { ...settings.projects, [project]: { hasTrustDialogAccepted: true } };
  writeFileSync(claudeJson, JSON.stringify(settings));
  const known = [
    history.sessionId,
    first.sessionId,
    second.sessionId,
    limited.sessionId,
    transient.sessionId,
    afterUpgrade.sessionId,
  ];
  const env = Object.entries(environment("oauth")).map(([key, value]) => `${key}=${value}`);
  const tmuxStart = Bun.spawnSync(
    [
      ...ns.prefix,
      "tmux",
      "-S",
      tmuxSocket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      "160",
      "-y",
      "50",
      "-c",
      project,
      "env",
      "-i",
      ...env,
      claudeBinary,
      "--model",
      OPUS,
      "--debug-file",
      debugFile(),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  expect(tmuxStart.exitCode).toBe(0);
  await waitFor("the interactive prompt", () => screen().includes("❯"), screen);
  await type("hello interactive", "done (text)");
  await type("now [transient-429]", "not your usage limit");
  await type("now [usage-limit]", "hit your 5-hour limit");
  // A reset far off asks in a dialog; a near one (as here) offers to continue by itself at the reset.
  const limitPrompt = () => /Enter to confirm|esc to cancel/.test(screen());
  await waitFor("the limit prompt", limitPrompt, screen);
  tmux("send-keys", "Escape");
  const limitPromptClosed = () =>
    !screen().includes("Enter to confirm") &&
    (!screen().includes("esc to cancel") || screen().includes("Automatic continue cancelled"));
  await waitFor("the limit prompt to close", limitPromptClosed, screen);
  tmux("send-keys", "-l", "/exit");
  await Bun.sleep(200);
  tmux("send-keys", "Enter");
  await waitFor("Claude Code to exit", () => tmux("has-session").exitCode !== 0, screen);
  const interactive = newSession(known);

  // Everything is delivered: nothing queued, nothing spooled, no sender running.
  const state = join(home, ".claude", "ccflux");
  const queued = () => readdirSync(join(state, "outbox")).filter((name) => name.endsWith(".json"));
  await waitFor(
    "the outbox to empty",
    () =>
      queued().length === 0 &&
      readdirSync(join(state, "spool")).length === 0 &&
      !existsSync(join(state, "sender.lock")),
    () =>
      `${queued().length} queued; errors.log: ${existsSync(join(state, "errors.log")) ? readFileSync(join(state, "errors.log"), "utf8") : ""}`,
  );

  // Exactly what the API reported, per model and field; the sub-agent's part apart.
  const kinds = answers().map((a) => a.kind);
  expect(kinds.filter((k) => k === "subagent")).toHaveLength(1);
  expect(kinds.filter((k) => k === "usage-limit")).toHaveLength(2);
  expect(kinds.filter((k) => k === "transient-429")).toHaveLength(2);
  expect(storedTotals()).toEqual(expectedTotals());
  const subagentPart = Object.fromEntries(
    Object.entries(expectedTotals((a) => a.kind === "subagent")).map(([model, t]) => [
      model,
      {
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cache_read_tokens: t.cache_read_tokens,
        cache_write_tokens: t.cache_write_tokens,
      },
    ]),
  );
  expect(storedTotals("subagent_")).toEqual(subagentPart as Record<string, Record<string, number>>);
  // Per session: the first session and the one after the upgrade are there; limits add no usage.
  const sessions = receiver
    .sql("SELECT DISTINCT session_id FROM usage_events ORDER BY session_id;")
    .split("\n");
  expect(sessions).toEqual(
    [history.sessionId, first.sessionId, second.sessionId, afterUpgrade.sessionId, interactive].sort(),
  );
  expect(receiver.sql("SELECT DISTINCT claude_code_version FROM usage_events;")).toBe(CLAUDE_CODE_VERSION);
  expect(receiver.sql("SELECT count(*) FROM usage_events WHERE public_key IS NULL OR public_key = '';")).toBe(
    "0",
  );

  // docs/user-setup.md: its find line finds the binary and nothing else; `status` prints as shown.
  const guide = readFileSync(join(ROOT, "docs", "user-setup.md"), "utf8");
  const findLine = /^find ~\/\.claude\/plugins.*$/m.exec(guide)?.[0] ?? "no find line";
  const found = Bun.spawnSync(["sh", "-c", findLine], { env: { PATH: process.env.PATH ?? "", HOME: home } });
  expect(found.stdout.toString().trim().split("\n")).toEqual([binary(UPGRADED)]);
  const shown = /```text\n\$ …\/ccflux-linux-x86_64 status\n([^`]*)```/.exec(guide)?.[1] ?? "";
  const status = Bun.spawnSync([binary(UPGRADED), "status"], {
    env: { PATH: process.env.PATH ?? "", HOME: home },
  });
  expect(status.exitCode).toBe(0);
  expect(matchesShown(status.stdout.toString(), shown, { home, receiver: receiver.url })).toEqual(
    status.stdout.toString().trimEnd().split("\n"),
  );

  // One limit event per usage limit hit, headless and interactive, with its kind and reset; the
  // transient 429s are none.
  const limits = (sessionId: string) =>
    receiver.sql(`SELECT * FROM limit_events WHERE session_id = '${sessionId}';`).split("\n").filter(Boolean);
  for (const sessionId of [limited.sessionId, interactive]) {
    const rows = limits(sessionId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain("five_hour");
    expect(rows[0]).toContain(toSqlTime(LIMIT_RESET * 1000));
  }
  expect(limits(transient.sessionId)).toEqual([]);
  expect(receiver.sql("SELECT count(*) FROM limit_events;")).toBe("2");

  // Every hook of the plugin ran in Claude Code.
  const runs = hookRuns();
  expect([...new Set(runs.map((run) => run.event))].sort()).toEqual([
    "SessionEnd",
    "SessionStart",
    "Stop",
    "StopFailure",
    "SubagentStop",
  ]);
  // Headless, Claude Code ends a StopFailure hook as it exits (status 1): the limit is read from the
  // transcript instead, as the limit events above show. Every other run must end well.
  expect(runs.filter((run) => run.status !== 0 && run.event !== "StopFailure")).toEqual([]);
  for (const event of ["SessionStart", "Stop", "SubagentStop"]) {
    const times = runs
      .flatMap((run) => (run.event === event && run.ms !== null ? [run.ms] : []))
      .sort((a, b) => a - b);
    console.log(
      `${event} as Claude Code timed it (launcher included): ${times.length} runs, median ${times[times.length >> 1]} ms, max ${times[times.length - 1]} ms`,
    );
  }
  console.log(
    `Claude Code ${CLAUDE_CODE_VERSION} end to end: ${((Date.now() - started) / 1000).toFixed(1)} s, network namespace: ${ns.isolated ? "yes" : "no (environment only)"}`,
  );
}, 240_000);
