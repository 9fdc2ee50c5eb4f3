// `bun run bench:dashboard`: builds the binary, fills 2,000 users × 90 days with demo-data, and
// times the dashboard on the compiled receiver. Targets (issue 4): /admin/ over 30 days under
// 300 ms at the median, a user page under 100 ms. Prints the figures, the database size and the
// bytes per usage row; exits 1 when a target is missed. BENCH_HOSTILE=1 first adds what an older
// receiver without bounds may hold (issue 11): a user with reports dated 0000-01-01 and
// 1000-01-01, and one with 20,000 distinct model names; their pages are timed too.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, sqlite3, startReceiver } from "../support/receiver.ts";

const USERS = Number(process.env.BENCH_USERS ?? 2000);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const WARM_UP = 3;
const ADMIN_TOKEN = "bench-admin-token";
const TARGETS_MS = { overview: 300, user: 100 };
const HOSTILE = process.env.BENCH_HOSTILE === "1";
const HOSTILE_NAMES = 20_000;

/** Rows no bounded receiver writes, typed in as an older one stored them. */
function addHostileRows(dbPath: string): void {
  const daily = `INSERT INTO usage_daily (email, day, model, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens,
    subagent_output_tokens, subagent_cache_read_tokens, subagent_cache_write_tokens, turns)`;
  const hourly =
    "INSERT INTO usage_hourly (email, hour, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns)";
  sqlite3(
    dbPath,
    `BEGIN;
     ${daily} VALUES ('ancient@example.org', '0000-01-01', 'claude-sonnet-4-5', 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
                     ('ancient@example.org', '1000-01-01', 'claude-sonnet-4-5', 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
     ${hourly} VALUES ('ancient@example.org', '0000-01-01 00:00:00', 5, 5, 0, 0, 1),
                      ('ancient@example.org', '1000-01-01 00:00:00', 7, 7, 0, 0, 1),
                      ('names@example.org', strftime('%Y-%m-%d %H:00:00', 'now'), 1, 1, 0, 0, 1);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${HOSTILE_NAMES})
     ${daily} SELECT 'names@example.org', date('now'), 'flood-' || i, i, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 FROM n;
     COMMIT;`,
  );
}

interface Timing {
  median: number;
  p90: number;
  max: number;
  bytes: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function time(url: string): Promise<Timing> {
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < WARM_UP + RUNS; i++) {
    const started = performance.now();
    const response = await fetch(url, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    const body = await response.arrayBuffer();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    bytes = body.byteLength;
    if (i >= WARM_UP) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  return {
    median: percentile(samples, 50),
    p90: percentile(samples, 90),
    max: samples[samples.length - 1]!,
    bytes,
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const binary = ensureBinary();
const dir = mkdtempSync(join(tmpdir(), "ccflux-bench-dashboard-"));
const dbPath = join(dir, "ccflux.db");
try {
  console.log(`demo-data: ${USERS} users × ${DAYS} days into ${dbPath}`);
  const fillStarted = performance.now();
  const fill = Bun.spawnSync(
    [binary, "demo-data", "--users", String(USERS), "--days", String(DAYS), "--seed", "1"],
    {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: dbPath },
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  if (fill.exitCode !== 0) throw new Error("demo-data failed");
  if (HOSTILE) addHostileRows(dbPath);
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  sqlite3(dbPath, "PRAGMA wal_checkpoint(TRUNCATE);");
  const rows = Number(sqlite3(dbPath, "SELECT count(*) FROM usage_events;"));
  const dbBytes = statSync(dbPath).size;

  const receiver = await startReceiver({ binary: true, dir, env: { ADMIN_TOKEN } });
  try {
    // Pages read the stored window figures; wait for the first background computation.
    const deadline = Date.now() + 120_000;
    while (!/tier estimates recomputed users=(\d+) ms=(\d+)/.test(receiver.output())) {
      if (Date.now() > deadline) throw new Error(`no tier computation within 120 s:\n${receiver.output()}`);
      await Bun.sleep(100);
    }
    const tierMs = Number(/tier estimates recomputed users=\d+ ms=(\d+)/.exec(receiver.output())![1]);
    const heaviest = sqlite3(
      dbPath,
      "SELECT email FROM tier_estimates WHERE range_key = '30' ORDER BY peak_billed_tokens DESC LIMIT 1;",
    );
    const pages: [string, string][] = [
      ["/admin/ (30 days)", "/admin/?range=30"],
      [`user page (30 days, ${heaviest})`, `/admin/users/${encodeURIComponent(heaviest)}?range=30`],
      ["/admin/ (7 days)", "/admin/?range=7"],
      ["/admin/ (90 days)", "/admin/?range=90"],
      ["/admin/ (all time)", "/admin/?range=all"],
      ["/admin/devices", "/admin/devices"],
      ["/admin/tokens", "/admin/tokens"],
      ["usage.csv (30 days)", "/admin/api/usage.csv?range=30"],
      ...(HOSTILE
        ? ([
            ["user page (all time, reports from year 0)", "/admin/users/ancient%40example.org?range=all"],
            [
              `user page (all time, ${HOSTILE_NAMES} model names)`,
              "/admin/users/names%40example.org?range=all",
            ],
          ] as [string, string][])
        : []),
    ];
    const results: [string, Timing][] = [];
    for (const [label, path] of pages) results.push([label, await time(`${receiver.url}${path}`)]);

    console.log("");
    console.log(
      `database: ${mib(dbBytes)} for ${rows.toLocaleString("en-US")} usage rows = ${Math.round(dbBytes / rows)} bytes per usage row (all tables and indexes)`,
    );
    console.log(`demo-data: ${fillSeconds.toFixed(1)} s; background tier computation: ${tierMs} ms`);
    console.log(`timings over ${RUNS} requests after ${WARM_UP} warm-ups, compiled binary, bearer auth:`);
    for (const [label, t] of results) {
      console.log(
        `  ${label.padEnd(52)} median ${t.median.toFixed(1).padStart(7)} ms  p90 ${t.p90.toFixed(1).padStart(7)} ms  max ${t.max.toFixed(1).padStart(7)} ms  ${mib(t.bytes)}`,
      );
    }
    const overview = results[0]![1].median;
    const user = results[1]![1].median;
    const ok = overview < TARGETS_MS.overview && user < TARGETS_MS.user;
    console.log(
      `\ntargets: /admin/ 30 days median ${overview.toFixed(1)} ms (< ${TARGETS_MS.overview}), user page median ${user.toFixed(1)} ms (< ${TARGETS_MS.user}): ${ok ? "met" : "MISSED"}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await receiver.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
