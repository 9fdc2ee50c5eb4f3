// Fuzz of the ingest limits, against the compiled receiver behind TRUST_PROXY, from a seeded
// generator (CCFLUX_FUZZ_SEED reproduces a run), bounded in count and time: hostile event times,
// floods of model names, of access tokens minted from one refresh token, of device keys and of
// limit events, forged proxy headers on the login form; and data an older receiver may have stored
// (reports dated year 0 and 1000, 20,000 model names). Pass: no 5xx, every cap answers its code,
// stored times stay within the horizon, RSS stays bounded, and afterwards every dashboard page
// answers 200, small and fast (the figures are printed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseRfc3339, toRfc3339 } from "../../src/protocol/index.ts";
import { LOGIN_ATTEMPTS_PER_MINUTE } from "../../src/receiver/admin/access.ts";
import { MAX_DEVICE_KEYS_PER_PERSON } from "../../src/receiver/keys/service.ts";
import { MAX_LIMIT_EVENTS_PER_DAY } from "../../src/receiver/reports/limit-event-cap.ts";
import { MAX_MODELS_PER_ORGANISATION, MAX_MODELS_PER_USER } from "../../src/receiver/reports/model-names.ts";
import { EVENT_HORIZON_DAYS } from "../../src/receiver/reports/service.ts";
import { Client, newDevice, report } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { provision, rng, rssKib, type User } from "./support.ts";

const SEED = Number(process.env.CCFLUX_FUZZ_SEED ?? 11_009);
const ADMIN_TOKEN = "fuzz-ingest-admin-token-2c4e6a8b0d1f3e5a";
const RATE_LIMIT = 30; // the default: the per-person budget is twice this
/** RSS growth allowed over the floods; the caches that grow are bounded (limiters, SQLite's pages). */
const FLOOD_RSS_GROWTH_MIB = 80;
/** And over the whole run, with pages drawn from 20,000 model names' rows (freed lazily). */
const RSS_GROWTH_MIB = 200;
/** Generous: a page of a loaded 2-core CI machine, not a benchmark (test/bench/dashboard.ts is). */
const PAGE_SECONDS = 5;
const PAGE_BYTES = 2_000_000;
const DAY_MS = 86_400_000;
const HOSTILE_REPORTS = 19;
const HOSTILE_EVENTS = RATE_LIMIT - 1 - HOSTILE_REPORTS;

const random = rng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (n: number) => Math.floor(random() * n);
const usage = () => ({
  input_tokens: int(5000),
  output_tokens: int(2000),
  cache_read_tokens: int(50_000),
  cache_write_tokens: int(5000),
});

let receiver: TestReceiver;
let client: Client;
let rssBefore = 0;
const statuses = new Map<string, number>();
const failures: string[] = [];

/** Counts the answer by route and status; a 5xx is a failure. */
async function note(route: string, response: Response): Promise<Response> {
  const key = `${route} ${response.status}${response.headers.get("x-ccflux-error") ? ` ${response.headers.get("x-ccflux-error")}` : ""}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  if (response.status >= 500 && failures.length < 10)
    failures.push(`${key}: ${await response.clone().text()}`);
  return response;
}

const count = (prefix: string) =>
  [...statuses].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);

/** An instant no sane clock gives: year 0, the Middle Ages, the far future, odd offsets, garbage. */
function hostileTime(): string {
  const at = (ms: number) => toRfc3339(ms);
  return pick([
    () => "0000-01-01T00:00:00Z",
    () => "1000-01-01T00:00:00Z",
    () => "9999-12-31T23:59:59Z",
    () => "1970-01-01T00:00:00Z",
    () =>
      `${String(int(10_000)).padStart(4, "0")}-${String(1 + int(12)).padStart(2, "0")}-${String(1 + int(28)).padStart(2, "0")}T00:00:00${pick(["Z", "+14:00", "-12:00", "+23:59"])}`,
    () => at(Date.now() - (EVENT_HORIZON_DAYS + 1 + int(100_000)) * DAY_MS),
    () => at(Date.now() + (1 + int(1000)) * 3_600_000),
    () => "2026-02-31T00:00:00Z",
    () => "2026-12-31T23:59:60Z",
    () => pick(["", "yesterday", "0", "-1", "NaN", "2026-13-01T00:00:00Z"]),
    () => at(Date.now() - int(EVENT_HORIZON_DAYS - 1) * DAY_MS), // a fair one now and then
  ])();
}

/** A model name a flood might carry: 1 to 128 characters of any alphabet. */
function modelName(): string {
  const alphabet = [
    ...pick(["abcdefghijklmnopqrstuvwxyz0123456789-._", "é漢字🙂\u202e<>&\"'", "'\";--/*%_\\"]),
  ];
  const length = 1 + int(pick([12, 40, 120]));
  return Array.from({ length }, () => pick(alphabet))
    .join("")
    .slice(0, 128);
}

let users: User[];

beforeAll(async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: {
      ADMIN_TOKEN,
      TRUST_PROXY: "1",
      RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
      TIER_INFERENCE_INTERVAL_SECS: "5",
    },
  });
  client = new Client(receiver.url);
  users = await provision(receiver, 24, "ingest");
  rssBefore = rssKib(receiver.proc.pid);
}, 60_000);
afterAll(async () => {
  if (receiver.proc.exitCode === null) await receiver.kill();
  receiver.cleanup();
});

describe(`ingest limits under fuzz (seed ${SEED})`, () => {
  test("hostile event times are stored within the horizon, never refused, never a 5xx", async () => {
    const hostile = users.slice(0, 3);
    for (const [u, user] of hostile.entries()) {
      // Within the access token's budget: its registration, these reports and the events below.
      for (let turn = 0; turn < HOSTILE_REPORTS; turn++) {
        const body = report({ session_id: `times-${u}`, turn_index: turn, timestamp_utc: hostileTime() });
        const response = await note("/report", await client.send(user.accessToken, body, user.device));
        await response.arrayBuffer();
      }
      for (let n = 0; n < HOSTILE_EVENTS; n++) {
        // A limit event's time must parse (else 400, as before); any parseable one is taken.
        let timestamp_utc = hostileTime();
        while (parseRfc3339(timestamp_utc) === null) timestamp_utc = hostileTime();
        const event = { schema_version: 2, session_id: `times-${u}`, timestamp_utc, kind: "rate_limit" };
        await (
          await note("/limit-event", await client.send(user.accessToken, event, user.device, "/limit-event"))
        ).arrayBuffer();
      }
    }
    expect(failures).toEqual([]);
    expect(count("/report 200")).toBe(3 * HOSTILE_REPORTS);
    expect(count("/limit-event 200")).toBe(3 * HOSTILE_EVENTS);
    const outside = (table: string) =>
      receiver.sql(
        `SELECT count(*) FROM ${table} WHERE email LIKE 'ingest%' AND (unixepoch(event_at) < unixepoch('now', '-${EVENT_HORIZON_DAYS + 1} days') OR unixepoch(event_at) > unixepoch('now', '+11 minutes'));`,
      );
    expect(outside("usage_events")).toBe("0");
    expect(outside("limit_events")).toBe("0");
    expect(receiver.sql("SELECT count(*) FROM usage_daily WHERE day < date('now', '-401 days');")).toBe("0");
  }, 60_000);

  test("a model-name flood meets the per-user cap, then the organisation's, with 400 too-many-models", async () => {
    const flooders = users.slice(3, 3 + Math.ceil(MAX_MODELS_PER_ORGANISATION / 20) + 2);
    for (const [u, user] of flooders.entries()) {
      for (let turn = 0; turn < 3; turn++) {
        const models = Object.fromEntries(Array.from({ length: 20 }, () => [modelName(), usage()]));
        const body = report({ session_id: `names-${u}`, turn_index: turn, models });
        await (await note("/report", await client.send(user.accessToken, body, user.device))).arrayBuffer();
      }
    }
    expect(failures).toEqual([]);
    expect(count("/report 400 too-many-models")).toBeGreaterThanOrEqual(flooders.length * 2);
    const perUser = receiver.sql(
      "SELECT max(n) FROM (SELECT count(*) AS n FROM user_models GROUP BY email);",
    );
    expect(Number(perUser)).toBeLessThanOrEqual(MAX_MODELS_PER_USER);
    expect(Number(receiver.sql("SELECT count(*) FROM model_colours;"))).toBeLessThanOrEqual(
      MAX_MODELS_PER_ORGANISATION,
    );
    // Fill the organisation's list to its cap (whole reports only fit below it), then a known
    // name still works and a new one does not.
    const fillers = users.slice(3 + flooders.length, users.length - 4);
    for (const [f, filler] of fillers.entries()) {
      const left = MAX_MODELS_PER_ORGANISATION - Number(receiver.sql("SELECT count(*) FROM model_colours;"));
      if (left === 0) break;
      const models = Object.fromEntries(
        Array.from({ length: Math.min(left, 20) }, (_, i) => [`fill-${f}-${i}`, usage()]),
      );
      const body = report({ session_id: "fill", models });
      expect((await note("/report", await client.send(filler.accessToken, body, filler.device))).status).toBe(
        200,
      );
    }
    expect(receiver.sql("SELECT count(*) FROM model_colours;")).toBe(String(MAX_MODELS_PER_ORGANISATION));
    const [late] = users.slice(-1);
    const known = receiver.sql("SELECT model FROM model_colours ORDER BY slot LIMIT 1;");
    const fresh = report({ session_id: "late", models: { "claude-new-model-2027": usage() } });
    const refused = await note("/report", await client.send(late!.accessToken, fresh, late!.device));
    expect(refused.headers.get("x-ccflux-error")).toBe("too-many-models");
    expect(((await refused.json()) as { message: string }).message).toContain("All users together");
    const ok = report({ session_id: "late", turn_index: 1, models: { [known]: usage() } });
    expect((await note("/report", await client.send(late!.accessToken, ok, late!.device))).status).toBe(200);
  }, 60_000);

  test("minting access tokens from one refresh token buys no budget: the person's limit holds", async () => {
    const user = users[users.length - 2]!;
    const tokens: string[] = [];
    for (let i = 0; i < RATE_LIMIT - 1; i++) {
      const minted = await note("/token", await client.post("/token", user.refreshToken));
      if (minted.status === 200)
        tokens.push(((await minted.json()) as { access_token: string }).access_token);
      else await minted.arrayBuffer();
    }
    expect(tokens.length).toBe(RATE_LIMIT - 1);
    const answers: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; i < 3 * RATE_LIMIT; i += 4) {
          const body = report({ session_id: "minted", turn_index: i });
          const response = await note(
            "/report",
            await client.send(tokens[i % tokens.length]!, body, user.device),
          );
          answers.push(response.status);
          await response.arrayBuffer();
        }
      }),
    );
    // The registration in provision() counted once against the person.
    expect(answers.filter((s) => s === 200).length).toBe(2 * RATE_LIMIT - 1);
    expect(answers.filter((s) => s === 429).length).toBe(3 * RATE_LIMIT - (2 * RATE_LIMIT - 1));
    expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${user.email}';`)).toBe(
      String(2 * RATE_LIMIT - 1),
    );
  }, 60_000);

  test("device keys and limit events per person stop at their caps with their codes", async () => {
    const user = users[users.length - 3]!;
    for (let i = 0; i < MAX_DEVICE_KEYS_PER_PERSON + 3; i++) {
      await (
        await note("/register-key", await client.registerKey(user.accessToken, newDevice(), `fuzz-${i}`))
      ).arrayBuffer();
    }
    expect(count("/register-key 403 too-many-devices")).toBe(4);
    expect(
      receiver.sql(`SELECT count(*) FROM device_keys WHERE email = '${user.email}' AND revoked = 0;`),
    ).toBe(String(MAX_DEVICE_KEYS_PER_PERSON));
    const other = users[users.length - 4]!;
    receiver.sql(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${MAX_LIMIT_EVENTS_PER_DAY - 5})
       INSERT INTO limit_events (email, session_id, timestamp_utc, event_at, kind, received_at)
       SELECT '${other.email}', 'seeded', 'seeded-' || i, datetime('now'), 'rate_limit', datetime('now') FROM n;`,
    );
    // One second apart from one start: read afresh each time, the clock could pass a second between
    // two events and give them the same time, the second then a duplicate of the first.
    const start = Date.now();
    for (let i = 0; i < 12; i++) {
      const event = {
        schema_version: 2,
        session_id: "flood",
        timestamp_utc: toRfc3339(start - i * 1000),
        kind: "rate_limit",
      };
      await (
        await note("/limit-event", await client.send(other.accessToken, event, other.device, "/limit-event"))
      ).arrayBuffer();
    }
    expect(count("/limit-event 429 too-many-limit-events")).toBe(7);
    expect(receiver.sql(`SELECT count(*) FROM limit_events WHERE email = '${other.email}';`)).toBe(
      String(MAX_LIMIT_EVENTS_PER_DAY),
    );
    expect(failures).toEqual([]);
  }, 60_000);

  test("forged proxy headers neither move the address nor dodge the login limit", async () => {
    const attempt = (headers: Record<string, string>) =>
      fetch(`${receiver.url}/admin/login`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
        body: `token=wrong-${int(1e9)}&next=%2Fadmin%2F`,
        redirect: "manual",
      }).then((r) => note("/admin/login", r));
    // Only X-Forwarded-For / Forwarded forged: the receiver sees the one peer, 127.0.0.1.
    const peer: number[] = [];
    for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE + 5; i++) {
      const response = await attempt({
        "X-Forwarded-For": `${int(256)}.${int(256)}.${int(256)}.${int(256)}, 10.0.0.${int(256)}`,
        Forwarded: `for="[2001:db8::${int(65536).toString(16)}]"`,
      });
      peer.push(response.status);
      await response.arrayBuffer();
    }
    expect(peer.slice(0, LOGIN_ATTEMPTS_PER_MINUTE).every((s) => s === 401)).toBe(true);
    expect(peer.slice(LOGIN_ATTEMPTS_PER_MINUTE).every((s) => s === 429)).toBe(true);
    // Rotating through one IPv6 /64 is one address to the limit.
    const block: number[] = [];
    for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE + 5; i++) {
      const host = Array.from({ length: 4 }, () => int(65536).toString(16)).join(":");
      const response = await attempt({ "X-Real-IP": `2001:db8:77:10:${host}` });
      block.push(response.status);
      await response.arrayBuffer();
    }
    expect(block.slice(0, LOGIN_ATTEMPTS_PER_MINUTE).every((s) => s === 401)).toBe(true);
    expect(block.slice(LOGIN_ATTEMPTS_PER_MINUTE).every((s) => s === 429)).toBe(true);
    // Garbage in X-Real-IP is stored cut to 64 characters and never a 5xx.
    for (let i = 0; i < 20; i++) {
      await (
        await attempt({ "X-Real-IP": `${"x".repeat(int(300))}${modelName().replace(/[^\x20-\x7e]/g, "?")}` })
      ).arrayBuffer();
    }
    expect(receiver.sql("SELECT max(length(address)) FROM admin_audit;")).toMatch(/^(\d|[1-5]\d|6[0-4])$/);
    // The forged X-Forwarded-For and Forwarded values appear nowhere; the peer's failures were audited.
    expect(
      receiver.sql(
        "SELECT count(*) FROM admin_audit WHERE address LIKE '%10.0.0.%' OR address LIKE '%2001:db8::%';",
      ),
    ).toBe("0");
    expect(
      receiver.sql(
        "SELECT count(*) FROM admin_audit WHERE address = '127.0.0.1' AND action = 'login-failed';",
      ),
    ).toBe(String(LOGIN_ATTEMPTS_PER_MINUTE));
    expect(failures).toEqual([]);
  }, 60_000);

  test("afterwards, with what older receivers stored too, every page answers 200, small and fast", async () => {
    const rssAfterFloods = rssKib(receiver.proc.pid);
    // Rows an older receiver (no horizon, no caps) may hold: year 0 and 1000, 20,000 model names.
    receiver.sql(
      `INSERT INTO usage_daily (email, day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
         cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens, subagent_output_tokens,
         subagent_cache_read_tokens, subagent_cache_write_tokens, turns)
       VALUES ('ancient@example.org', '0000-01-01', 'claude-sonnet-4-5', 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
              ('ancient@example.org', '1000-01-01', 'claude-sonnet-4-5', 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
       INSERT INTO usage_hourly (email, hour, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns)
       VALUES ('ancient@example.org', '0000-01-01 00:00:00', 5, 5, 0, 0, 1), ('ancient@example.org', '1000-01-01 00:00:00', 7, 7, 0, 0, 1);
       INSERT INTO session_days (email, day, session_id, turns) VALUES ('ancient@example.org', '0000-01-01', 's', 1);
       INSERT INTO limit_events (email, session_id, timestamp_utc, event_at, kind, received_at)
       VALUES ('ancient@example.org', 's', '0000-01-01T00:00:00Z', '0000-01-01 00:00:00', 'rate_limit', datetime('now'));
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
       INSERT INTO usage_daily (email, day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
         cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens, subagent_output_tokens,
         subagent_cache_read_tokens, subagent_cache_write_tokens, turns)
       SELECT 'names@example.org', date('now'), 'flood-' || i, i, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 FROM n;
       INSERT INTO usage_hourly (email, hour, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, turns)
       VALUES ('names@example.org', strftime('%Y-%m-%d %H:00:00', 'now'), 200010000, 20000, 0, 0, 20000);`,
    );
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Real-IP": "192.0.2.10" };
    const figures: string[] = [];
    const pages = [
      "/admin/?range=all",
      "/admin/",
      "/admin/?range=7",
      "/admin/devices",
      "/admin/audit",
      "/admin/users/ancient%40example.org?range=all",
      "/admin/users/names%40example.org?range=all",
      ...users.map((u) => `/admin/users/${encodeURIComponent(u.email)}?range=all`),
    ];
    // Twice: the first view of a page may assign colour slots.
    for (const round of [1, 2]) {
      for (const page of pages) {
        const started = performance.now();
        const response = await note("/admin page", await fetch(`${receiver.url}${page}`, { headers: admin }));
        const text = await response.text();
        const seconds = (performance.now() - started) / 1000;
        expect(`${page} ${response.status}`).toBe(`${page} 200`);
        expect(text).toContain("</html>");
        expect(text.length).toBeLessThan(PAGE_BYTES);
        expect(seconds).toBeLessThan(PAGE_SECONDS);
        if (
          round === 2 &&
          (page.includes("range=all") || page === "/admin/devices") &&
          !page.includes("ingest")
        )
          figures.push(`${page} ${(text.length / 1024).toFixed(0)} KiB ${(seconds * 1000).toFixed(0)} ms`);
      }
    }
    const health = await fetch(`${receiver.url}/health`);
    expect(health.status).toBe(200);
    const rssAfter = rssKib(receiver.proc.pid);
    const summary = [...statuses]
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ");
    console.log(
      `fuzz-ingest seed ${SEED}: RSS ${(rssBefore / 1024).toFixed(0)} → ${(rssAfterFloods / 1024).toFixed(0)} MiB after the floods → ${(rssAfter / 1024).toFixed(0)} MiB after the pages\n${figures.join("\n")}\n${summary}`,
    );
    expect(failures).toEqual([]);
    expect((rssAfterFloods - rssBefore) / 1024).toBeLessThan(FLOOD_RSS_GROWTH_MIB);
    expect((rssAfter - rssBefore) / 1024).toBeLessThan(RSS_GROWTH_MIB);
    expect(receiver.output()).not.toMatch(/ error request failed/);
    expect(receiver.sql("PRAGMA integrity_check;")).toBe("ok");
    expect(await receiver.stop()).toBe(0);
  }, 120_000);
});
