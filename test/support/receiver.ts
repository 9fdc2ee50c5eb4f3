// Starts the real receiver (from source, or the compiled binary copied to a temp folder) on a
// free loopback port with a real SQLite file, and gives tests the admin's sqlite3 beside it.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/ccflux-receiver-linux-x86_64");

export interface ReceiverOptions {
  env?: Record<string, string>;
  /** Run dist/ccflux-receiver-linux-x86_64 (built by `bun run build`) copied to the temp folder. */
  binary?: boolean;
  /** Reuse a folder (and so its database) from an earlier receiver. */
  dir?: string;
  /** Run the receiver through this command, e.g. setpriv to drop root. */
  wrap?: string[];
}

export interface TestReceiver {
  url: string;
  port: number;
  dir: string;
  dbPath: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the process printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number>;
  /** SIGKILL, no goodbye. */
  kill(): Promise<void>;
  /** A new process on the same folder, database and port. */
  restart(env?: Record<string, string>): Promise<TestReceiver>;
  /** Runs SQL through the real sqlite3 CLI, as an admin would; returns its output. */
  sql(statement: string): string;
  /** Removes the temp folder (stop first). */
  cleanup(): void;
}

export function sqlite3(dbPath: string, statement: string): string {
  // The CLI's busy timeout is 0: a statement that meets the receiver's brief commit would fail.
  const result = Bun.spawnSync(["sqlite3", "-bail", "-cmd", ".timeout 5000", dbPath], {
    stdin: Buffer.from(statement),
  });
  if (result.exitCode !== 0) throw new Error(`sqlite3 failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
}

export async function startReceiver(options: ReceiverOptions = {}, port = 0): Promise<TestReceiver> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ccflux-receiver-"));
  const dbPath = join(dir, "ccflux.db");
  let command: string[];
  if (options.binary) {
    const copy = join(dir, "ccflux-receiver");
    copyFileSync(ensureBinary(), copy);
    command = [copy];
  } else {
    command = [process.execPath, join(ROOT, "src/receiver/main.ts")];
  }
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    DATABASE_PATH: dbPath,
    LISTEN_ADDR: `127.0.0.1:${port}`,
    ...options.env,
  };
  if (options.wrap) command = [...options.wrap, ...command];
  const proc = Bun.spawn(command, { cwd: dir, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const chunks: string[] = [];
  const done = Promise.all([collect(proc.stdout, chunks), collect(proc.stderr, chunks)]);
  const output = () => chunks.join("");

  const deadline = Date.now() + 15_000;
  const listening = () => /listening on 127\.0\.0\.1:(\d+)/.exec(output());
  let match = listening();
  while (!match) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await done;
      throw new Error(`receiver did not start (exit ${proc.exitCode}):\n${output()}`);
    }
    await Bun.sleep(10);
    match = listening();
  }
  const boundPort = Number(match[1]);
  const receiver: TestReceiver = {
    url: `http://127.0.0.1:${boundPort}`,
    port: boundPort,
    dir,
    dbPath,
    proc,
    output,
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      await done;
      return code;
    },
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
      await done;
    },
    restart: (more = {}) => startReceiver({ ...options, dir, env: { ...options.env, ...more } }, boundPort),
    sql: (statement) => sqlite3(dbPath, statement),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return receiver;
}

function newestSource(folder: string): number {
  let newest = 0;
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than src/, so `bun test` alone tests the current code. */
export function ensureBinary(): string {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < newestSource(join(ROOT, "src"))) {
    const build = Bun.spawnSync([process.execPath, "run", "build"], {
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    });
    if (build.exitCode !== 0) throw new Error("bun run build failed");
  }
  return BINARY;
}
