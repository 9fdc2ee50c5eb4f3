// Fuzz: over 10,000 generated and mutated requests to /token, /register-key, /report,
// /limit-event and the admin forms, from a seeded generator (CCFLUX_FUZZ_SEED reproduces a run).
// Wrong types, huge and negative numbers, deep nesting, invalid UTF-8, oversize headers, duplicate
// keys, every field at and past its limit, random bearers, broken signature headers, random bytes.
// Pass: no 5xx, the process never dies, RSS stays bounded, some of it was really stored, and the
// dashboard afterwards shows everything stored (every page and user page 200, exports parse).
import { afterAll, expect, test } from "bun:test";
import { toBase64, toRfc3339 } from "../../src/protocol/index.ts";
import { newDevice, report, signHeaders } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import {
  enc,
  int,
  pick,
  provision,
  type Random,
  randomBytes,
  randomText,
  rawExchange,
  rawStatus,
  rng,
  rssKib,
  type User,
} from "./support.ts";

const SEED = Number(process.env.CCFLUX_FUZZ_SEED ?? 60_006);
const TOTAL = 11_500;
const CONNECTIONS = 12;
const ADMIN_TOKEN = "fuzz-admin-token-7f3a9c1e5b2d4f6a8c0e";
/** RSS growth allowed over the whole run: caches are bounded (rate limiter, SQLite page cache). */
const RSS_GROWTH_MIB = 150;

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  receiver?.cleanup();
});

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

/** A value of some wrong (or right) type. */
function anyValue(r: Random): unknown {
  return pick(r, [
    () => null,
    () => true,
    () => int(r, 100),
    () => -1,
    () => 1.5,
    () => 1e308,
    () => -1e308,
    () => 2 ** 53 + 1,
    () => 10_000_000_000,
    () => 10_000_000_001,
    () => "1",
    () => randomText(r, 40),
    () => "x".repeat(70_000),
    () => [],
    () => [1, "a", null],
    () => ({}),
    () => nested(1 + int(r, 3000)),
  ])();
}

const usage = (n: number) => ({
  input_tokens: n,
  output_tokens: n,
  cache_read_tokens: n,
  cache_write_tokens: n,
});

/** A report body: valid, at a limit, past a limit, or with one field replaced by anything. */
function reportBody(r: Random, user: User, counter: number): unknown {
  const base: Record<string, unknown> = {
    ...report({ session_id: `fuzz-${counter % 50}`, user_email: user.email, turn_index: counter }),
    schema_version: pick(r, [1, 2]),
  };
  const models: Record<string, unknown> = {};
  switch (int(r, 16)) {
    case 0:
      base.session_id = "s".repeat(64);
      break;
    case 1:
      base.session_id = "s".repeat(65);
      break;
    case 2:
      for (let i = 0; i < 20; i++) models[`m${i}-${randomText(r, 20)}`] = usage(int(r, 1000));
      base.models = models;
      break;
    case 3:
      for (let i = 0; i < 21; i++) models[`m${i}`] = usage(1);
      base.models = models;
      break;
    case 4:
      base.models = { ["m".repeat(128)]: usage(10_000_000_000) };
      break;
    case 5:
      base.models = { ["m".repeat(129)]: usage(1) };
      break;
    case 6:
      base.models = {
        [randomText(r, 30) || "x"]: { ...usage(1), [pick(r, Object.keys(usage(0)))]: anyValue(r) },
      };
      break;
    case 7:
      base.plugin_version = pick(r, ["v".repeat(64), "v".repeat(65), anyValue(r)]);
      break;
    case 8:
      base.timestamp_utc = pick(r, [
        "",
        "garbage",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2026-13-45T25:61:61Z",
        anyValue(r),
      ]);
      break;
    case 9:
      base.session_start_utc = anyValue(r);
      break;
    case 10:
      base.turn_index = pick(r, [-1, 2 ** 53, 2 ** 63, 1.5, anyValue(r)]);
      break;
    case 11:
      base[pick(r, Object.keys(base))] = anyValue(r);
      break;
    case 12:
      base.claude_code_version = anyValue(r);
      base.models = {
        "claude-opus-4-6": { ...usage(5), subagent: pick(r, [usage(1), anyValue(r)]), requests: anyValue(r) },
      };
      break;
    case 13:
      base.models = anyValue(r);
      break;
    default:
      break; // valid
  }
  return base;
}

function limitBody(r: Random, counter: number): unknown {
  const base: Record<string, unknown> = {
    schema_version: 2,
    session_id: `fuzz-${counter % 50}`,
    timestamp_utc: toRfc3339(Date.now() - int(r, 10_000_000)),
    kind: "rate_limit",
    resets_at: toRfc3339(Date.now() + 3_600_000),
  };
  if (r() < 0.6) base[pick(r, [...Object.keys(base), "extra"])] = anyValue(r);
  return base;
}

/** Text mutations of a JSON body: duplicate keys, cut, byte flips, invalid UTF-8, deep nesting. */
function mutate(r: Random, json: string): Uint8Array {
  const bytes = new TextEncoder().encode(json);
  switch (int(r, 6)) {
    case 0:
      return new TextEncoder().encode(
        json.replace(/^\{/, `{"session_id":${JSON.stringify(randomText(r, 80))},`),
      );
    case 1:
      return bytes.subarray(0, int(r, bytes.length));
    case 2: {
      const copy = bytes.slice();
      for (let i = 0; i < 1 + int(r, 8); i++) copy[int(r, copy.length)] = int(r, 256);
      return copy;
    }
    case 3: {
      const at = int(r, bytes.length);
      return new Uint8Array([
        ...bytes.subarray(0, at),
        0xc3,
        0x28,
        0xff,
        0xfe,
        0xed,
        0xa0,
        0x80,
        ...bytes.subarray(at),
      ]);
    }
    case 4:
      return new TextEncoder().encode(`${"[".repeat(50_000)}${"]".repeat(50_000)}`);
    default:
      return randomBytes(r, int(r, 2048));
  }
}

/** A broken X-CCFLUX-Signature header (or a good one for another key or body). */
function brokenSignature(r: Random, body: Uint8Array, user: User): Record<string, string> {
  const good = signHeaders(body, user.device);
  const [, sig, key] = good["X-CCFLUX-Signature"]!.split(" ");
  const other = newDevice();
  const value = pick(r, [
    "",
    "ed25519",
    `ed25519 ${sig}`,
    `rsa ${sig} ${key}`,
    `ED25519 ${sig} ${key}`,
    `ed25519 ${sig}== ${key}`,
    `ed25519 !!!${sig} ${key}`,
    `ed25519 ${toBase64(randomBytes(r, 64))} ${key}`,
    `ed25519 ${toBase64(randomBytes(r, 63))} ${key}`,
    `ed25519 ${sig} ${toBase64(randomBytes(r, 31))}`,
    `ed25519 ${sig} ${other.publicKey}`,
    signHeaders(body, other)["X-CCFLUX-Signature"]!,
    `ed25519  ${sig}  ${key} extra`,
    randomText(r, 300),
    "x".repeat(20_000),
  ]);
  const timestamp = pick(r, [
    good["X-CCFLUX-Timestamp"]!,
    "",
    "yesterday",
    "2026-05-11T03:00:00+00:00",
    randomText(r, 40),
  ]);
  const headers: Record<string, string> = { "X-CCFLUX-Signature": value };
  if (r() < 0.8) headers["X-CCFLUX-Timestamp"] = timestamp;
  return headers;
}

function bearer(r: Random, valid: string): string | null {
  return pick(r, [
    null,
    "",
    valid,
    valid,
    valid,
    valid,
    valid,
    valid.slice(0, -1),
    `${valid}x`,
    randomText(r, 100),
    toBase64(randomBytes(r, 48)),
    "x".repeat(int(r, 30_000)),
  ]);
}

interface Request {
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
  raw?: Uint8Array;
}

const ADMIN_GETS = [
  "/admin/",
  "/admin/devices",
  "/admin/tokens",
  "/admin/audit",
  "/admin/api/usage.csv",
  "/admin/api/usage.json",
  "/admin/login",
  "/admin/tokens/issued",
];

/** A logged-in dashboard session: its cookie and CSRF token. */
interface Session {
  cookie: string;
  csrf: string;
}

function adminRequest(r: Random, users: User[], session: Session): Request {
  const auth = pick(r, [
    `Bearer ${ADMIN_TOKEN}`,
    `Bearer ${ADMIN_TOKEN}`,
    `Bearer ${randomText(r, 60)}`,
    "",
    `bearer ${ADMIN_TOKEN}`,
    "session",
    "session",
    "session",
  ]);
  const headers: Record<string, string> = {};
  const viaSession = auth === "session";
  if (viaSession) {
    headers.Cookie = pick(r, [
      session.cookie,
      session.cookie,
      `${session.cookie}x`,
      `ccflux_admin=${randomText(r, 40)}`,
    ]);
  } else if (auth) {
    headers.Authorization = auth;
    // The script with the right token has an address of its own: the guessers' address is locked
    // out by the login limit, whatever bearer it sends (TRUST_PROXY is on for this).
    headers["X-Real-IP"] = auth.endsWith(` ${ADMIN_TOKEN}`) ? "192.0.2.10" : "198.51.100.66";
  }
  const form = (given: Record<string, unknown>) => {
    // A session's form carries the CSRF token: right, wrong, missing or of the wrong type.
    const fields = viaSession
      ? {
          csrf: pick(r, [session.csrf, session.csrf, session.csrf, "", `${session.csrf}x`, anyValue(r)]),
          ...given,
        }
      : given;
    const kind = int(r, 4);
    if (kind === 0) {
      headers["Content-Type"] = "application/json";
      return JSON.stringify(fields);
    }
    if (kind === 1) {
      headers["Content-Type"] = pick(r, [
        "multipart/form-data; boundary=zz",
        "text/plain",
        "application/xml",
        randomText(r, 30),
      ]);
      return mutate(r, JSON.stringify(fields));
    }
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    return Object.entries(fields)
      .map(([k, v]) => `${enc(k)}=${enc(typeof v === "string" ? v : JSON.stringify(v))}`)
      .join("&")
      .concat(kind === 3 ? `&${Object.keys(fields)[0] ?? "x"}=dup&%ZZ=%` : "");
  };
  const text = () => pick(r, [randomText(r, 80), "x".repeat(2000), "x".repeat(2001), anyValue(r)]);
  switch (int(r, 7)) {
    case 0: {
      const query = pick(r, [
        "range=7",
        "range=abc",
        "range=-1",
        "range=99999999",
        `sort=${randomText(r, 20)}`,
        `q=${enc(randomText(r, 50))}`,
        "export",
        "reveal=nonsense",
      ]);
      return { method: "GET", path: `${pick(r, ADMIN_GETS)}?${query}`, headers };
    }
    case 1: {
      const email = pick(r, [
        users[int(r, users.length)]!.email,
        randomText(r, 60),
        "%00",
        "..%2F..%2Fetc",
        "x".repeat(2001),
      ]);
      return {
        method: "GET",
        path: `/admin/users/${enc(email)}?range=${pick(r, ["7", "30", "x"])}`,
        headers,
      };
    }
    case 2: {
      const email = pick(r, [`fuzz${int(r, 1000)}@example.org`, text()]);
      return {
        method: "POST",
        path: "/admin/tokens",
        headers,
        body: form({
          email,
          division: pick(r, ["eng", text()]),
          days: pick(r, ["30", "0", "-5", "1e9", "99999999999", text()]),
        }),
      };
    }
    case 3:
      return {
        method: "POST",
        path: `/admin/tokens/${pick(r, ["99999", "0", "-1", "abc", "1e3", "9".repeat(21)])}/${pick(r, ["revoke", "reissue"])}`,
        headers,
        body: form({ days: text(), return: pick(r, ["/admin/", "https://evil.example", "//evil", text()]) }),
      };
    case 4:
      return {
        method: "POST",
        path: "/admin/devices/revoke",
        headers,
        body: form({ public_key: pick(r, [toBase64(randomBytes(r, 32)), text()]), return: text() }),
      };
    case 5:
      return {
        method: "POST",
        path: "/admin/login",
        headers: {},
        body: form({ token: pick(r, [text(), "", ADMIN_TOKEN.slice(1)]), next: text() }),
      };
    default:
      return {
        method: "POST",
        // A session never logs out here: the rest of the run uses it.
        path: viaSession ? "/admin/tiers/recompute" : pick(r, ["/admin/tiers/recompute", "/admin/logout"]),
        headers,
        body: form(viaSession ? { return: text() } : { csrf: text(), return: text() }),
      };
  }
}

function apiRequest(r: Random, users: User[], counter: number): Request {
  const user = users[int(r, users.length)]!;
  const path = pick(r, ["/token", "/register-key", "/report", "/report", "/report", "/limit-event"]);
  const headers: Record<string, string> = {
    "Content-Type": pick(r, ["application/json", "application/json", "text/plain", ""]),
  };
  let body: Uint8Array;
  if (path === "/token") {
    body = r() < 0.5 ? new Uint8Array() : mutate(r, JSON.stringify(anyValue(r)));
    const token = bearer(r, user.refreshToken);
    if (token !== null)
      headers.Authorization = `${pick(r, ["Bearer", "bearer", "BEARER", "Basic", ""])} ${token}`;
    return { method: "POST", path, headers, body };
  }
  if (path === "/register-key") {
    const fields: Record<string, unknown> = {
      public_key: pick(r, [
        newDevice().publicKey,
        user.device.publicKey,
        toBase64(randomBytes(r, 31)),
        toBase64(randomBytes(r, 33)),
        "not base64!",
        anyValue(r),
      ]),
      device_id: pick(r, ["d".repeat(255), "d".repeat(256), randomText(r, 100), anyValue(r)]),
    };
    const json = JSON.stringify(fields);
    body = r() < 0.7 ? new TextEncoder().encode(json) : mutate(r, json);
  } else {
    const json = JSON.stringify(path === "/report" ? reportBody(r, user, counter) : limitBody(r, counter));
    body = r() < 0.75 ? new TextEncoder().encode(json) : mutate(r, json);
  }
  const token = bearer(r, user.accessToken);
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (path !== "/register-key")
    Object.assign(headers, r() < 0.7 ? signHeaders(body, user.device) : brokenSignature(r, body, user));
  if (r() < 0.03)
    headers[pick(r, ["X-Big", "Cookie", "X-CCFLUX-Timestamp"])] = "h".repeat(
      pick(r, [8_000, 17_000, 70_000]),
    );
  if (r() < 0.02)
    for (let i = 0; i < 200; i++) headers[`X-Extra-${i}`] = randomText(r, 50).replace(/[^\x21-\x7e]/g, "x");
  return { method: "POST", path, headers, body };
}

/** A request with raw bytes where fetch would refuse them: invalid UTF-8 and control bytes in headers. */
function rawRequest(r: Random, port: number, users: User[]): Request {
  const user = users[int(r, users.length)]!;
  const body = new TextEncoder().encode(JSON.stringify(report({ user_email: user.email })));
  const junk = randomBytes(r, 1 + int(r, 200)).map((b) => (b === 10 || b === 13 ? 0x80 : b));
  const head = new TextEncoder().encode(
    `POST ${pick(r, ["/report", "/token", "/register-key", "/limit-event", "/admin/login"])} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${pick(r, ["Authorization: Bearer ", "X-CCFLUX-Signature: ed25519 ", "X-CCFLUX-Timestamp: ", "Cookie: ccflux_session="])}`,
  );
  const raw = new Uint8Array([
    ...head,
    ...junk,
    ...new TextEncoder().encode("\r\nConnection: close\r\n\r\n"),
    ...body,
  ]);
  return { method: "RAW", path: "raw", headers: {}, raw };
}

test(`fuzz: ${TOTAL} hostile requests, no 5xx, no crash, bounded RSS, dashboard intact (seed ${SEED})`, async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: {
      ADMIN_TOKEN,
      RATE_LIMIT_PER_MINUTE: "100000",
      TIER_INFERENCE_INTERVAL_SECS: "5",
      TRUST_PROXY: "1",
    },
  });
  const users = await provision(receiver, 20, "fuzzer");
  const login = await fetch(`${receiver.url}/admin/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: `token=${ADMIN_TOKEN}`,
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const overview = await (await fetch(`${receiver.url}/admin/`, { headers: { Cookie: cookie } })).text();
  const session: Session = { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(overview)?.[1] ?? "" };
  expect(session.csrf).not.toBe("");
  const r = rng(SEED);
  const statuses = new Map<string, number>();
  const failures: string[] = [];
  const rssBefore = rssKib(receiver.proc.pid);
  let counter = 0;
  let peakRss = rssBefore;
  const port = receiver.port;
  const url = receiver.url;

  const worker = async () => {
    while (counter < TOTAL) {
      const n = counter++;
      const kind = r();
      const request =
        kind < 0.05
          ? rawRequest(r, port, users)
          : kind < 0.25
            ? adminRequest(r, users, session)
            : apiRequest(r, users, n);
      let status: string;
      if (request.raw) {
        status = rawStatus(await rawExchange(port, request.raw));
      } else {
        try {
          const response = await fetch(`${url}${request.path}`, {
            method: request.method,
            headers: request.headers,
            body: request.body as BodyInit | undefined,
            redirect: "manual",
          });
          await response.arrayBuffer();
          status = String(response.status);
        } catch (error) {
          // fetch itself refused what we built (e.g. a header it will not send): not the receiver's fault,
          // unless the receiver has gone.
          status = receiver!.proc.exitCode === null ? `client:${(error as Error).name}` : "receiver-died";
        }
      }
      const route = request.path.split("?")[0]!.replace(/\/admin\/(users|tokens)\/[^/]+/, "/admin/$1/*");
      const key = `${request.headers.Cookie === session.cookie ? "session " : ""}${route} ${status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (status.startsWith("5") || status === "receiver-died") {
        if (failures.length < 10)
          failures.push(
            `#${n} ${request.method} ${request.path} → ${status}: ${JSON.stringify(request.headers).slice(0, 300)} ${String(request.body ?? "").slice(0, 300)}`,
          );
      }
      if (n % 500 === 0) peakRss = Math.max(peakRss, rssKib(receiver!.proc.pid));
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const rssAfter = rssKib(receiver.proc.pid);
  peakRss = Math.max(peakRss, rssAfter);
  const summary = [...statuses]
    .sort()
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  console.log(
    `fuzz seed ${SEED}: ${counter} requests; RSS ${(rssBefore / 1024).toFixed(0)} → ${(rssAfter / 1024).toFixed(0)} MiB (peak ${(peakRss / 1024).toFixed(0)})\n${summary}`,
  );

  expect(failures).toEqual([]);
  expect(receiver.proc.exitCode).toBeNull();
  // At least 10,000 reached the receiver and got an answer (fetch refuses some headers we build).
  const answered = [...statuses].filter(([k]) => /\d{3}$/.test(k)).reduce((s, [, v]) => s + v, 0);
  expect(answered).toBeGreaterThanOrEqual(10_000);
  expect((peakRss - rssBefore) / 1024).toBeLessThan(RSS_GROWTH_MIB);
  // The fuzz reached the write path, and refused plenty.
  const count = (prefix: string) =>
    [...statuses].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);
  expect(count("/report 200")).toBeGreaterThan(300);
  expect(count("/report 400")).toBeGreaterThan(200);
  expect(count("/report 403")).toBeGreaterThan(100);
  expect(count("/limit-event 200")).toBeGreaterThan(20);
  expect(count("/register-key 200")).toBeGreaterThan(20);
  expect(count("/admin/tokens 303")).toBeGreaterThan(10);
  // Session forms got through with the right CSRF token and were refused with a wrong one.
  const matching = (pattern: RegExp) =>
    [...statuses].filter(([k]) => pattern.test(k)).reduce((s, [, v]) => s + v, 0);
  expect(matching(/^session \/admin\/(tokens|tiers\/recompute|devices\/revoke) 303$/)).toBeGreaterThan(4);
  expect(matching(/^session .* 403$/)).toBeGreaterThan(10);

  // Afterwards the dashboard shows everything stored.
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Real-IP": "192.0.2.10" };
  for (const page of [
    "/admin/",
    "/admin/?range=7",
    "/admin/?range=90",
    "/admin/devices",
    "/admin/tokens",
    "/admin/audit",
  ]) {
    const response = await fetch(`${url}${page}`, { headers: admin });
    expect(`${page} ${response.status}`).toBe(`${page} 200`);
    expect(await response.text()).toContain("</html>");
  }
  const emails = receiver
    .sql("SELECT DISTINCT email FROM usage_events UNION SELECT DISTINCT email FROM refresh_tokens;")
    .split("\n");
  expect(emails.length).toBeGreaterThan(20);
  for (const email of emails) {
    const response = await fetch(`${url}/admin/users/${enc(email)}`, { headers: admin });
    expect(`${email} ${response.status}`).toBe(`${email} 200`);
    await response.arrayBuffer();
  }
  const csv = await fetch(`${url}/admin/api/usage.csv?range=90`, { headers: admin });
  expect(csv.status).toBe(200);
  const csvLines = (await csv.text()).trim().split("\n");
  const json = await fetch(`${url}/admin/api/usage.json?range=90`, { headers: admin });
  expect(json.status).toBe(200);
  const parsed = await json.json();
  expect(parsed).toBeTruthy();
  const stored = Number(
    receiver.sql("SELECT count(*) FROM usage_daily WHERE day >= date('now', '-89 days');"),
  );
  expect(stored).toBeGreaterThan(0);
  expect(csvLines.length).toBeGreaterThan(1);
  expect(receiver.sql("PRAGMA integrity_check;")).toBe("ok");
  expect(await receiver.stop()).toBe(0);
}, 180_000);
