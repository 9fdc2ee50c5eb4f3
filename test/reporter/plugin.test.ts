// The plugin as Claude Code installs it: manifest, hooks, marketplace entry, and the launcher that
// fetches and verifies the binary.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../../src/protocol/version.ts";
import { CLAUDE_CODE_VERSION } from "../e2e/claude-code.ts";
import { REPO_ROOT, tempDir } from "./helpers.ts";

const PLUGIN = join(REPO_ROOT, "release", "plugin");
const LAUNCHER = join(PLUGIN, "bin", "ccflux-launcher");
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

describe("plugin files", () => {
  test("plugin.json asks for the endpoint and a sensitive token, at the package's version", () => {
    const manifest = readJson(join(PLUGIN, ".claude-plugin", "plugin.json"));
    expect(manifest.name).toBe("ccflux");
    // The launcher downloads the release of this version: it must be the version being released.
    expect(manifest.version).toBe(VERSION);
    expect(manifest.userConfig.api_endpoint).toMatchObject({ type: "string" });
    expect(manifest.userConfig.api_endpoint.sensitive).toBeUndefined();
    expect(manifest.userConfig.api_token).toMatchObject({ type: "string", sensitive: true });
    // The oldest Claude Code the suite runs the plugin in (test/e2e/claude-code.test.ts).
    expect(manifest.engines).toEqual({ "claude-code": `>=${CLAUDE_CODE_VERSION}` });
  });

  test("hooks.json runs the launcher on every event the reporter needs, and nothing else", () => {
    const { hooks } = readJson(join(PLUGIN, "hooks", "hooks.json"));
    expect(Object.keys(hooks).sort()).toEqual([
      "SessionEnd",
      "SessionStart",
      "Stop",
      "StopFailure",
      "SubagentStop",
    ]);
    for (const groups of Object.values(hooks) as { hooks: { type: string; command: string }[] }[][]) {
      for (const hook of groups.flatMap((group) => group.hooks)) {
        expect(hook.type).toBe("command");
        expect(hook.command).toMatch(/^sh "\$\{CLAUDE_PLUGIN_ROOT\}\/bin\/ccflux-launcher" hook [a-z-]+$/);
      }
    }
  });

  test("the repository's marketplace lists the plugin at its folder", () => {
    const marketplace = readJson(join(REPO_ROOT, ".claude-plugin", "marketplace.json"));
    expect(marketplace.owner.name).toBeString();
    const [entry] = marketplace.plugins;
    expect(entry.name).toBe("ccflux");
    expect(entry.version).toBe(VERSION);
    expect(existsSync(join(REPO_ROOT, entry.source, ".claude-plugin", "plugin.json"))).toBe(true);
  });
});

describe("the launcher", () => {
  let server: ReturnType<typeof Bun.serve> | undefined;
  let cleanup: (() => void) | undefined;
  afterEach(() => {
    server?.stop(true);
    cleanup?.();
  });

  interface Release {
    base: string;
    data: string;
    /** The config folder the hooks see (the reporter's spool is in it). */
    configDir: string;
    requests: string[];
  }

  /**
   * A release server whose binary is a tiny script, offered plain and gzip-compressed; `checksum` is
   * what SHA256SUMS claims for the binary (the .gz line is always right). `delayMs` holds the binary.
   */
  function release(
    checksum: (binary: string) => string,
    { gz = true, delayMs = 0 }: { gz?: boolean; delayMs?: number } = {},
  ): Release {
    const binary = '#!/bin/sh\necho "ccflux stand-in: $*"\n';
    const compressed = Bun.gzipSync(Buffer.from(binary));
    const requests: string[] = [];
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        const path = new URL(request.url).pathname;
        requests.push(path);
        const [, tag, asset] = path.split("/");
        if (tag !== `v${VERSION}`) return new Response("no such release", { status: 404 });
        if (asset === "SHA256SUMS") {
          const gzLine = gz ? `${sha256(compressed)}  ${platformAsset()}.gz\n` : "";
          return new Response(
            `${checksum(binary)}  ccflux-receiver-linux-x86_64\n${checksum(binary)}  ${platformAsset()}\n${gzLine}`,
          );
        }
        if (asset === platformAsset() || (gz && asset === `${platformAsset()}.gz`)) {
          await Bun.sleep(delayMs);
          return new Response(asset.endsWith(".gz") ? compressed : binary);
        }
        return new Response("no such asset", { status: 404 });
      },
    });
    const { dir, remove } = tempDir("ccflux-plugin-data-");
    cleanup = remove;
    return {
      base: `http://127.0.0.1:${server.port}`,
      data: join(dir, "data"),
      configDir: join(dir, ".claude"),
      requests,
    };
  }

  function platformAsset(): string {
    const os = { linux: "linux", darwin: "macos", win32: "windows" }[process.platform as string] ?? "";
    const cpu = { x64: "x86_64", arm64: "aarch64" }[process.arch as string] ?? "";
    return `ccflux-${os}-${cpu}${os === "windows" ? ".exe" : ""}`;
  }

  /**
   * Runs the launcher as a hook would; asynchronously, so the release server here can answer it.
   * In a process group of its own (as Claude Code runs a hook), whose pid `started` receives.
   */
  async function launch(
    { base, data, configDir }: Release,
    args: string[],
    stdin = "{}",
    started: (pid: number) => void = () => {},
  ) {
    const child = Bun.spawn(["sh", LAUNCHER, ...args], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        CLAUDE_PLUGIN_DATA: data,
        CLAUDE_CONFIG_DIR: configDir,
        CCFLUX_RELEASE_BASE: base,
      },
      stdin: Buffer.from(stdin),
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
    started(child.pid);
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, stdout, stderr };
  }

  const sha256 = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");
  const installed = (data: string) => join(data, VERSION, platformAsset());
  async function arrival(data: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!existsSync(installed(data)) && Date.now() < deadline) await Bun.sleep(20);
  }

  test("a hook returns at once and silently; the binary arrives verified in the background and runs next time", async () => {
    const r = release(sha256);
    expect(await launch(r, ["hook", "stop"])).toEqual({ code: 0, stdout: "", stderr: "" });
    await arrival(r.data);
    expect(await launch(r, ["hook", "stop"])).toEqual({
      code: 0,
      stdout: "ccflux stand-in: hook stop\n",
      stderr: "",
    });
  });

  test("the compressed asset is preferred, and the binary is checked after decompression", async () => {
    const r = release(sha256);
    expect((await launch(r, ["status"])).stdout).toBe("ccflux stand-in: status\n");
    expect(r.requests).toContain(`/v${VERSION}/${platformAsset()}.gz`);
    expect(r.requests).not.toContain(`/v${VERSION}/${platformAsset()}`);
    expect(readFileSync(installed(r.data), "utf8")).toStartWith("#!/bin/sh");
  });

  test("a release (or mirror) without the compressed asset: the plain one is fetched", async () => {
    const r = release(sha256, { gz: false });
    expect((await launch(r, ["status"])).stdout).toBe("ccflux stand-in: status\n");
    expect(r.requests).toContain(`/v${VERSION}/${platformAsset()}`);
  });

  test("a binary whose checksum does not match is never installed; a hook stays silent", async () => {
    const r = release(() => "0".repeat(64));
    expect(await launch(r, ["hook", "stop"])).toEqual({ code: 0, stdout: "", stderr: "" });
    const deadline = Date.now() + 10_000;
    while (r.requests.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    await Bun.sleep(200);
    expect(existsSync(installed(r.data))).toBe(false);
    const status = await launch(r, ["status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain("could not fetch or verify");
  });

  test("a person's command fetches in the foreground and then runs", async () => {
    const r = release(sha256);
    const result = await launch(r, ["status"]);
    expect(result.stdout).toBe("ccflux stand-in: status\n");
    expect(result.code).toBe(0);
  });

  test("while the binary is missing, each hook's ids and transcript paths are kept in the reporter's spool, nothing else", async () => {
    const r = release(sha256, { delayMs: 60_000 });
    const stop = {
      session_id: "s1",
      transcript_path: '/home/dev/.claude/projects/-a "quoted" \\ path/s1.jsonl',
      cwd: "/home/dev/secret-project",
      hook_event_name: "Stop",
      // Claude's last answer, which may even mention the keys kept.
      last_assistant_message: 'the "transcript_path": "/elsewhere" and \u00e9 "session_id": "x"',
      stop_hook_active: false,
    };
    const subagent = {
      session_id: "s1",
      transcript_path: "/t/s1.jsonl",
      hook_event_name: "SubagentStop",
      agent_transcript_path: "/t/s1/subagents/agent-a1.jsonl",
      agent_id: "a1",
    };
    for (const input of [stop, subagent]) {
      expect((await launch(r, ["hook", "x"], JSON.stringify(input))).code).toBe(0);
    }
    expect((await launch(r, ["hook", "x"], "not json")).code).toBe(0);
    const spool = join(r.configDir, "ccflux", "spool");
    const names = readdirSync(spool).sort();
    expect(names).toHaveLength(2);
    for (const name of names) expect(name).toMatch(/^\d+-\d+\.json$/);
    const kept = names.map((name) => JSON.parse(readFileSync(join(spool, name), "utf8")));
    expect(kept.sort((a, b) => a.hook_event_name.localeCompare(b.hook_event_name))).toEqual([
      { session_id: "s1", transcript_path: stop.transcript_path, hook_event_name: "Stop" },
      {
        session_id: "s1",
        transcript_path: "/t/s1.jsonl",
        hook_event_name: "SubagentStop",
        agent_transcript_path: "/t/s1/subagents/agent-a1.jsonl",
      },
    ]);
    expect((statSync(spool).mode & 0o777).toString(8)).toBe("700");
  });

  test("the download outlives the hook's process group, which Claude Code kills when a hook ends", async () => {
    const r = release(sha256, { delayMs: 700 });
    let group = 0;
    expect(await launch(r, ["hook", "stop"], "{}", (pid) => (group = pid))).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // The group may already be empty.
    }
    await arrival(r.data);
    expect(existsSync(installed(r.data))).toBe(true);
  });
});
