// The real Litestream (v0.3.13, installed by .ci/run as /usr/local/bin/litestream), run with the
// shipped release/litestream.yml and its settings in the environment, as ccflux-litestream.service
// runs it. Used by the standby-restore fault test and by `BENCH_LITESTREAM=1 bun run bench:ingest`.
import { join } from "node:path";
import type { Subprocess } from "bun";

const CONFIG = join(import.meta.dir, "../../release/litestream.yml");

/** The binary itself (not the npm package's Node wrapper, so that signals reach Litestream). */
export function litestreamBinary(): string | null {
  const path = Bun.which("litestream");
  if (!path && process.env.CI) throw new Error("litestream is not installed; .ci/run must install it");
  return path;
}

export interface Litestream {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.push(decoder.decode(chunk, { stream: true }));
}

/** `litestream replicate`, once it has written its first snapshot to the replica. */
export async function replicate(
  binary: string,
  dbPath: string,
  replicaUrl: string,
  /** Where Litestream serves its metrics; none when not given. */
  metricsPort?: number,
): Promise<Litestream> {
  const proc = Bun.spawn([binary, "replicate", "-config", CONFIG], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      DATABASE_PATH: dbPath,
      LITESTREAM_REPLICA_URL: replicaUrl,
      LITESTREAM_METRICS_ADDR: metricsPort === undefined ? "" : `127.0.0.1:${metricsPort}`,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const chunks: string[] = [];
  void collect(proc.stdout, chunks);
  void collect(proc.stderr, chunks);
  const output = () => chunks.join("");
  const deadline = Date.now() + 15_000;
  while (!output().includes("snapshot written")) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`litestream did not take its first snapshot (exit ${proc.exitCode}):\n${output()}`);
    }
    await Bun.sleep(20);
  }
  return { proc, output };
}
