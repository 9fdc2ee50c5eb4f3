// `bun run release/smoke.ts [DIR] [VERSION]`: checks built release assets before they are published:
// SHA256SUMS matches the files, the binaries this machine can run print VERSION for --version,
// and the receiver starts on a fresh database and answers GET /health.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pkg from "../package.json";
import { assetName, CHECKSUMS, hostTarget, PROGRAMS, sha256 } from "./build.ts";

/** Problems found with SHA256SUMS in `dir`: a bad line, a missing file, or a checksum that differs. */
export async function checksumProblems(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const text = await Bun.file(join(dir, CHECKSUMS)).text();
  for (const line of text.trimEnd().split("\n")) {
    const match = /^([0-9a-f]{64}) {2}([^/\\]+)$/.exec(line);
    if (!match) {
      problems.push(`${CHECKSUMS}: malformed line "${line}"`);
      continue;
    }
    const [, expected, name] = match;
    const file = Bun.file(join(dir, name!));
    if (!(await file.exists())) problems.push(`${CHECKSUMS} lists ${name}, which is missing`);
    else if (sha256(await file.bytes()) !== expected) problems.push(`${name}: checksum differs`);
  }
  return problems;
}

export function versionLine(binary: string): string {
  const result = Bun.spawnSync([binary, "--version"], { stdout: "pipe", stderr: "pipe" });
  return result.stdout.toString().trim().split("\n")[0] ?? "";
}

/** Starts the receiver binary on a free loopback port with a fresh database; returns /health's answer. */
export async function receiverHealth(binary: string): Promise<{ status: number; body: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), "ccflux-smoke-"));
  const proc = Bun.spawn([binary], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      DATABASE_PATH: join(dir, "ccflux.db"),
      LISTEN_ADDR: "127.0.0.1:0",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    let output = "";
    const reader = proc.stdout.getReader();
    const deadline = Date.now() + 15_000;
    let port: string | undefined;
    while (!port) {
      if (Date.now() > deadline) throw new Error(`${binary} did not start within 15 s:\n${output}`);
      const chunk = await reader.read();
      if (chunk.done) {
        const stderr = await new Response(proc.stderr).text();
        throw new Error(`${binary} exited before listening:\n${output}${stderr}`);
      }
      output += new TextDecoder().decode(chunk.value);
      port = /listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    }
    reader.releaseLock();
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    return { status: response.status, body: await response.json() };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function smokeProblems(folder: string, version: string): Promise<string[]> {
  // Absolute, so that a binary is run from the folder and never looked up on PATH.
  const dir = resolve(folder);
  const problems = await checksumProblems(dir);
  for (const program of PROGRAMS) {
    const binary = join(dir, assetName(program.name, hostTarget()));
    const line = versionLine(binary);
    // `ccflux-receiver 0.1.0`; the reporter may print the bare version.
    if (line !== `${program.name} ${version}` && line !== version) {
      problems.push(`${binary} --version printed "${line}", expected "${program.name} ${version}"`);
    }
  }
  const health = await receiverHealth(join(dir, assetName("ccflux-receiver", hostTarget())));
  if (health.status !== 200 || JSON.stringify(health.body) !== '{"status":"ok","db":"ok"}') {
    problems.push(`GET /health answered ${health.status} ${JSON.stringify(health.body)}`);
  }
  return problems;
}

if (import.meta.main) {
  const dir = process.argv[2] ?? join(import.meta.dir, "../dist");
  const version = process.argv[3]?.replace(/^v/, "") ?? pkg.version;
  const problems = await smokeProblems(dir, version);
  for (const problem of problems) console.error(`smoke: ${problem}`);
  if (problems.length) process.exit(1);
  console.log(`smoke: ${dir} is good for ${version}`);
}
