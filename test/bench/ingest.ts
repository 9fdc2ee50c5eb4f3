// `bun run bench:ingest`: signed v1 reports per second into the compiled receiver, driven by wrk
// with 64 connections, against a bare Bun.serve reference doing the minimum. Prints the figures.

import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatSignatureHeader, signedMessage, toRfc3339 } from "../../src/protocol/index.ts";
import { Client, guideInsert, guideToken, report } from "../support/client.ts";
import { type Litestream, litestreamBinary, replicate } from "../support/litestream.ts";
import { ensureBinary, sqlite3, startReceiver } from "../support/receiver.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const USERS = 64;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 250_000);
// BENCH_LITESTREAM=1: Litestream replicates the receiver's database to a file replica throughout.
const WITH_LITESTREAM = process.env.BENCH_LITESTREAM === "1";

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

/**
 * A wrk script reading pre-signed requests from a tab-separated file (too many for Lua constants);
 * its two threads take alternate lines, so every report sent is distinct.
 */
function wrkScript(dataFile: string): string {
  return `local R = {}
for line in io.lines("${dataFile}") do
  local auth, body, ts, sig = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
  R[#R + 1] = { auth, body, ts, sig }
end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args) i = id end
function request()
  local r = R[i]
  i = i + 2
  if i > #R then i = id end
  return wrk.format("POST", "/report", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. r[1], ["X-CCFLUX-Timestamp"] = r[3], ["X-CCFLUX-Signature"] = r[4] }, r[2])
end
`;
}

function parseWrk(output: string): Figures {
  const unit = (value: string, suffix: string) =>
    Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[suffix] ?? 1);
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(output);
    return m ? unit(m[1]!, m[2]!) : Number.NaN;
  };
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? Number.NaN),
    p50: latency("50"),
    p99: latency("99"),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0),
  };
}

function runWrk(url: string, script: string): Figures {
  const result = Bun.spawnSync([
    "wrk",
    "-t2",
    `-c${CONNECTIONS}`,
    `-d${SECONDS}s`,
    "--latency",
    "-s",
    script,
    url,
  ]);
  const output = result.stdout.toString();
  if (result.exitCode !== 0 || result.stderr.length) throw new Error(`wrk failed: ${result.stderr}`);
  return parseWrk(output);
}

async function main() {
  if (Bun.spawnSync(["which", "wrk"]).exitCode !== 0) throw new Error("wrk is missing: apt-get install wrk");
  ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), "ccflux-bench-"));
  const receiver = await startReceiver({
    binary: true,
    env: { RATE_LIMIT_PER_MINUTE: "1000000000", REQUIRE_SIGNATURES: "1" },
  });
  try {
    const client = new Client(receiver.url);
    const users: { access: string; key: KeyObject; publicKey: Uint8Array }[] = [];
    for (let u = 0; u < USERS; u++) {
      const token = guideToken();
      receiver.sql(guideInsert(token, `bench${u}@example.org`));
      const access = await client.exchange(token);
      // node:crypto signs here only for speed: tweetnacl would take minutes for this many reports,
      // and the tests already prove that tweetnacl's signatures verify.
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const raw = new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(-32));
      const registered = await client.post(
        "/register-key",
        access,
        JSON.stringify({ public_key: Buffer.from(raw).toString("base64"), device_id: `bench-${u}` }),
      );
      if (registered.status !== 200) throw new Error(`register-key answered ${registered.status}`);
      users.push({ access, key: privateKey, publicKey: raw });
    }
    console.log(`signing ${REQUESTS} distinct reports for ${USERS} users…`);
    const timestamp = toRfc3339(Date.now());
    const requests = Array.from({ length: REQUESTS }, (_, i) => {
      const user = users[i % USERS]!;
      const body = JSON.stringify(
        report({ session_id: `bench-${i % 997}`, turn_index: i, timestamp_utc: timestamp }),
      );
      const signature = sign(null, signedMessage(new TextEncoder().encode(body), timestamp), user.key);
      return {
        auth: user.access,
        body,
        headers: {
          "X-CCFLUX-Timestamp": timestamp,
          "X-CCFLUX-Signature": formatSignatureHeader(signature, user.publicKey),
        },
      };
    });
    const data = join(dir, "reports.tsv");
    writeFileSync(
      data,
      requests
        .map((r) =>
          [r.auth, r.body, r.headers["X-CCFLUX-Timestamp"], r.headers["X-CCFLUX-Signature"]].join("\t"),
        )
        .join("\n"),
    );
    const script = join(dir, "reports.lua");
    writeFileSync(script, wrkScript(data));

    let litestream: Litestream | undefined;
    if (WITH_LITESTREAM) {
      const binary = litestreamBinary();
      if (!binary) throw new Error("BENCH_LITESTREAM=1 but litestream is not on PATH (see .ci/run)");
      litestream = await replicate(binary, receiver.dbPath, `file://${dir}/replica`);
    }
    const ours = runWrk(`${receiver.url}/report`, script);
    const stored = Number(receiver.sql("SELECT count(*) FROM usage_events;"));
    await receiver.stop();
    litestream?.proc.kill("SIGTERM");
    await litestream?.proc.exited;

    const refPath = join(dir, "reference.db");
    const reference = Bun.spawn(
      [process.execPath, join(import.meta.dir, "reference-server.ts"), refPath, "0"],
      { stdout: "pipe" },
    );
    const reader = reference.stdout.getReader();
    const line = new TextDecoder().decode((await reader.read()).value);
    const port = /:(\d+)/.exec(line)![1];
    const ref = runWrk(`http://127.0.0.1:${port}/report`, script);
    reference.kill();
    await reference.exited;
    const refStored = Number(sqlite3(refPath, "SELECT count(*) FROM reports;"));

    const row = (name: string, f: Figures, rows: number) =>
      `${name.padEnd(22)} ${f.rps.toFixed(0).padStart(8)} reports/s   p50 ${f.p50.toFixed(2).padStart(6)} ms   p99 ${f.p99.toFixed(2).padStart(6)} ms   non-2xx ${f.non2xx}   rows ${rows}`;
    console.log(
      `\n${SECONDS} s, ${CONNECTIONS} connections, signed v1 reports, REQUIRE_SIGNATURES=1${WITH_LITESTREAM ? ", Litestream replicating to a file replica" : ""}`,
    );
    console.log(row("ccflux-receiver", ours, stored));
    console.log(row("bare Bun.serve", ref, refStored));
    console.log(
      `ratio ${(ours.rps / ref.rps).toFixed(2)} (target ≥ 0.80); target ≥ 8000 reports/s, p99 < 50 ms`,
    );
    if (ours.non2xx > 0)
      console.log(`warning: ${ours.non2xx} reports were refused, so these are not figures of stored reports`);
    if (stored < Math.min(REQUESTS, ours.rps * SECONDS * 0.9))
      console.log("warning: fewer rows than requests: the request set wrapped around");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    receiver.cleanup();
  }
}

await main();
