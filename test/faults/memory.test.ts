// Memory under floods: random bearer strings on /report, /register-key and /token, and admin
// login attempts (and wrong admin bearers) from ever-new client addresses (TRUST_PROXY on, so
// X-Real-IP makes each attempt a stranger), must not grow the compiled receiver's RSS
// past a fixed bound: three floods of 100,000 requests, RSS measured after each.
//
// Why this bound: every random bearer gets its own rate-limit entry (the limit is checked before
// the token, by design) and every new address one in the login limiter; each limiter keeps at most
// 100,000 keys, least recently seen dropped first. An entry is a 64-character digest plus a tiny
// log, a few hundred bytes, so full limiters are tens of MiB; the garbage collector runs lazily and
// adds as much again before RSS levels off (measured here: +35, +80, +93, then back to +70 MiB
// over 700,000 requests). 128 MiB over the warmed-up baseline allows that and no more: a leak
// of half a KiB per request (150 MiB over the 300,000) breaks it.
import { afterAll, expect, test } from "bun:test";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { provision, rng, rssKib } from "./support.ts";

const FLOOD = 100_000; // requests per flood; the three together overflow the limiters' 100,000 keys
const CONNECTIONS = 32;
const GROWTH_MIB = 128;
const ADMIN_TOKEN = "memory-admin-token-0123456789abcdef";

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  receiver?.cleanup();
});

test("floods of random bearers and login attempts keep RSS under a fixed bound", async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: { ADMIN_TOKEN, TRUST_PROXY: "1", REQUIRE_SIGNATURES: "1", TIER_INFERENCE_INTERVAL_SECS: "3600" },
  });
  const url = receiver.url;
  const [user] = await provision(receiver, 1);
  const random = rng(6009);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
  const status = new Map<string, number>();
  let sent = 0;

  const flood = async (total: number) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (i < total) {
          const n = i++;
          const kind = n % 10;
          let response: Response;
          if (kind < 6) {
            // A random bearer of a realistic length on the report endpoints, and on /token.
            const path = ["/report", "/report", "/register-key", "/token", "/limit-event", "/report"][kind]!;
            response = await fetch(`${url}${path}`, {
              method: "POST",
              headers: { Authorization: `Bearer ${hex(32 + (n % 64))}`, "Content-Type": "application/json" },
              body: "{}",
            });
          } else if (kind < 9) {
            // A login attempt from a new address each time.
            response = await fetch(`${url}/admin/login`, {
              method: "POST",
              headers: {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Real-IP": `10.${n % 256}.${(n >> 8) % 256}.${(n >> 16) % 256}`,
              },
              body: `token=${hex(40)}&next=%2Fadmin%2F`,
              redirect: "manual",
            });
          } else {
            // A wrong admin bearer from a new address.
            response = await fetch(`${url}/admin/`, {
              headers: { Authorization: `Bearer ${hex(40)}`, "X-Real-IP": `fd00:${n.toString(16)}::1` },
              redirect: "manual",
            });
          }
          await response.arrayBuffer();
          status.set(String(response.status), (status.get(String(response.status)) ?? 0) + 1);
          sent++;
        }
      }),
    );
  };

  // Warm up with real work, so the baseline includes what serving normally costs.
  await flood(5_000);
  Bun.gc(true);
  const baseline = rssKib(receiver.proc.pid);
  const started = performance.now();
  const after: number[] = [];
  for (let i = 0; i < 3; i++) {
    await flood(FLOOD);
    after.push(rssKib(receiver.proc.pid));
  }
  const seconds = (performance.now() - started) / 1000;
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  console.log(
    `memory: ${sent} requests in ${seconds.toFixed(0)} s; RSS ${mib(baseline)} → ${after.map(mib).join(" → ")} MiB; statuses ${JSON.stringify(Object.fromEntries(status))}`,
  );
  expect(status.get("500") ?? 0).toBe(0);
  expect(status.get("401")).toBeGreaterThan(FLOOD); // the floods were refused, not served
  expect((Math.max(...after) - baseline) / 1024).toBeLessThan(GROWTH_MIB);
  // The receiver still serves its users.
  const health = await fetch(`${url}/health`);
  expect(health.status).toBe(200);
  const token = await fetch(`${url}/token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user!.refreshToken}` },
  });
  expect(token.status).toBe(200);
  expect(await receiver.stop()).toBe(0);
}, 180_000);
