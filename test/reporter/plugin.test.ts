// The plugin as Claude Code installs it: manifest, hooks, marketplace entry, and the launcher that
// fetches and verifies the binary.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../../src/protocol/version.ts";
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

  /** A release server whose every binary is a tiny script; `checksum` is what SHA256SUMS claims. */
  function release(checksum: (binary: string) => string): { base: string; data: string; requests: string[] } {
    const binary = '#!/bin/sh\necho "ccflux stand-in: $*"\n';
    const requests: string[] = [];
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        const path = new URL(request.url).pathname;
        requests.push(path);
        const [, tag, asset] = path.split("/");
        if (tag !== `v${VERSION}`) return new Response("no such release", { status: 404 });
        if (asset === "SHA256SUMS") {
          return new Response(
            `${checksum(binary)}  ccflux-receiver-linux-x86_64\n${checksum(binary)}  ${platformAsset()}\n`,
          );
        }
        return asset === platformAsset()
          ? new Response(binary)
          : new Response("no such asset", { status: 404 });
      },
    });
    const { dir, remove } = tempDir("ccflux-plugin-data-");
    cleanup = remove;
    return { base: `http://127.0.0.1:${server.port}`, data: dir, requests };
  }

  function platformAsset(): string {
    const os = { linux: "linux", darwin: "macos", win32: "windows" }[process.platform as string] ?? "";
    const cpu = { x64: "x86_64", arm64: "aarch64" }[process.arch as string] ?? "";
    return `ccflux-${os}-${cpu}${os === "windows" ? ".exe" : ""}`;
  }

  /** Runs the launcher as a hook would; asynchronously, so the release server here can answer it. */
  async function launch(base: string, data: string, args: string[]) {
    const child = Bun.spawn(["sh", LAUNCHER, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CLAUDE_PLUGIN_DATA: data, CCFLUX_RELEASE_BASE: base },
      stdin: Buffer.from("{}"),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, stdout, stderr };
  }

  const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
  const installed = (data: string) => join(data, VERSION, platformAsset());

  test("a hook returns at once and silently; the binary arrives verified in the background and runs next time", async () => {
    const { base, data } = release(sha256);
    expect(await launch(base, data, ["hook", "stop"])).toEqual({ code: 0, stdout: "", stderr: "" });
    const deadline = Date.now() + 10_000;
    while (!existsSync(installed(data)) && Date.now() < deadline) await Bun.sleep(20);
    expect(await launch(base, data, ["hook", "stop"])).toEqual({
      code: 0,
      stdout: "ccflux stand-in: hook stop\n",
      stderr: "",
    });
  });

  test("a binary whose checksum does not match is never installed; a hook stays silent", async () => {
    const { base, data, requests } = release(() => "0".repeat(64));
    expect(await launch(base, data, ["hook", "stop"])).toEqual({ code: 0, stdout: "", stderr: "" });
    const deadline = Date.now() + 10_000;
    while (requests.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    await Bun.sleep(200);
    expect(existsSync(installed(data))).toBe(false);
    const status = await launch(base, data, ["status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain("could not fetch or verify");
  });

  test("a person's command fetches in the foreground and then runs", async () => {
    const { base, data } = release(sha256);
    const result = await launch(base, data, ["status"]);
    expect(result.stdout).toBe("ccflux stand-in: status\n");
    expect(result.code).toBe(0);
  });
});
