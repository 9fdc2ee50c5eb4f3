// Fuzz of the dashboard's hostile inputs (issue 11), against the compiled receiver, from a seeded
// generator (CCFLUX_FUZZ_SEED reproduces a run): planted ccflux_admin cookies of every shape, Host
// headers that are missing, short or not host names (raw TCP), next= and return= values aimed off
// the site or outside Latin-1, model names, divisions and emails built to be spreadsheet formulas,
// uploads cut off midway, and bearer-token guessing past the login limit.
// Pass: no 5xx, the process never dies, no stack trace or error line in its log, every redirect
// stays in the dashboard, guessing is cut off at the limit (even the right token), RSS stays
// bounded, and afterwards every page answers and no CSV cell can start a formula.
import { afterAll, expect, test } from "bun:test";
import { toRfc3339 } from "../../src/protocol/index.ts";
import { LOGIN_ATTEMPTS_PER_MINUTE as LOGIN_LIMIT } from "../../src/receiver/admin/access.ts";
import { report } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import {
  enc,
  formBody,
  int,
  logFindings,
  pick,
  provision,
  type Random,
  ROUTINE_LOG_MESSAGES,
  randomText,
  rawExchange,
  rawStatus,
  rng,
  rssKib,
  signedPost,
  type User,
} from "./support.ts";

const SEED = Number(process.env.CCFLUX_FUZZ_SEED ?? 110_011);
const TOTAL = 4000;
const CONNECTIONS = 8;
const ADMIN_TOKEN = "fuzz-admin-token-3c9e1a7f5b2d8e4a6c0f";
/** The address of the one script that knows the token: never guesses, never locked out. */
const SCRIPT = "192.0.2.10";
const RSS_GROWTH_MIB = 100;
/** Every message the receiver may log during the run; anything else is a finding. */
const EXPECTED_LOG_MESSAGES = [
  ...ROUTINE_LOG_MESSAGES,
  "admin login rate-limited",
  "report refused: too many model names",
];

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  receiver?.cleanup();
});

/** A ccflux_admin value of some shape: JSON of every type, broken JSON, encoded, huge, odd bytes. */
function plantedCookie(r: Random, session: string): string {
  return pick(r, [
    () => JSON.stringify({ a: int(r, 100) }),
    () => JSON.stringify([1, "a", null]),
    () => JSON.stringify({ id: session, nested: { deep: [{}] } }),
    () => String(int(r, 1e9)),
    () => "-1.5e308",
    () => pick(r, ["true", "false", "null", "undefined", "NaN", "{}", "[]", '""', '"x"']),
    () => `{"a":${"[".repeat(int(r, 500))}`,
    () => encodeURIComponent(JSON.stringify({ a: 1 })),
    () => `${session}${pick(r, ["x", "%00", "=", "'", '"'])}`,
    () => `${session}; ccflux_admin=${JSON.stringify({ a: 1 })}`,
    () => `{"a":1}; ccflux_admin=${session}`,
    () => "x".repeat(pick(r, [4000, 7000])),
    () => enc(randomText(r, 60)),
    () => "",
  ])();
}

/** A next= or return= value: inside the dashboard, aimed elsewhere, or outside Latin-1. */
function hostileReturn(r: Random): string {
  return pick(r, [
    () => "/admin/devices?devices.q=x",
    () => "/admin/..//evil.example/phish",
    () => "/admin/%2e%2e//evil.example/",
    () => "/admin/./..//evil.example",
    () => `/admin/${"../".repeat(1 + int(r, 5))}/evil.example`,
    () => "//evil.example/admin/",
    () => "https://evil.example/admin/",
    () => "/admin/\\evil.example",
    () => "/admin/%0d%0aSet-Cookie:%20x=1",
    () => "/admin/\r\nSet-Cookie: x=1",
    () => `/admin/users/${pick(r, ["漢字", "🙂", "\u202e", "é"])}@example.org?range=7`,
    () => `/admin/?q=${randomText(r, 40)}`,
    () => "x".repeat(2001),
    () => randomText(r, 80),
  ])();
}

/** Text a spreadsheet could run: formula characters after spaces and after every separator. */
function formulaText(r: Random, max: number): string {
  const parts = [
    " ",
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\n",
    ",",
    ";",
    "|",
    '"',
    "'",
    "1",
    "a",
    "(",
    ")",
    "\u00a0",
  ];
  const lead = pick(r, ["=", " =", "+", "-", "@", ";=", ",=", "| @", "\t=", "a;=", "x, -"]);
  return (lead + Array.from({ length: int(r, max) }, () => pick(r, parts)).join("")).slice(0, max);
}

const HOSTS = [
  "",
  "a",
  "ab",
  "abc",
  "a:1",
  "a/b",
  "a?b",
  "a#b",
  "a@b",
  "a b",
  "[::1",
  "a:99999",
  "..",
  "%41",
];
const PAGES = [
  "/admin/",
  "/admin/devices",
  "/admin/tokens",
  "/admin/audit",
  "/admin/login",
  "/admin/api/usage.csv",
];

type Outcome = { status: string; location?: string | null };

interface Context {
  url: string;
  port: number;
  users: User[];
  names: Map<string, string[]>;
  session: string;
  turns: Map<string, number>;
}

async function send(url: string, init: RequestInit & { headers: Record<string, string> }): Promise<Outcome> {
  try {
    const response = await fetch(url, { redirect: "manual", ...init });
    await response.arrayBuffer();
    return { status: String(response.status), location: response.headers.get("location") };
  } catch (error) {
    return { status: receiver!.proc.exitCode === null ? `client:${(error as Error).name}` : "receiver-died" };
  }
}

async function cookieRequest(r: Random, c: Context): Promise<[string, Outcome]> {
  const headers: Record<string, string> = {
    Cookie: `ccflux_admin=${plantedCookie(r, c.session)}`,
    "X-Real-IP": `10.20.${int(r, 256)}.${int(r, 256)}`,
  };
  if (r() < 0.5) {
    const path = pick(r, PAGES);
    return [`cookie GET ${path}`, await send(`${c.url}${path}`, { headers })];
  }
  const path = pick(r, ["/admin/login", "/admin/tokens", "/admin/logout", "/admin/sessions/end-all"]);
  headers["Content-Type"] = "application/x-www-form-urlencoded";
  const body = formBody(
    path === "/admin/login"
      ? { token: pick(r, [ADMIN_TOKEN, "wrong", ""]), next: hostileReturn(r) }
      : { csrf: randomText(r, 40), email: "planted@example.org" },
  );
  return [`cookie POST ${path}`, await send(`${c.url}${path}`, { method: "POST", headers, body })];
}

async function hostRequest(r: Random, c: Context): Promise<[string, Outcome]> {
  const host = pick(r, HOSTS);
  const path = pick(r, [...PAGES, "/health", "/x/admin/devices", "/report", "/admin/login?next=%2F%2Fevil"]);
  const version = pick(r, ["HTTP/1.1", "HTTP/1.0"]);
  const lines = [
    `GET ${path} ${version}`,
    ...(host === "" && version === "HTTP/1.0" ? [] : [`Host: ${host}`]),
    ...(r() < 0.5 ? [`Authorization: Bearer ${ADMIN_TOKEN}`, `X-Real-IP: ${SCRIPT}`] : []),
    ...(r() < 0.3 ? [`Cookie: ccflux_admin=${plantedCookie(r, c.session).slice(0, 2000)}`] : []),
    "Connection: close",
  ];
  const answer = await rawExchange(c.port, `${lines.join("\r\n")}\r\n\r\n`);
  const location = /\r\nlocation: ([^\r\n]*)/i.exec(answer)?.[1] ?? null;
  return [`host ${version}`, { status: rawStatus(answer), location }];
}

async function returnRequest(r: Random, c: Context): Promise<[string, Outcome]> {
  const back = hostileReturn(r);
  switch (int(r, 3)) {
    case 0: {
      const headers: Record<string, string> =
        r() < 0.5 ? { Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Real-IP": SCRIPT } : {};
      return ["return GET /admin/login", await send(`${c.url}/admin/login?next=${enc(back)}`, { headers })];
    }
    case 1:
      return [
        "return POST /admin/login",
        await send(`${c.url}/admin/login`, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            // Its own address: right-token logins from many addresses never meet the limit.
            "X-Real-IP": `10.30.${int(r, 256)}.${int(r, 256)}`,
          },
          body: formBody({ token: ADMIN_TOKEN, next: back }),
        }),
      ];
    default: {
      const path = pick(r, [
        "/admin/tiers/recompute",
        "/admin/tokens/999999/revoke",
        "/admin/devices/revoke",
      ]);
      return [
        `return POST ${path}`,
        await send(`${c.url}${path}`, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${ADMIN_TOKEN}`,
            "X-Real-IP": SCRIPT,
            "Content-Type": "application/x-www-form-urlencoded",
          },
          body: formBody({ return: back, public_key: "none" }),
        }),
      ];
    }
  }
}

async function csvRequest(r: Random, c: Context, n: number): Promise<[string, Outcome]> {
  if (r() < 0.2) {
    return [
      "csv POST /admin/tokens",
      await send(`${c.url}/admin/tokens`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${ADMIN_TOKEN}`,
          "X-Real-IP": SCRIPT,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: formBody({ email: `csv${n}@example.org`, division: formulaText(r, 60), days: "30" }),
      }),
    ];
  }
  const user = pick(r, c.users);
  const pool = c.names.get(user.email)!;
  const models: NonNullable<Parameters<typeof report>[0]>["models"] = {};
  for (let i = 0; i < 1 + int(r, 3); i++) {
    models[pick(r, pool)] = {
      input_tokens: 1,
      output_tokens: 2,
      cache_read_tokens: 3,
      cache_write_tokens: 4,
    };
  }
  const session = `fuzz-admin-${int(r, 5)}`;
  const turn = c.turns.get(`${user.email}|${session}`) ?? 0;
  c.turns.set(`${user.email}|${session}`, turn + 1);
  const body = JSON.stringify(
    report({
      session_id: session,
      turn_index: turn,
      user_email: user.email,
      timestamp_utc: toRfc3339(Date.now()),
      models,
    }),
  );
  return ["csv POST /report", await send(`${c.url}/report`, signedPost(user, body))];
}

/** A client that sends part of its body and hangs up: the receiver must answer it as a 400. */
async function abortedUpload(r: Random, c: Context): Promise<[string, Outcome]> {
  const path = pick(r, [
    "/report",
    "/token",
    "/register-key",
    "/limit-event",
    "/admin/login",
    "/admin/tokens",
  ]);
  const framing = pick(r, [
    `Content-Length: ${1000 + int(r, 60_000)}\r\n\r\n${"a".repeat(int(r, 900))}`,
    `Transfer-Encoding: chunked\r\n\r\n10\r\n${"a".repeat(16)}\r\n`,
  ]);
  const answer = await rawExchange(
    c.port,
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${pick(r, ["application/json", "application/x-www-form-urlencoded"])}\r\n${framing}`,
    50 + int(r, 150),
  );
  return ["abort", { status: rawStatus(answer) }];
}

/** One address guesses bearer tokens, one after another, then sends the right one. */
async function guessBurst(r: Random, c: Context, address: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const guesses = LOGIN_LIMIT + 2 + int(r, 8);
  for (let i = 0; i <= guesses; i++) {
    const token =
      i === guesses
        ? ADMIN_TOKEN
        : pick(r, [`g${randomText(r, 60)}`, ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`]);
    const path = pick(r, PAGES);
    outcomes.push(
      await send(`${c.url}${path}`, {
        headers: { Authorization: `Bearer ${token.replace(/[^\x21-\x7e]/g, "x")}`, "X-Real-IP": address },
      }),
    );
  }
  return outcomes;
}

/** No piece of the CSV, split on any separator a spreadsheet might use, can start a formula. */
function formulaPieces(csv: string): string[] {
  return csv.split(/[,;|\t\r\n]/).filter((piece) => /^[ \u00a0"]*[=+\-@]/.test(piece));
}

test(`fuzz-admin: ${TOTAL} hostile dashboard requests, no 5xx, no stack trace, limits hold, CSV defused (seed ${SEED})`, async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: {
      ADMIN_TOKEN,
      TRUST_PROXY: "1",
      RATE_LIMIT_PER_MINUTE: "100000",
      TIER_INFERENCE_INTERVAL_SECS: "5",
    },
  });
  const r = rng(SEED);
  // Emails and divisions that are formulas too: both are columns of the CSV.
  const users = await provision(receiver, 8, "=csv;-fuzz");
  for (const user of users) {
    receiver.sql(
      `UPDATE refresh_tokens SET division = '${formulaText(r, 60).replaceAll("'", "''")}' WHERE email = '${user.email}';`,
    );
  }
  // Per user at most 24 names: under the per-user and organisation caps on distinct model names.
  const names = new Map(users.map((u) => [u.email, Array.from({ length: 24 }, () => formulaText(r, 40))]));
  const login = await fetch(`${receiver.url}/admin/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Real-IP": SCRIPT },
    body: formBody({ token: ADMIN_TOKEN }),
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  const session = login.headers.get("set-cookie")!.split(";")[0]!.split("=")[1]!;
  const c: Context = { url: receiver.url, port: receiver.port, users, names, session, turns: new Map() };

  const statuses = new Map<string, number>();
  const failures: string[] = [];
  const note = (what: string, outcome: Outcome, n: number) => {
    const key = `${what} ${outcome.status}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const location = outcome.location;
    const offSite =
      location !== undefined &&
      location !== null &&
      (!/^\/admin\/[\x21-\x7e]*$/.test(location) || location.startsWith("//") || location.includes("\\"));
    if (
      (outcome.status.startsWith("5") || outcome.status === "receiver-died" || offSite) &&
      failures.length < 10
    )
      failures.push(`#${n} ${what} → ${outcome.status} ${location ?? ""}`);
  };
  const bursts: Outcome[][] = [];
  const rssBefore = rssKib(receiver.proc.pid);
  let peakRss = rssBefore;
  let counter = 0;
  const started = Date.now();

  const worker = async () => {
    while (counter < TOTAL) {
      const n = counter++;
      const kind = r();
      if (kind < 0.03) {
        const outcomes = await guessBurst(r, c, `198.18.${Math.floor(n / 256) % 256}.${n % 256}`);
        bursts.push(outcomes);
        for (const outcome of outcomes) note("guess", outcome, n);
        continue;
      }
      const [what, outcome] =
        kind < 0.05
          ? await abortedUpload(r, c)
          : kind < 0.3
            ? await cookieRequest(r, c)
            : kind < 0.5
              ? await hostRequest(r, c)
              : kind < 0.7
                ? await returnRequest(r, c)
                : await csvRequest(r, c, n);
      note(what, outcome, n);
      if (n % 250 === 0) peakRss = Math.max(peakRss, rssKib(receiver!.proc.pid));
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const seconds = (Date.now() - started) / 1000;
  const rssAfter = rssKib(receiver.proc.pid);
  peakRss = Math.max(peakRss, rssAfter);
  console.log(
    `fuzz-admin seed ${SEED}: ${counter} requests (${bursts.length} guessing bursts) in ${seconds.toFixed(1)} s; RSS ${(rssBefore / 1024).toFixed(0)} → ${(rssAfter / 1024).toFixed(0)} MiB (peak ${(peakRss / 1024).toFixed(0)})\n${[
      ...statuses,
    ]
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ")}`,
  );

  expect(failures).toEqual([]);
  expect(receiver.proc.exitCode).toBeNull();
  expect((peakRss - rssBefore) / 1024).toBeLessThan(RSS_GROWTH_MIB);
  const count = (pattern: RegExp) =>
    [...statuses].filter(([k]) => pattern.test(k)).reduce((sum, [, v]) => sum + v, 0);
  // Each family really ran, and was answered rather than refused wholesale.
  expect(count(/^cookie GET \/admin\/login 200$/)).toBeGreaterThan(10);
  expect(count(/^host .* 400$/)).toBeGreaterThan(20);
  expect(count(/^host .* 200$/)).toBeGreaterThan(20);
  expect(count(/^return .* 303$/)).toBeGreaterThan(50);
  expect(count(/^csv POST \/report 200$/)).toBeGreaterThan(50);
  expect(count(/^csv POST \/admin\/tokens 303$/)).toBeGreaterThan(5);

  // Guessing is cut off at the limit: each address got exactly LOGIN_LIMIT 401s, then 429s, and
  // its right token at the end was refused too (the limit is checked before the token).
  expect(bursts.length).toBeGreaterThan(20);
  for (const outcomes of bursts) {
    const statusesOf = outcomes.map((o) => o.status);
    expect(statusesOf.slice(0, LOGIN_LIMIT)).toEqual(Array(LOGIN_LIMIT).fill("401"));
    expect(statusesOf.slice(LOGIN_LIMIT)).toEqual(Array(outcomes.length - LOGIN_LIMIT).fill("429"));
  }
  // And the audit log holds one row per counted failure, no more: it cannot be flooded.
  expect(
    Number(
      receiver.sql(
        "SELECT count(*) FROM admin_audit WHERE action = 'login-failed' AND detail = 'wrong bearer token' AND address LIKE '198.18.%';",
      ),
    ),
  ).toBe(bursts.length * LOGIN_LIMIT);

  // Afterwards the dashboard answers, and no cell of the CSV can start a formula.
  const script = { Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Real-IP": SCRIPT };
  for (const page of ["/admin/", "/admin/?range=all", "/admin/devices", "/admin/tokens", "/admin/audit"]) {
    const response = await fetch(`${receiver.url}${page}`, { headers: script });
    expect(`${page} ${response.status}`).toBe(`${page} 200`);
    expect(await response.text()).toContain("</html>");
  }
  for (const user of users) {
    const response = await fetch(`${receiver.url}/admin/users/${enc(user.email)}?range=all`, {
      headers: script,
    });
    expect(`${user.email} ${response.status}`).toBe(`${user.email} 200`);
    await response.arrayBuffer();
  }
  const csv = await (
    await fetch(`${receiver.url}/admin/api/usage.csv?range=all`, { headers: script })
  ).text();
  expect(csv.split("\r\n").length).toBeGreaterThan(50);
  expect(csv).toContain("'="); // the formulas arrived, defused
  expect(formulaPieces(csv)).toEqual([]);

  // One line per event, none of them an error or a stack trace.
  expect(await receiver.stop()).toBe(0);
  expect(logFindings(receiver.output(), EXPECTED_LOG_MESSAGES)).toEqual([]);
}, 240_000);
