// The dashboard over real HTTP against the real receiver: access, every form, the redirects, the
// headers and the exports.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { join } from "node:path";
import { toRfc3339 } from "../../../src/protocol/index.ts";
import { Client, type Device, guideInsert, guideToken, newDevice, report } from "../../support/client.ts";
import { startReceiver, type TestReceiver } from "../../support/receiver.ts";
import { ADMIN_TOKEN, AdminClient, expectSecurityHeaders, firstTierRun } from "./admin-client.ts";

const XSS_DEVICE = "<img src=x onerror=alert(1)>";

let receiver: TestReceiver;
let api: Client;
let admin: AdminClient;
let address = 0;

/** A new browser from its own address (TRUST_PROXY is on here), so login limits never collide. */
async function loggedIn(): Promise<AdminClient> {
  const client = new AdminClient(receiver.url);
  const response = await client.login(ADMIN_TOKEN, { "X-Real-IP": `10.1.0.${++address}` });
  expect(response.status).toBe(303);
  return client;
}

/** A user provisioned the guide's way, with a registered device and one signed report. */
async function reportingUser(email: string, deviceId = "laptop") {
  const refresh = guideToken();
  receiver.sql(guideInsert(refresh, email, "engineering"));
  const access = await api.exchange(refresh);
  const device = newDevice();
  expect((await api.registerKey(access, device, deviceId)).status).toBe(200);
  await sendTurn(access, device, "s-1", 0);
  return { refresh, access, device };
}

async function sendTurn(
  access: string,
  device: Device,
  sessionId: string,
  turnIndex: number,
  at = Date.now(),
) {
  const body = report({ session_id: sessionId, turn_index: turnIndex, timestamp_utc: toRfc3339(at) });
  const response = await api.send(access, body, device);
  expect(response.status).toBe(200);
}

function auditRows(): string {
  return receiver.sql(
    "SELECT action || '|' || actor || '|' || address || '|' || subject FROM admin_audit ORDER BY id;",
  );
}

beforeAll(async () => {
  receiver = await startReceiver({
    env: { ADMIN_TOKEN, BASE_URL: "https://ccflux.example.org", TRUST_PROXY: "1" },
  });
  await firstTierRun(receiver);
  api = new Client(receiver.url);
  admin = await loggedIn();
});
afterAll(async () => {
  await receiver.stop();
  receiver.cleanup();
});

describe("access", () => {
  test("without a session a page redirects to the login form and a form post is 401", async () => {
    const anonymous = new AdminClient(receiver.url);
    const page = await anonymous.get("/admin/users/a%40b.org?range=7");
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe(
      `/admin/login?next=${encodeURIComponent("/admin/users/a%40b.org?range=7")}`,
    );
    expectSecurityHeaders(page);
    const post = await anonymous.post("/admin/tokens", { email: "x@example.org" }, null);
    expect(post.status).toBe(401);
    expectSecurityHeaders(post);
    expect(receiver.sql("SELECT count(*) FROM refresh_tokens WHERE email = 'x@example.org';")).toBe("0");
  });

  test("the login page asks for the admin token and carries the headers", async () => {
    const response = await new AdminClient(receiver.url).get("/admin/login");
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    const page = await response.text();
    expect(page).toContain('type="password" name="token"');
    expect(page).not.toContain(ADMIN_TOKEN);
  });

  test("a wrong token is 401, sets no cookie, and is audited with the proxy's client address", async () => {
    const client = new AdminClient(receiver.url);
    const response = await client.login("wrong", { "X-Real-IP": "203.0.113.7" });
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain("ADMIN_TOKEN");
    expect(auditRows()).toContain("login-failed|anonymous|203.0.113.7|");
  });

  test("the right token starts a session: a random HttpOnly, SameSite=Strict cookie on /admin; only its hash is stored", async () => {
    const client = new AdminClient(receiver.url);
    const response = await client.login(ADMIN_TOKEN, { "X-Real-IP": "203.0.113.8" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/");
    expectSecurityHeaders(response);
    const cookie = response.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^ccflux_admin=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/admin");
    expect(cookie).toContain("Max-Age=43200");
    expect(cookie).not.toContain("Secure");
    expect(cookie).not.toContain(ADMIN_TOKEN);
    const id = client.cookie.split("=")[1]!;
    expect(
      receiver.sql(`SELECT count(*) FROM admin_sessions WHERE id_hash = '${id}' OR csrf_token = '${id}';`),
    ).toBe("0");
    expect((await client.get("/admin/")).status).toBe(200);
    expect(auditRows()).toContain("login|session|203.0.113.8|");
  });

  test("an expired session is refused: back to the login form", async () => {
    const client = await loggedIn();
    expect((await client.get("/admin/")).status).toBe(200);
    receiver.sql("UPDATE admin_sessions SET expires_at = datetime('now', '-1 second');");
    const response = await client.get("/admin/");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toStartWith("/admin/login");
    admin = await loggedIn();
  });

  test("logout is a POST with the CSRF token; afterwards the cookie is worthless", async () => {
    const client = await loggedIn();
    expect((await client.post("/admin/logout", {}, null)).status).toBe(403);
    expect((await client.get("/admin/")).status).toBe(200);
    const response = await client.post("/admin/logout");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/login");
    expect(response.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await client.get("/admin/")).status).toBe(303);
    expect(auditRows()).toContain("logout|session|");
  });

  test("Authorization: Bearer ADMIN_TOKEN works on pages and forms (no CSRF); a wrong one is 401", async () => {
    const bearer = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    for (const path of [
      "/admin/",
      "/admin/devices",
      "/admin/tokens",
      "/admin/audit",
      "/admin/api/usage.json",
    ]) {
      const response = await fetch(`${receiver.url}${path}`, { headers: bearer, redirect: "manual" });
      expect(response.status).toBe(200);
      expectSecurityHeaders(response);
    }
    const added = await fetch(`${receiver.url}/admin/tokens`, {
      method: "POST",
      redirect: "manual",
      headers: { ...bearer, "Content-Type": "application/x-www-form-urlencoded" },
      body: "email=script%40example.org&days=10",
    });
    expect(added.status).toBe(303);
    expect(receiver.sql("SELECT count(*) FROM refresh_tokens WHERE email = 'script@example.org';")).toBe("1");
    expect(auditRows()).toContain("provision|bearer|");
    const wrong = await fetch(`${receiver.url}/admin/`, {
      headers: { Authorization: "Bearer not-it", "X-Real-IP": "198.51.100.1" },
      redirect: "manual",
    });
    expect(wrong.status).toBe(401);
    expectSecurityHeaders(wrong);
  });

  test("login attempts are limited per client address (X-Real-IP, as TRUST_PROXY is on)", async () => {
    const client = new AdminClient(receiver.url);
    for (let i = 0; i < 10; i++) {
      expect((await client.login("wrong", { "X-Real-IP": "192.0.2.50" })).status).toBe(401);
    }
    const limited = await client.login(ADMIN_TOKEN, { "X-Real-IP": "192.0.2.50" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.headers.get("set-cookie")).toBeNull();
    expect(await limited.text()).toContain("Too many login attempts");
    expect((await client.login(ADMIN_TOKEN, { "X-Real-IP": "192.0.2.51" })).status).toBe(303);
  });
});

describe("CSRF", () => {
  test("a form without the session's token, or with another session's, is 403 and changes nothing", async () => {
    const other = await loggedIn();
    const { device } = await reportingUser("csrf@example.org");
    const tokenId = receiver.sql("SELECT id FROM refresh_tokens WHERE email = 'csrf@example.org';");
    const attempts = [
      admin.post("/admin/tokens", { email: "csrf-new@example.org" }, null),
      admin.post("/admin/tokens", { email: "csrf-new@example.org" }, "forged"),
      admin.post("/admin/tokens", { email: "csrf-new@example.org" }, other.csrf),
      admin.post(`/admin/tokens/${tokenId}/revoke`, {}, null),
      admin.post(`/admin/tokens/${tokenId}/reissue`, {}, "forged"),
      admin.post("/admin/devices/revoke", { public_key: device.publicKey }, null),
      admin.post("/admin/tiers/recompute", {}, null),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(403);
      expectSecurityHeaders(response);
      expect(await response.text()).toContain("nothing was changed");
    }
    expect(
      receiver.sql("SELECT count(*) FROM refresh_tokens WHERE email LIKE 'csrf%' AND revoked = 0;"),
    ).toBe("1");
    expect(receiver.sql(`SELECT revoked FROM device_keys WHERE public_key = '${device.publicKey}';`)).toBe(
      "0",
    );
  });
});

describe("provisioning", () => {
  test("add: redirect, then the token shown once with BASE_URL + /report; a reload shows it no more", async () => {
    const response = await admin.post("/admin/tokens", {
      email: "new.person@example.org",
      division: "data",
      days: "30",
    });
    expect(response.status).toBe(303);
    const location = response.headers.get("location")!;
    expect(location).toMatch(/^\/admin\/tokens\/issued\?reveal=[A-Za-z0-9_-]+$/);
    const token = receiver.sql("SELECT token FROM refresh_tokens WHERE email = 'new.person@example.org';");
    expect(token).toMatch(/^rtok_[0-9a-f]{64}$/);
    expect(
      receiver.sql(
        "SELECT division, date(expires_at) = date('now', '+30 days') FROM refresh_tokens WHERE email = 'new.person@example.org';",
      ),
    ).toBe("data|1");

    const shown = await admin.get(location);
    expect(shown.status).toBe(200);
    expectSecurityHeaders(shown);
    const page = await shown.text();
    expect(page).toContain(`Refresh token: ${token}`);
    expect(page).toContain("Receiver URL:  https://ccflux.example.org/report");
    expect(page).toContain("shown <strong>once</strong>");

    const again = await admin.get(location);
    expect(again.status).toBe(410);
    expect(await again.text()).not.toContain(token);
    expect(auditRows()).toContain("provision|session|");
    // The token works for the reporter right away.
    expect((await api.post("/token", token)).status).toBe(200);
  });

  test("bad input is refused with a clear message, keeps what was typed, and adds nothing", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ email: "not-an-email", days: "365" }, "is not an email address such as jsmith@example.org"],
      [
        { email: "ok@example.org", division: "x".repeat(65), days: "365" },
        "the division must be at most 64 characters",
      ],
      [{ email: "ok@example.org", days: "0" }, "days must be a whole number from 1 to 36500"],
      [{ email: "ok@example.org", days: "ten" }, "days must be a whole number"],
    ];
    for (const [fields, message] of cases) {
      const response = await admin.post("/admin/tokens", fields);
      expect(response.status).toBe(400);
      expectSecurityHeaders(response);
      const page = await response.text();
      expect(page).toContain(message);
      expect(page).toContain(`value="${fields.email}"`);
    }
    expect(
      receiver.sql("SELECT count(*) FROM refresh_tokens WHERE email IN ('ok@example.org', 'not-an-email');"),
    ).toBe("0");
  });

  test("revoke: back where it came from with a notice; the token stops working; a second revoke changes nothing", async () => {
    const { refresh } = await reportingUser("revoke.me@example.org");
    const id = receiver.sql("SELECT id FROM refresh_tokens WHERE email = 'revoke.me@example.org';");
    const back = `/admin/users/${encodeURIComponent("revoke.me@example.org")}?range=7`;
    const response = await admin.post(`/admin/tokens/${id}/revoke`, { return: back });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`${back}&notice=revoked`);
    expect(receiver.sql(`SELECT revoked FROM refresh_tokens WHERE id = ${id};`)).toBe("1");
    expect((await api.post("/token", refresh)).status).toBe(401);
    expect(await (await admin.get(response.headers.get("location")!)).text()).toContain("Token revoked.");
    const again = await admin.post(`/admin/tokens/${id}/revoke`, { return: "https://evil.example/" });
    expect(again.headers.get("location")).toBe("/admin/tokens?notice=nothing-changed");
    expect(auditRows()).toContain("revoke|session|127.0.0.1|revoke.me@example.org");
  });

  test("reissue: the old token is revoked and a new one for the same person is shown once", async () => {
    await reportingUser("reissue.me@example.org");
    const old = receiver.sql(
      "SELECT id || '|' || token FROM refresh_tokens WHERE email = 'reissue.me@example.org';",
    );
    const [oldId, oldToken] = old.split("|");
    const response = await admin.post(`/admin/tokens/${oldId}/reissue`, { days: "365" });
    expect(response.status).toBe(303);
    const page = await (await admin.get(response.headers.get("location")!)).text();
    const rows = receiver.sql(
      "SELECT id, revoked, division FROM refresh_tokens WHERE email = 'reissue.me@example.org' ORDER BY id;",
    );
    const newId = rows.split("\n")[1]!.split("|")[0]!;
    expect(rows).toBe(`${oldId}|1|engineering\n${newId}|0|engineering`);
    const newToken = receiver.sql(`SELECT token FROM refresh_tokens WHERE id = ${newId};`);
    expect(page).toContain(newToken);
    expect(page).not.toContain(oldToken!);
    expect(auditRows()).toContain("reissue|session|");
    expect((await admin.post("/admin/tokens/999999/reissue", {})).headers.get("location")).toBe(
      "/admin/tokens?notice=nothing-changed",
    );
  });

  test("device revoke: that key is refused on its next report; the user's other device keeps working", async () => {
    const { access, device } = await reportingUser("two.devices@example.org", "jsmith-laptop");
    const desktop = newDevice();
    expect((await api.registerKey(access, desktop, "jsmith-desktop")).status).toBe(200);
    const devices = await (await admin.get("/admin/devices")).text();
    expect(devices).toContain(
      "two.devices&#39;s device “jsmith-laptop” will stop reporting on its next turn and cannot register a new key until you allow it again; their other devices and their refresh token keep working",
    );

    const response = await admin.post("/admin/devices/revoke", {
      public_key: device.publicKey,
      return: "/admin/devices",
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/devices?notice=device-revoked");
    expect(receiver.sql(`SELECT revoked FROM device_keys WHERE public_key = '${device.publicKey}';`)).toBe(
      "1",
    );
    expect((await api.send(access, report({ session_id: "s-2" }), device)).status).toBe(403);
    await sendTurn(access, desktop, "s-3", 0);
    expect(auditRows()).toContain("device-revoke|session|127.0.0.1|two.devices@example.org");
    expect(
      (await admin.post("/admin/devices/revoke", { public_key: device.publicKey })).headers.get("location"),
    ).toBe("/admin/devices?notice=nothing-changed");
  });
});

describe("one person, and a lost laptop", () => {
  test("provision: the email is kept lower-case; a second active token is warned about where it is shown", async () => {
    const first = await admin.post("/admin/tokens", { email: "  Mixed.Case@Example.ORG ", days: "30" });
    const firstPage = await (await admin.get(first.headers.get("location")!)).text();
    expect(firstPage).toContain("New token for mixed.case@example.org");
    expect(firstPage).not.toContain("other active refresh token");
    const second = await admin.post("/admin/tokens", { email: "mixed.case@example.org", days: "30" });
    const secondPage = await (await admin.get(second.headers.get("location")!)).text();
    expect(secondPage).toContain(
      "mixed.case@example.org already has 1 other active refresh token; both work. If this one replaces it, revoke the other on Users &amp; tokens.",
    );
    expect(receiver.sql("SELECT DISTINCT email FROM refresh_tokens WHERE email LIKE 'mixed%';")).toBe(
      "mixed.case@example.org",
    );
    // The user page answers for any spelling of the address.
    expect((await admin.get(`/admin/users/${encodeURIComponent("MIXED.case@example.org")}`)).status).toBe(
      200,
    );
  });

  test("a revoked device stays out until 'Allow a new key'; 'Revoke and reissue' also replaces the token, shown once", async () => {
    const { refresh, access, device } = await reportingUser("lost.laptop@example.org", "lost-laptop");
    await admin.post("/admin/devices/revoke", { public_key: device.publicKey, return: "/admin/devices" });
    const fresh = newDevice();
    const refused = await api.registerKey(access, fresh, "lost-laptop");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("x-ccflux-error")).toBe("key-revoked");

    const listed = await (await admin.get("/admin/devices")).text();
    expect(listed).toContain("/admin/devices/allow");
    expect(listed).toContain("Allow a new key");
    const allowed = await admin.post("/admin/devices/allow", {
      public_key: device.publicKey,
      return: "/admin/devices",
    });
    expect(allowed.headers.get("location")).toBe("/admin/devices?notice=device-allowed");
    expect((await api.registerKey(access, fresh, "lost-laptop")).status).toBe(200);
    expect(
      (await admin.post("/admin/devices/allow", { public_key: device.publicKey })).headers.get("location"),
    ).toBe("/admin/devices?notice=nothing-changed");

    expect(await (await admin.get("/admin/devices")).text()).toContain("Revoke and reissue token");
    const reissued = await admin.post("/admin/devices/revoke", { public_key: fresh.publicKey, reissue: "1" });
    expect(reissued.status).toBe(303);
    const shown = await (await admin.get(reissued.headers.get("location")!)).text();
    const newToken = receiver.sql(
      "SELECT token FROM refresh_tokens WHERE email = 'lost.laptop@example.org' AND revoked = 0;",
    );
    expect(newToken).toMatch(/^rtok_/);
    expect(shown).toContain(newToken);
    expect((await api.post("/token", refresh)).status).toBe(401);
    expect(receiver.sql(`SELECT revoked FROM device_keys WHERE public_key = '${fresh.publicKey}';`)).toBe(
      "1",
    );
    const audit = auditRows();
    expect(audit).toContain("device-allow|session|127.0.0.1|lost.laptop@example.org");
    expect(audit).toContain("reissue|session|127.0.0.1|lost.laptop@example.org");
  });

  test("a change made with the command line shows in the audit log with its OS user and machine", async () => {
    const run = Bun.spawnSync(
      [
        process.execPath,
        join(import.meta.dir, "../../../src/receiver/main.ts"),
        "users",
        "add",
        "cli.made@example.org",
      ],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: receiver.dbPath } },
    );
    expect(run.exitCode).toBe(0);
    const page = await (await admin.get("/admin/audit")).text();
    const user = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
    expect(page).toContain(`${user} (command line)`);
    expect(page).toContain(`cli on ${hostname()}`);
  });
});

describe("pages", () => {
  test("a device id full of markup shows as text on every page that lists it", async () => {
    await reportingUser("xss@example.org", XSS_DEVICE);
    for (const path of [
      "/admin/devices",
      "/admin/",
      `/admin/users/${encodeURIComponent("xss@example.org")}`,
    ]) {
      const page = await (await admin.get(path)).text();
      expect(page).toContain("&lt;img src=x onerror=alert(1)&gt;");
      expect(page).not.toContain(XSS_DEVICE);
    }
  });

  test("no refresh token, access token or admin token appears on any page", async () => {
    const { refresh, access } = await reportingUser("secret.keeper@example.org");
    const pages = [
      "/admin/",
      "/admin/?range=all",
      "/admin/devices",
      "/admin/tokens",
      "/admin/audit",
      `/admin/users/${encodeURIComponent("secret.keeper@example.org")}`,
      "/admin/?export",
    ];
    const allTokens = receiver.sql("SELECT token FROM refresh_tokens;").split("\n");
    for (const path of pages) {
      const page = await (await admin.get(path)).text();
      for (const secret of [refresh, access, ADMIN_TOKEN, ...allTokens]) expect(page).not.toContain(secret);
    }
  });

  test("the overview answers seat pressure first, then the rest; the range selector applies to it", async () => {
    const { access, device } = await reportingUser("ranges@example.org");
    await sendTurn(access, device, "old-session", 0, Date.now() - 20 * 86_400_000);
    const page = await (await admin.get("/admin/?range=30")).text();
    for (const text of [
      "Who hit a usage limit",
      "Recommended seat changes",
      "People who hit a limit",
      "Billed tokens",
      "At API list prices",
      "Limit hits per day by type, the last 30 days",
      "Close to their limit",
      "By division",
      'data-server-table="people"',
      "Seat tiers",
      "Tokens per day by kind, the last 30 days",
      'data-table="models"',
      "Recent events",
      'aria-current="true">30 days',
      'action="/admin/search"',
    ]) {
      expect(page).toContain(text);
    }
    const billed = (p: string) =>
      /Billed tokens<\/div><div class="card-value"><span title="([\d,]+)"/.exec(p)?.[1];
    const week = await (await admin.get("/admin/?range=7")).text();
    expect(Number(billed(page)?.replaceAll(",", ""))).toBe(Number(billed(week)?.replaceAll(",", "")) + 30);
    // Active people, with sessions and turns, against the period before; per person too.
    const sessionsCard = (p: string) =>
      /Active people<\/div><div class="card-value"><span title="([\d,]+)">[^<]*<\/span>(.*?)<\/div><div class="card-detail"><span title="([\d,]+)">[^<]*<\/span> sessions · <span title="([\d,]+)">/.exec(
        p,
      );
    const [, active, , sessions, turns] = sessionsCard(page) ?? [];
    expect(Number(active)).toBe(
      Number(
        receiver.sql("SELECT count(DISTINCT email) FROM usage_daily WHERE day >= date('now', '-29 days');"),
      ),
    );
    expect(Number(sessions)).toBe(
      Number(receiver.sql("SELECT count(*) FROM session_spans WHERE last_day >= date('now', '-29 days');")),
    );
    expect(Number(turns)).toBe(
      Number(receiver.sql("SELECT sum(turns) FROM session_days WHERE day >= date('now', '-29 days');")),
    );
    expect(sessionsCard(week)?.[2]).toContain('class="change');
    const mine = await (await admin.get("/admin/?range=30&people.q=ranges%40example.org")).text();
    expect(mine).toMatch(/>Sessions<.*>Turns</s);
    // Sessions, turns and active days, then last active: two sessions of one turn each, on two days.
    expect(mine).toContain(
      '<td class="num" data-value="2">2</td><td class="num" data-value="2">2</td><td class="num" data-value="2">2</td><td><time',
    );
    const custom = await admin.get("/admin/?range=custom&from=2020-01-01&to=2020-01-31");
    expect(custom.status).toBe(200);
    expect(await custom.text()).toContain("Nobody hit a usage limit in 2020-01-01 to 2020-01-31.");
  });

  test("bad input gets a clear message and a working page, never a 500", async () => {
    const cases: [string, number, string][] = [
      [
        "/admin/?range=365",
        400,
        "range=365 is not a range this dashboard knows; use 7, 30, 90 or all, or custom from/to dates.",
      ],
      ["/admin/?range=custom&from=2026-11-30&to=2026-11-01", 400, "from=2026-11-30 is after to=2026-11-01"],
      ["/admin/?range=custom&from=yesterday&to=2026-11-01", 400, "from=yesterday is not a date"],
      ["/admin/?people.page=9999", 200, "Page 9,999 is past the end; showing page 1, the last."],
      ["/admin/?people.sort=%3Cscript%3E", 200, "people.sort=&lt;script&gt; is not a column"],
      [
        `/admin/?people.q=${encodeURIComponent("<img src=x onerror=alert(1)>%' OR 1=1 --")}`,
        200,
        "No people match “&lt;img src=x",
      ],
      ["/admin/?division=%3Cb%3Enope", 200, "Seat pressure: &lt;b&gt;nope"],
    ];
    for (const [path, status, text] of cases) {
      const response = await admin.get(path);
      expect(response.status).toBe(status);
      expectSecurityHeaders(response);
      const body = await response.text();
      expect(body).toContain(text);
      expect(body).toContain("Who hit a usage limit");
      expect(body).not.toContain("<img src=x");
    }
  });

  test("the search box finds a person from any page: one match opens their page, several are listed", async () => {
    await reportingUser("findable.one@example.org");
    await reportingUser("findable.two@example.org");
    const one = await admin.get("/admin/search?q=FINDABLE.ONE");
    expect(one.status).toBe(303);
    expect(one.headers.get("location")).toBe(
      `/admin/users/${encodeURIComponent("findable.one@example.org")}`,
    );
    const several = await admin.get("/admin/search?q=findable");
    expect(several.status).toBe(200);
    const text = await several.text();
    expect(text).toContain("findable.one@example.org");
    expect(text).toContain("findable.two@example.org");
    expect(text).toContain(">2 people</span>");
    const none = await (await admin.get(`/admin/search?q=${encodeURIComponent("%_<x>")}`)).text();
    expect(none).toContain("Nobody&#39;s email contains “%_&lt;x&gt;”");
    for (const path of ["/admin/devices", "/admin/tokens", "/admin/audit"]) {
      expect(await (await admin.get(path)).text()).toContain('action="/admin/search"');
    }
  });

  test("a user page shows usage, windows, sessions, devices and tokens; an unknown user is 404", async () => {
    await reportingUser("page.user@example.org", "page-laptop");
    const response = await admin.get(`/admin/users/${encodeURIComponent("page.user@example.org")}`);
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    const page = await response.text();
    for (const text of [
      "5-hour windows",
      'data-table="windows"',
      'data-table="sessions"',
      "page-laptop",
      'data-server-table="tokens"',
      "Limit events",
    ]) {
      expect(page).toContain(text);
    }
    const missing = await admin.get("/admin/users/nobody%40example.org");
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing);
  });

  test("a user page takes custom from/to dates; a bad range says what to change and the page still works", async () => {
    await reportingUser("ranged.user@example.org");
    const path = `/admin/users/${encodeURIComponent("ranged.user@example.org")}`;
    const today = new Date().toISOString().slice(0, 10);
    const input = (p: string) =>
      /Input tokens<\/div><div class="card-value"><span title="([\d,]+)"/.exec(p)?.[1] ?? "";
    const todayOnly = await admin.get(`${path}?range=custom&from=${today}&to=${today}`);
    expect(todayOnly.status).toBe(200);
    const shown = await todayOnly.text();
    expect(shown).toContain(`value="${today}"`);
    expect(input(shown)).toBe("10");
    const exported = await admin.get(`${path}?range=custom&from=${today}&to=${today}&export`);
    expect(exported.headers.get("content-disposition")).toMatch(
      new RegExp(`^attachment; filename="ccflux-users-ranged-user-example-org-${today}-to-${today}-`),
    );
    const past = await (await admin.get(`${path}?range=custom&from=2020-01-01&to=2020-01-31`)).text();
    expect(past).toContain("No 5-hour windows start in 2020-01-01 to 2020-01-31.");
    expect(input(past)).toBe("0");
    const bad: [string, string][] = [
      ["range=365", "range=365 is not a range this dashboard knows"],
      ["range=custom&from=2026-11-30&to=2026-11-01", "from=2026-11-30 is after to=2026-11-01"],
    ];
    for (const [query, text] of bad) {
      const response = await admin.get(`${path}?${query}`);
      expect(response.status).toBe(400);
      const body = await response.text();
      expect(body).toContain(text);
      expect(body).toContain("Showing the last 30 days.");
      expect(body).toContain("5-hour windows");
    }
  });

  test("recomputing tiers redirects back with a notice and stores the figures", async () => {
    const response = await admin.post("/admin/tiers/recompute", { return: "/admin/?range=7" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/?range=7&notice=tiers-recomputed");
    expect(
      Number(receiver.sql("SELECT count(*) FROM tier_estimates WHERE range_key = '7';")),
    ).toBeGreaterThan(0);
  });

  test("assets are served as files with the headers; unknown admin paths are a 404 page", async () => {
    const css = await admin.get("/admin/assets/dashboard.css");
    expect(css.headers.get("content-type")).toStartWith("text/css");
    expectSecurityHeaders(css);
    const js = await admin.get("/admin/assets/dashboard.js");
    expect(js.headers.get("content-type")).toStartWith("text/javascript");
    expect(await js.text()).toContain("data-confirm");
    const missing = await admin.get("/admin/no-such-page");
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing);
    expect(missing.headers.get("content-type")).toStartWith("text/html");
  });
});

describe("exports", () => {
  test("?export downloads a self-contained, read-only page: inline assets under a hash CSP, no forms, no links home", async () => {
    const response = await admin.get("/admin/?range=7&users.q=eng&export");
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    expect(response.headers.get("content-disposition")).toMatch(
      /^attachment; filename="ccflux-overview-7days-\d{4}-\d{2}-\d{2}\.html"$/,
    );
    const page = await response.text();
    expect(page).toContain("<style>");
    expect(page).toContain("<script defer>");
    expect(page).toMatch(
      /http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-/,
    );
    expect(page).not.toContain("<form");
    expect(page).not.toContain("/admin/assets/");
    expect(page).not.toContain('href="/admin');
    expect(page).not.toMatch(/src="http|href="http/);
    expect(page).not.toContain(admin.csrf);
    expect(page).toContain("read-only");
    expect(auditRows()).toMatch(/export\|session\|[^|]+\|\/admin\//);
  });

  test("usage.csv and usage.json: one row per user, day and model for the range", async () => {
    await reportingUser("export.me@example.org");
    const csv = await admin.get("/admin/api/usage.csv?range=7");
    expect(csv.status).toBe(200);
    expectSecurityHeaders(csv);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csv.headers.get("content-disposition")).toMatch(/^attachment; filename="ccflux-usage-7days-/);
    const lines = (await csv.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "day,email,division,model,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cache_write_5m_tokens,cache_write_1h_tokens,requests,turns,cost_usd",
    );
    const today = new Date().toISOString().slice(0, 10);
    // At Sonnet 4.5's list prices: 10 × $3 + 20 × $15 + 300 × $0.30 + 40 unsplit writes × $3.75, per million.
    expect(lines).toContain(
      `${today},export.me@example.org,engineering,claude-sonnet-4-5,10,20,300,40,0,0,0,1,0.00057`,
    );
    expect(lines.length - 1).toBe(
      Number(receiver.sql(`SELECT count(*) FROM usage_daily WHERE day >= date('now', '-6 days');`)),
    );

    const json = await admin.get("/admin/api/usage.json?range=all");
    expect(json.headers.get("content-type")).toBe("application/json");
    const rows = (await json.json()) as Record<string, unknown>[];
    expect(rows.length).toBe(Number(receiver.sql("SELECT count(*) FROM usage_daily;")));
    expect(rows.find((r) => r.email === "export.me@example.org")).toMatchObject({
      day: today,
      division: "engineering",
      input_tokens: 10,
      turns: 1,
      cost_usd: 0.00057,
    });

    const bad = await admin.get("/admin/api/usage.csv?range=year");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("use 7, 30, 90 or all");

    const custom = await admin.get(`/admin/api/usage.csv?range=custom&from=${today}&to=${today}`);
    expect(custom.headers.get("content-disposition")).toMatch(
      new RegExp(`^attachment; filename="ccflux-usage-${today}-to-${today}-`),
    );
    const customLines = (await custom.text()).trimEnd().split("\r\n");
    expect(customLines.length - 1).toBe(
      Number(receiver.sql(`SELECT count(*) FROM usage_daily WHERE day = '${today}';`)),
    );
    expect(customLines.slice(1).every((line) => line.startsWith(`${today},`))).toBe(true);
    const before = await admin.get("/admin/api/usage.json?range=custom&from=2020-01-01&to=2020-01-31");
    expect(await before.json()).toEqual([]);
    const swapped = await admin.get("/admin/api/usage.json?range=custom&from=2026-12-01&to=2026-11-01");
    expect(swapped.status).toBe(400);
    expect(await swapped.text()).toContain("from=2026-12-01 is after to=2026-11-01");
    expect(auditRows()).toContain("export|session|");
  });
});

describe("bulk import", () => {
  test("a pasted CSV adds everyone and downloads their tokens once; a bad one adds nobody and says why", async () => {
    const bad = await admin.post("/admin/tokens/import", {
      csv: "bulk.one@example.org,eng\nnope\n",
      days: "30",
    });
    expect(bad.status).toBe(400);
    const page = await bad.text();
    expect(page).toContain("Nobody was added:");
    expect(page).toContain("line 2: &quot;nope&quot; is not an email address");
    expect(receiver.sql("SELECT count(*) FROM refresh_tokens WHERE email = 'bulk.one@example.org';")).toBe(
      "0",
    );

    const good = await admin.post("/admin/tokens/import", {
      csv: "email,division,days\nbulk.one@example.org,eng,\nbulk.two@example.org,,7\n",
      days: "30",
    });
    expect(good.status).toBe(200);
    expect(good.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(good.headers.get("content-disposition")).toMatch(/^attachment; filename="ccflux-new-tokens-/);
    expect(good.headers.get("cache-control")).toBe("no-store");
    const lines = (await good.text()).trim().split("\r\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /^bulk\.one@example\.org,eng,\S+ \S+,rtok_[0-9a-f]{64},https:\/\/ccflux\.example\.org\/report$/,
    );
    const token = lines[1]!.split(",")[3]!;
    expect((await api.exchange(token)).length).toBeGreaterThan(10);
    // A line without days takes the form's 30; the second line its own 7.
    expect(lines[1]).toContain(`,${new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10)} `);
    expect(
      receiver.sql(
        "SELECT date(expires_at) = date('now', '+7 days') FROM refresh_tokens WHERE email = 'bulk.two@example.org';",
      ),
    ).toBe("1");
    expect(auditRows()).toMatch(/provision\|session\|[^|]*\|bulk\.two@example\.org/);
    // Without the form's CSRF token nothing happens.
    const forged = await admin.post("/admin/tokens/import", { csv: "bulk.three@example.org" }, null);
    expect(forged.status).toBe(403);
    expect(receiver.sql("SELECT count(*) FROM refresh_tokens WHERE email = 'bulk.three@example.org';")).toBe(
      "0",
    );
  });
});

describe("token API for scripts", () => {
  const call = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
    fetch(`${receiver.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });

  test("provision, list, revoke and reissue with the bearer ADMIN_TOKEN, each audited; the token works", async () => {
    const added = await call("POST", "/admin/api/tokens", {
      email: " API.User@Example.org ",
      division: "data",
      days: 30,
    });
    expect(added.status).toBe(201);
    const issued = (await added.json()) as Record<string, unknown>;
    expect(issued).toMatchObject({
      email: "api.user@example.org",
      division: "data",
      report_url: "https://ccflux.example.org/report",
    });
    expect(String(issued.refresh_token)).toStartWith("rtok_");
    expect((await api.exchange(String(issued.refresh_token))).length).toBeGreaterThan(10);
    expect(issued.other_active_tokens).toBe(0);
    // A second token for the same person, in another spelling: said, so a script can warn.
    const second = await call("POST", "/admin/api/tokens", { email: "api.user@EXAMPLE.org" });
    const secondIssued = (await second.json()) as Record<string, unknown>;
    expect(secondIssued).toMatchObject({ email: "api.user@example.org", other_active_tokens: 1 });
    await call("POST", `/admin/api/tokens/${secondIssued.id}/revoke`);

    const listed = (await (await call("GET", "/admin/api/tokens")).json()) as Record<string, unknown>[];
    const row = listed.find((t) => t.id === issued.id)!;
    expect(row).toMatchObject({ email: "api.user@example.org", status: "active" });
    expect(JSON.stringify(listed)).not.toContain(String(issued.refresh_token));

    const again = await call("POST", `/admin/api/tokens/${issued.id}/reissue`, { days: 7 });
    expect(again.status).toBe(201);
    const replacement = (await again.json()) as Record<string, unknown>;
    expect(replacement).toMatchObject({
      replaces: issued.id,
      email: "api.user@example.org",
      division: "data",
    });
    expect((await api.post("/token", String(issued.refresh_token))).status).toBe(401);

    const revoked = await call("POST", `/admin/api/tokens/${replacement.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id: replacement.id, status: "revoked" });
    expect((await api.post("/token", String(replacement.refresh_token))).status).toBe(401);
    expect(auditRows()).toContain("provision|bearer|");
    expect(auditRows()).toContain("reissue|bearer|");
    expect(auditRows()).toMatch(/revoke\|bearer\|[^|]*\|api\.user@example\.org/);
  });

  test("bad input is a JSON error that says what to change, and changes nothing", async () => {
    const before = receiver.sql("SELECT count(*) FROM refresh_tokens;");
    const cases: [number, Response][] = [
      [400, await call("POST", "/admin/api/tokens", { email: "not-an-email" })],
      [400, await call("POST", "/admin/api/tokens", { email: "a@example.org", days: 0 })],
      [400, await call("POST", "/admin/api/tokens", "{not json")],
      [400, await call("POST", "/admin/api/tokens", { email: "a@example.org", days: "many" })],
      [404, await call("POST", "/admin/api/tokens/999999/revoke")],
      [404, await call("POST", "/admin/api/tokens/abc/reissue", {})],
      [401, await call("POST", "/admin/api/tokens", { email: "a@example.org" }, "wrong-token")],
    ];
    for (const [status, response] of cases) {
      expect(response.status).toBe(status);
      if (status !== 401) {
        const body = (await response.json()) as { error: string; message: string };
        expect(body.error).toMatch(/^(invalid-request|not-found)$/);
        expect(body.message.length).toBeGreaterThan(20);
      }
    }
    // A browser session is sent to the forms.
    const session = await admin.get("/admin/api/tokens");
    expect(session.status).toBe(403);
    expect(receiver.sql("SELECT count(*) FROM refresh_tokens;")).toBe(before);
  });
});

describe("people export", () => {
  test("people.csv and people.json: one row per person with division, cost, limit hits by type and the recommendation", async () => {
    const { access, device } = await reportingUser("limited.person@example.org");
    for (const [i, daysAgo] of [1, 3].entries()) {
      const at = Date.now() - daysAgo * 86_400_000;
      const event = {
        schema_version: 2,
        session_id: `limited-${i}`,
        timestamp_utc: toRfc3339(at),
        kind: "rate_limit",
        limit_type: "five_hour",
        resets_at: toRfc3339(at + 3_600_000),
      };
      expect((await api.send(access, event, device, "/limit-event")).status).toBe(200);
    }
    const json = await admin.get("/admin/api/people.json?range=7");
    expect(json.status).toBe(200);
    expect(json.headers.get("content-type")).toBe("application/json");
    const rows = (await json.json()) as Record<string, unknown>[];
    expect(rows.find((r) => r.email === "limited.person@example.org")).toMatchObject({
      division: "engineering",
      billed_tokens: 30,
      cost_usd: 0.00057,
      limit_hits: 2,
      limit_hits_5h: 2,
      limit_days: 2,
      recommendation: "upgrade",
    });
    const csv = await admin.get("/admin/api/people.csv?range=custom&from=2020-01-01&to=2020-01-02");
    expect(csv.status).toBe(200);
    const header = (await csv.text()).split("\r\n")[0];
    expect(header).toStartWith("email,division,billed_tokens,input_tokens,output_tokens,cache_read_tokens");
    expect(header).toContain("limit_hits_5h,limit_hits_weekly,limit_hits_weekly_opus");
    expect(header).toContain("peak_5h_billed_tokens,peak_7d_billed_tokens");
    expect(header).toEndWith("tier,tier_confidence,recommendation,reason");
    const bad = await admin.get("/admin/api/people.csv?range=custom&from=2026-12-01&to=2026-11-01");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe(
      "from=2026-12-01 is after to=2026-11-01; swap them, or pick a later end date.\n",
    );
    expect(auditRows()).toContain("export|session|");
  });
});

describe("settings", () => {
  test("without ADMIN_TOKEN every /admin URL is 503 with a page that says how to enable it", async () => {
    const off = await startReceiver();
    try {
      for (const path of ["/admin/", "/admin", "/admin/login", "/admin/api/usage.csv"]) {
        const response = await fetch(`${off.url}${path}`, { redirect: "manual" });
        expect(response.status).toBe(503);
        expectSecurityHeaders(response);
        expect(await response.text()).toContain("ADMIN_TOKEN is not set");
      }
      expect((await fetch(`${off.url}/health`)).status).toBe(200);
    } finally {
      await off.stop();
      off.cleanup();
    }
  });

  test("COOKIE_SECURE adds Secure; without TRUST_PROXY X-Real-IP is ignored; a restart keeps the session", async () => {
    const other = await startReceiver({ env: { ADMIN_TOKEN, COOKIE_SECURE: "1" } });
    try {
      await firstTierRun(other);
      const client = new AdminClient(other.url);
      const response = await client.login(ADMIN_TOKEN, { "X-Real-IP": "203.0.113.99" });
      expect(response.headers.get("set-cookie")).toContain("Secure");
      expect(other.sql("SELECT address FROM admin_audit WHERE action = 'login';")).toBe("127.0.0.1");
      // Spoofed addresses share the real one's budget: 9 more attempts, then the 11th is refused.
      for (let i = 0; i < 9; i++) await client.login("wrong", { "X-Real-IP": `203.0.113.${i}` });
      expect(
        (await new AdminClient(other.url).login(ADMIN_TOKEN, { "X-Real-IP": "198.51.100.9" })).status,
      ).toBe(429);

      await other.stop();
      const again = await other.restart();
      try {
        expect((await client.get("/admin/")).status).toBe(200);
      } finally {
        await again.stop();
      }
    } finally {
      other.cleanup();
    }
  });
});
