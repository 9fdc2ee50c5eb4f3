// The dashboard against the inputs of a security review (issue 11), over real HTTP and raw TCP:
// bearer guessing, planted cookies, odd Host headers, non-Latin-1 paths, open redirects, aborted
// uploads, token rotation. Each answer is a 4xx (or a clean close), one log line, no stack trace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { USER_SETUP_URL } from "../../../src/receiver/admin/views/tokens.ts";
import { rawExchange, rawStatus } from "../../faults/support.ts";
import { Client, guideInsert, guideToken, newDevice } from "../../support/client.ts";
import { startReceiver, type TestReceiver } from "../../support/receiver.ts";
import { ADMIN_TOKEN, AdminClient, firstTierRun } from "./admin-client.ts";

let receiver: TestReceiver;
let address = 0;

/** A fresh client address (TRUST_PROXY is on here), so login limits never collide across tests. */
function nextAddress(): string {
  return `10.9.0.${++address}`;
}

async function loggedIn(from = nextAddress()): Promise<AdminClient> {
  const client = new AdminClient(receiver.url);
  expect((await client.login(ADMIN_TOKEN, { "X-Real-IP": from })).status).toBe(303);
  return client;
}

function bearerGet(path: string, token: string, from: string, headers: Record<string, string> = {}) {
  return fetch(`${receiver.url}${path}`, {
    headers: { Authorization: `Bearer ${token}`, "X-Real-IP": from, ...headers },
    redirect: "manual",
  });
}

function auditRows(): string[] {
  return receiver
    .sql("SELECT action || '|' || actor || '|' || address || '|' || detail FROM admin_audit ORDER BY id;")
    .split("\n");
}

/** What the receiver printed from `mark` on: each check reads only its own requests' lines. */
function logFrom(mark: number): string {
  return receiver.output().slice(mark);
}

/** No stack trace, no error line, no 5xx in a stretch of the log. */
function expectCleanLog(log: string): void {
  expect(log).not.toMatch(/^\s+at /m);
  expect(log).not.toMatch(/TypeError|RangeError|\berror\b/);
  expect(log).not.toMatch(/status=5\d\d/);
}

beforeAll(async () => {
  receiver = await startReceiver({
    env: { ADMIN_TOKEN, TRUST_PROXY: "1", BASE_URL: "https://ccflux.example.org" },
  });
  await firstTierRun(receiver);
});
afterAll(async () => {
  await receiver.stop();
  receiver.cleanup();
});

describe("bearer guesses share the login limit", () => {
  test("over the limit, even the right bearer is refused before it is compared; wrong ones are audited", async () => {
    const from = nextAddress();
    for (let i = 0; i < 10; i++) expect((await bearerGet("/admin/", `guess-${i}`, from)).status).toBe(401);
    const wrong = await bearerGet("/admin/", "guess-10", from);
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get("retry-after"))).toBeGreaterThan(0);
    // The answer for the right token is the same as for a wrong one: the limit reveals nothing.
    const right = await bearerGet("/admin/", ADMIN_TOKEN, from);
    expect(right.status).toBe(429);
    expect(await right.text()).toContain("Too many login attempts");
    expect(
      auditRows().filter((row) => row === `login-failed|anonymous|${from}|wrong bearer token`).length,
    ).toBe(10);
    expect((await bearerGet("/admin/", ADMIN_TOKEN, nextAddress())).status).toBe(200);
  });

  test("wrong bearers and wrong passwords count in the same limit; right bearers do not count", async () => {
    const from = nextAddress();
    const client = new AdminClient(receiver.url);
    for (let i = 0; i < 5; i++) expect((await client.login("wrong", { "X-Real-IP": from })).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await bearerGet("/admin/", "wrong", from)).status).toBe(401);
    expect((await client.login(ADMIN_TOKEN, { "X-Real-IP": from })).status).toBe(429);

    const script = nextAddress();
    for (let i = 0; i < 15; i++)
      expect((await bearerGet("/admin/devices", ADMIN_TOKEN, script)).status).toBe(200);
    expect((await new AdminClient(receiver.url).login(ADMIN_TOKEN, { "X-Real-IP": script })).status).toBe(
      303,
    );
  });
});

describe("planted cookies and odd paths", () => {
  const PLANTED = [
    '{"a":1}',
    "[1,2]",
    "123",
    "true",
    "null",
    '"quoted"',
    "{",
    "%7B%22a%22%3A1%7D",
    "",
    "x".repeat(3000),
  ];

  test("a ccflux_admin cookie of any shape never 500s: login works, pages ask to log in", async () => {
    const mark = receiver.output().length;
    for (const value of PLANTED) {
      const cookie = { Cookie: `ccflux_admin=${value}` };
      const login = await fetch(`${receiver.url}/admin/login`, { headers: cookie });
      expect(`${value} ${login.status}`).toBe(`${value} 200`);
      const page = await fetch(`${receiver.url}/admin/`, { headers: cookie, redirect: "manual" });
      expect(`${value} ${page.status}`).toBe(`${value} 303`);
      const form = await fetch(`${receiver.url}/admin/tokens`, {
        method: "POST",
        headers: { ...cookie, "Content-Type": "application/x-www-form-urlencoded" },
        body: "email=planted%40example.org",
        redirect: "manual",
      });
      expect(`${value} ${form.status}`).toBe(`${value} 401`);
      const fresh = await fetch(`${receiver.url}/admin/login`, {
        method: "POST",
        headers: {
          ...cookie,
          "Content-Type": "application/x-www-form-urlencoded",
          "X-Real-IP": nextAddress(),
        },
        body: new URLSearchParams({ token: ADMIN_TOKEN, next: "/admin/" }).toString(),
        redirect: "manual",
      });
      expect(`${value} ${fresh.status}`).toBe(`${value} 303`);
      expect(fresh.headers.get("set-cookie")).toMatch(/^ccflux_admin=[A-Za-z0-9_-]{40,};/);
    }
    expectCleanLog(logFrom(mark));
  });

  test("next= and return= outside Latin-1 redirect, percent-encoded", async () => {
    const mark = receiver.output().length;
    const next = "/admin/users/漢字@example.org?range=7";
    const encoded = "/admin/users/%E6%BC%A2%E5%AD%97@example.org?range=7";
    const login = await fetch(`${receiver.url}/admin/login`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Real-IP": nextAddress() },
      body: new URLSearchParams({ token: ADMIN_TOKEN, next }).toString(),
      redirect: "manual",
    });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe(encoded);
    const already = await bearerGet(
      `/admin/login?next=${encodeURIComponent(next)}`,
      ADMIN_TOKEN,
      nextAddress(),
    );
    expect(already.status).toBe(303);
    expect(already.headers.get("location")).toBe(encoded);
    const form = await fetch(`${receiver.url}/admin/tiers/recompute`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${ADMIN_TOKEN}`,
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Real-IP": nextAddress(),
      },
      body: new URLSearchParams({ return: "/admin/?q=🙂" }).toString(),
      redirect: "manual",
    });
    expect(form.status).toBe(303);
    expect(form.headers.get("location")).toBe("/admin/?q=%F0%9F%99%82&notice=tiers-recomputed");
    expectCleanLog(logFrom(mark));
  });

  test("return= cannot leave the dashboard through dot segments, whatever adds the notice", async () => {
    const admin = await loggedIn();
    for (const back of [
      "/admin/..//evil.example/phish",
      "/admin/%2e%2e//evil.example/phish",
      "/admin/./..//evil.example",
    ]) {
      const response = await admin.post("/admin/tiers/recompute", { return: back });
      expect(response.status).toBe(303);
      expect(`${back} → ${response.headers.get("location")}`).toBe(
        `${back} → /admin/?notice=tiers-recomputed`,
      );
    }
  });
});

describe("Host headers and broken uploads", () => {
  test("a Host with / ? # @ or spaces, or none at all (HTTP/1.0), is a 400 with a clear message", async () => {
    const mark = receiver.output().length;
    const requests = [
      ...["a/b", "a?b", "a#b", "a@b", "exa mple", "a:99999"].map(
        (host) => `GET /admin/login HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
      "GET /admin/login HTTP/1.0\r\n\r\n",
      "GET /health HTTP/1.0\r\n\r\n",
      `POST /report HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    ];
    for (const request of requests) {
      const answer = await rawExchange(receiver.port, request);
      expect(`${JSON.stringify(request)} → ${rawStatus(answer)}`).toBe(`${JSON.stringify(request)} → 400`);
      expect(answer).toContain("the Host header is missing or is not a host name");
    }
    await Bun.sleep(100); // the log is flushed within 50 ms
    const log = logFrom(mark);
    expectCleanLog(log);
    // One line per request, on the real path.
    expect(log.match(/ request method=GET path=\/admin\/login status=400 /g)?.length).toBe(7);
    expect(log).toContain(" request method=GET path=/health status=400 ");
    expect(log).toContain(" request method=POST path=/report status=400 ");
  });

  test("a short Host routes and logs on the real path: /x/admin/devices is not the devices page", async () => {
    const mark = receiver.output().length;
    const get = (path: string, host: string) =>
      rawExchange(
        receiver.port,
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nX-Real-IP: ${nextAddress()}\r\nConnection: close\r\n\r\n`,
      );
    for (const host of ["a", "ab", "abc", "a:1"]) {
      expect(`${host} ${rawStatus(await get("/health", host))}`).toBe(`${host} 200`);
      expect(`${host} ${rawStatus(await get("/admin/devices", host))}`).toBe(`${host} 200`);
      expect(`${host} ${rawStatus(await get("/x/admin/devices", host))}`).toBe(`${host} 404`);
      expect(`${host} ${rawStatus(await get("/xy/health", host))}`).toBe(`${host} 404`);
    }
    // A body travels with the request routed on the fixed origin.
    const body = new URLSearchParams({ token: ADMIN_TOKEN, next: "/admin/devices" }).toString();
    const login = await rawExchange(
      receiver.port,
      `POST /admin/login HTTP/1.1\r\nHost: ab\r\nX-Real-IP: ${nextAddress()}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(rawStatus(login)).toBe("303");
    expect(login).toMatch(/\r\nlocation: \/admin\/devices\r\n/i);
    expect(login).toMatch(/\r\nset-cookie: ccflux_admin=[A-Za-z0-9_-]{40,};/i);
    await Bun.sleep(100);
    const log = logFrom(mark);
    expectCleanLog(log);
    expect(log.match(/ request method=GET path=\/admin\/devices status=200 /g)?.length).toBe(4);
    expect(log.match(/ request method=GET path=other status=404 /g)?.length).toBe(8);
  });

  test("a client that aborts its upload is a 400 on one log line, not a 500 error", async () => {
    const mark = receiver.output().length;
    for (const path of [
      "/report",
      "/token",
      "/register-key",
      "/limit-event",
      "/admin/login",
      "/admin/tokens",
    ]) {
      await rawExchange(
        receiver.port,
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n${"a".repeat(100)}`,
        300,
      );
      await rawExchange(
        receiver.port,
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${"a".repeat(16)}\r\n`,
        300,
      );
    }
    await Bun.sleep(200);
    const log = logFrom(mark);
    expectCleanLog(log);
    expect(log.match(/ request method=POST /g)?.length).toBe(12);
    expect(log.match(/ request method=POST path=\/report status=400 /g)?.length).toBe(2);
    expect((await fetch(`${receiver.url}/health`)).status).toBe(200);
  });
});

describe("sessions end when ADMIN_TOKEN changes, or all at once", () => {
  test("Log out everyone ends every session, the caller's too, and is audited; it needs the CSRF token", async () => {
    const a = await loggedIn();
    const b = await loggedIn();
    const page = await (await a.get("/admin/audit")).text();
    expect(page).toContain('action="/admin/sessions/end-all"');
    expect((await a.post("/admin/sessions/end-all", {}, null)).status).toBe(403);
    expect((await b.get("/admin/")).status).toBe(200);
    const ended = await a.post("/admin/sessions/end-all");
    expect(ended.status).toBe(303);
    expect(ended.headers.get("location")).toBe("/admin/login");
    expect(ended.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await a.get("/admin/")).status).toBe(303);
    expect((await b.get("/admin/")).status).toBe(303);
    expect(receiver.sql("SELECT count(*) FROM admin_sessions;")).toBe("0");
    expect(auditRows().at(-1)).toMatch(/^logout-all\|session\|[^|]+\|\d+ sessions$/);
    // Scripts keep working: the bearer is ADMIN_TOKEN itself. And one can log everyone out, as
    // the docs show it: `curl -X POST -H "Authorization: Bearer …" …/admin/sessions/end-all`.
    expect((await bearerGet("/admin/", ADMIN_TOKEN, nextAddress())).status).toBe(200);
    const c = await loggedIn();
    const byScript = await fetch(`${receiver.url}/admin/sessions/end-all`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Real-IP": nextAddress() },
      redirect: "manual",
    });
    expect(byScript.status).toBe(303);
    expect((await c.get("/admin/")).status).toBe(303);
    expect(auditRows().at(-1)).toMatch(/^logout-all\|bearer\|[^|]+\|1 session$/);
  });

  test("after a restart with a new ADMIN_TOKEN, a session of the old one is over; the new token logs in", async () => {
    const own = await startReceiver({ env: { ADMIN_TOKEN } });
    try {
      await firstTierRun(own);
      const client = new AdminClient(own.url);
      expect((await client.login()).status).toBe(303);
      expect((await client.get("/admin/")).status).toBe(200);
      await own.stop();
      const rotated = await own.restart({ ADMIN_TOKEN: `${ADMIN_TOKEN}-rotated` });
      try {
        const page = await client.get("/admin/");
        expect(page.status).toBe(303);
        expect(page.headers.get("location")).toStartWith("/admin/login");
        expect((await client.post("/admin/logout")).status).toBe(401);
        expect((await client.login(`${ADMIN_TOKEN}-rotated`)).status).toBe(303);
        expect((await client.get("/admin/")).status).toBe(200);
      } finally {
        await rotated.stop();
      }
    } finally {
      own.cleanup();
    }
  });
});

describe("what the pages say", () => {
  test("a failed login is shown as anonymous, from its address, not as a dashboard session", async () => {
    const from = nextAddress();
    expect((await new AdminClient(receiver.url).login("wrong", { "X-Real-IP": from })).status).toBe(401);
    const admin = await loggedIn();
    const page = await (await admin.get("/admin/audit")).text();
    expect(page).toContain(`<td>anonymous, from ${from}</td>`);
  });

  test("counts read right for one, and the show-once page links the User Setup guide it names", async () => {
    const api = new Client(receiver.url);
    const refresh = guideToken();
    receiver.sql(guideInsert(refresh, "single@example.org"));
    const access = await api.exchange(refresh);
    expect((await api.registerKey(access, newDevice(), "only-laptop")).status).toBe(200);
    const admin = await loggedIn();
    const user = await (await admin.get("/admin/users/single%40example.org")).text();
    expect(user).toContain(">1 device key</span>");
    expect(user).toContain(">1 token</span>");
    expect(user).not.toMatch(/>1 [a-z ]+s</);

    const added = await admin.post("/admin/tokens", { email: "handout@example.org", days: "1" });
    expect(added.status).toBe(303);
    const issued = await (await admin.get(added.headers.get("location")!)).text();
    expect(issued).toContain(`<a href="${USER_SETUP_URL}"`);
    expect(issued).toContain(`Setup guide:   ${USER_SETUP_URL}`);
    expect(auditRows().at(-1)).toMatch(/^provision\|session\|.*, 1 day$/);
  });
});
