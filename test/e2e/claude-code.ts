// The real Claude Code for the end-to-end test: a pinned release from npm, kept in a cache folder
// that .ci/run fills (`bun run test/e2e/claude-code.ts`) and the test fills itself when it is empty;
// and a network namespace that only has loopback, where the namespace tools are allowed.

import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The Claude Code the suite runs against; plugin.json's engines names it as the oldest supported. */
export const CLAUDE_CODE_VERSION = "2.1.328";

const ROOT = join(import.meta.dir, "..", "..");
const CACHE = join(ROOT, "node_modules", ".cache", "ccflux-claude-code", CLAUDE_CODE_VERSION);

/** npm's name for this machine's native build, e.g. linux-x64. */
function platformPackage(): string {
  const os =
    { linux: "linux", darwin: "darwin", win32: "win32" }[process.platform as string] ?? process.platform;
  return `@anthropic-ai/claude-code-${os}-${process.arch}`;
}

/** The native `claude` binary (the npm package is a wrapper around it); installed when missing. */
export function installClaudeCode(): string {
  const binary = join(
    CACHE,
    "node_modules",
    platformPackage(),
    process.platform === "win32" ? "claude.exe" : "claude",
  );
  if (existsSync(binary)) return binary;
  mkdirSync(CACHE, { recursive: true });
  // Install scripts are not run: the native build comes as an optional dependency, used directly.
  const npm = Bun.spawnSync(
    [
      "npm",
      "install",
      "--prefix",
      CACHE,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (npm.exitCode !== 0 || !existsSync(binary)) {
    throw new Error(`npm install @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} failed:\n${npm.stderr}`);
  }
  return binary;
}

export interface Namespace {
  /** Prepend to a command to run it in the namespace ([] when there is none). */
  prefix: string[];
  isolated: boolean;
  close(): void;
}

/**
 * A network namespace with only loopback up, kept in `dir`/netns so that several processes (the
 * receiver, the mock API, Claude Code, tmux) share it. Where unshare is not allowed, no namespace:
 * the environment (ANTHROPIC_BASE_URL, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, ...) keeps traffic
 * on loopback.
 */
export function loopbackNamespace(dir: string): Namespace {
  const file = join(dir, "netns");
  writeFileSync(file, "");
  const run = (command: string[]) =>
    Bun.spawnSync(command, { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  const prefix = ["nsenter", `--net=${file}`, "--"];
  if (run(["unshare", `--net=${file}`, "true"]) && run([...prefix, "ip", "link", "set", "lo", "up"])) {
    return {
      prefix,
      isolated: true,
      close: () => {
        run(["umount", file]);
        rmSync(file, { force: true });
      },
    };
  }
  rmSync(file, { force: true });
  return { prefix: [], isolated: false, close: () => {} };
}

if (import.meta.main) console.log(installClaudeCode());
