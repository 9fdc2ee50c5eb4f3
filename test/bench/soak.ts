// Soak: `bun run soak [minutes]` (default 10) drives the compiled receiver with a realistic mix and
// prints throughput, p50/p99 latency, answers by status, RSS over time and database size.
// The mix: 300 users reporting signed turns, each user's turns arriving at the rate limit
// (RATE_LIMIT_PER_MINUTE=30, the default) with some users bursting past it (429s expected);
// an admin loading dashboard pages every second, exporting usage every 15 s, and revoking a user
// through the dashboard every 30 s (that user's later reports get 401, as they should).
import { statSync } from "node:fs";
import { toRfc3339 } from "../../src/protocol/index.ts";
import { provision, rng, rssKib, signedPost, type User } from "../faults/support.ts";
import { ensureBinary, startReceiver } from "../support/receiver.ts";

const minutes = Number(process.argv[2] ?? 10);
if (!(minutes > 0)) {
  console.error("usage: bun run soak [minutes]");
  process.exit(2);
}
const USERS = 300;
const RATE = 30; // per token per minute, the receiver's default
const ADMIN_TOKEN = "soak-admin-token-0123456789abcdef";
const random = rng(42);

ensureBinary();
const receiver = await startReceiver({
  binary: true,
  env: {
    REQUIRE_SIGNATURES: "1",
    RATE_LIMIT_PER_MINUTE: String(RATE),
    ADMIN_TOKEN,
    TIER_INFERENCE_INTERVAL_SECS: "60",
  },
});
console.log(`soak: ${minutes} min against ${receiver.url}, provisioning ${USERS} users…`);
const users = await provision(receiver, USERS, "soak");
const ids = new Map(
  receiver
    .sql("SELECT email, id FROM refresh_tokens;")
    .split("\n")
    .map((line) => line.split("|") as [string, string]),
);
const revoked = new Set<string>();

interface Kind {
  latencies: number[];
  statuses: Map<string, number>;
}
const kinds = new Map<string, Kind>();
function record(kind: string, ms: number, status: string): void {
  const k = kinds.get(kind) ?? { latencies: [], statuses: new Map<string, number>() };
  kinds.set(kind, k);
  k.latencies.push(ms);
  k.statuses.set(status, (k.statuses.get(status) ?? 0) + 1);
}

async function timed(kind: string, url: string, init: RequestInit): Promise<Response | null> {
  const start = performance.now();
  try {
    const response = await fetch(url, init);
    await response.arrayBuffer();
    record(kind, performance.now() - start, String(response.status));
    return response;
  } catch (error) {
    record(kind, performance.now() - start, `error:${(error as Error).name}`);
    return null;
  }
}

const turnOf = new Map<string, number>();
function reportFor(user: User): string {
  const session = `s-${user.email}-${Math.floor(Date.now() / 600_000)}`;
  const turn = turnOf.get(session) ?? 0;
  turnOf.set(session, turn + 1);
  return JSON.stringify({
    schema_version: 2,
    session_id: session,
    user_email: user.email,
    turn_index: turn,
    timestamp_utc: toRfc3339(Date.now()),
    models: {
      "claude-sonnet-4-5": {
        input_tokens: Math.floor(random() * 5000),
        output_tokens: Math.floor(random() * 3000),
        cache_read_tokens: Math.floor(random() * 200_000),
        cache_write_tokens: Math.floor(random() * 20_000),
        requests: 1 + Math.floor(random() * 10),
      },
    },
    plugin_version: "0.1.0",
  });
}

function sendReport(user: User): Promise<Response | null> {
  const body = reportFor(user);
  return timed("report", `${receiver.url}/report`, signedPost(user, body));
}

const end = Date.now() + minutes * 60_000;
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const samples: string[] = [];
const started = performance.now();

// Each user's turns at the rate limit: one every 60/RATE s, offset so they spread out; every tenth
// user bursts five turns at once now and then.
const reporters = users.map(async (user, i) => {
  await Bun.sleep((i * (60_000 / RATE)) / USERS);
  while (Date.now() < end) {
    const burst = i % 10 === 0 && random() < 0.05 ? 5 : 1;
    await Promise.all(Array.from({ length: burst }, () => sendReport(user)));
    await Bun.sleep((60_000 / RATE) * (0.9 + random() * 0.2));
  }
});

const dashboard = (async () => {
  const pages = ["/admin/", "/admin/devices", "/admin/tokens", "/admin/audit", "/admin/?range=7"];
  let n = 0;
  while (Date.now() < end) {
    const user = users[n % users.length]!;
    const page = n % 6 === 5 ? `/admin/users/${encodeURIComponent(user.email)}` : pages[n % pages.length]!;
    await timed("dashboard", `${receiver.url}${page}`, { headers: admin });
    n++;
    await Bun.sleep(1000);
  }
})();

const exports = (async () => {
  while (Date.now() < end) {
    await Bun.sleep(15_000);
    await timed("export", `${receiver.url}/admin/api/usage.csv?range=30`, { headers: admin });
  }
})();

const revoker = (async () => {
  let n = 0;
  while (Date.now() < end) {
    await Bun.sleep(30_000);
    const user = users[(n++ * 37) % users.length]!;
    await timed("revoke", `${receiver.url}/admin/tokens/${ids.get(user.email)}/revoke`, {
      method: "POST",
      headers: { ...admin, "Content-Type": "application/x-www-form-urlencoded" },
      body: "return=/admin/tokens",
      redirect: "manual",
    });
    revoked.add(user.email);
  }
})();

function dbBytes(): number {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      total += statSync(receiver.dbPath + suffix).size;
    } catch {
      // no WAL right now
    }
  }
  return total;
}

const sampler = (async () => {
  while (Date.now() < end) {
    const reports = kinds.get("report")?.latencies.length ?? 0;
    samples.push(
      `  ${((performance.now() - started) / 60_000).toFixed(1).padStart(5)} min  RSS ${(rssKib(receiver.proc.pid) / 1024).toFixed(1).padStart(6)} MiB  db ${(dbBytes() / 1048576).toFixed(1).padStart(6)} MiB  reports sent ${reports}`,
    );
    await Bun.sleep(Math.min(30_000, (minutes * 60_000) / 10));
  }
})();

await Promise.all([...reporters, dashboard, exports, revoker, sampler]);
const seconds = (performance.now() - started) / 1000;
samples.push(
  `  ${(seconds / 60).toFixed(1).padStart(5)} min  RSS ${(rssKib(receiver.proc.pid) / 1024).toFixed(1).padStart(6)} MiB  db ${(dbBytes() / 1048576).toFixed(1).padStart(6)} MiB  (end)`,
);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
console.log(`\nsoak: ${seconds.toFixed(0)} s, ${USERS} users, ${revoked.size} revoked during the run`);
for (const [kind, k] of kinds) {
  const sorted = k.latencies.toSorted((a, b) => a - b);
  console.log(
    `${kind.padEnd(10)} ${String(sorted.length).padStart(7)} requests  ${(sorted.length / seconds).toFixed(1).padStart(7)}/s  p50 ${percentile(sorted, 50).toFixed(1)} ms  p99 ${percentile(sorted, 99).toFixed(1)} ms  max ${sorted.at(-1)?.toFixed(1)} ms  statuses ${JSON.stringify(Object.fromEntries(k.statuses))}`,
  );
}
const stored = receiver.sql("SELECT count(*) FROM usage_events;");
console.log(`rows in usage_events: ${stored}`);
console.log(`RSS and database size over time:\n${samples.join("\n")}`);
const integrity = receiver.sql("PRAGMA integrity_check;");
const code = await receiver.stop();
console.log(`integrity_check: ${integrity}; receiver exit code on SIGTERM: ${code}`);
receiver.cleanup();
const failures = [...kinds.values()].reduce(
  (n, k) =>
    n +
    [...k.statuses]
      .filter(([s]) => s.startsWith("5") || s.startsWith("error"))
      .reduce((m, [, c]) => m + c, 0),
  0,
);
process.exit(failures === 0 && integrity === "ok" && code === 0 ? 0 : 1);
