// Secrets: a run that exercises every endpoint, good and bad, collects every secret it handled
// (refresh tokens, access tokens, device private keys, the admin token, admin session ids) and
// every byte the receiver gave out (its log, every response body and header, every page, the
// offline export and usage.csv/json), then scans. No secret may appear anywhere, in full or as a
// 16-character piece, except the refresh token on its own show-once page, which is the scan's
// positive control: the scanner must find it there.
import { afterAll, expect, test } from "bun:test";
import { toBase64 } from "../../src/protocol/index.ts";
import { Client, report } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { provision } from "./support.ts";

const ADMIN_TOKEN = "secret-admin-token-9d8c7b6a5f4e3d2c1b0a";

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
});

/** The secret and pieces of it long enough to be unmistakable. */
function needles(secret: string): string[] {
  const pieces = [secret];
  for (let at = 0; at + 16 <= secret.length; at += 8) pieces.push(secret.slice(at, at + 16));
  return pieces;
}

test("no token, key, admin token or session id in any log line, page, export or error body", async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: {
      ADMIN_TOKEN,
      REQUIRE_SIGNATURES: "1",
      RATE_LIMIT_PER_MINUTE: "3",
      BASE_URL: "https://ccflux.example.org",
    },
  });
  const url = receiver.url;
  const client = new Client(url);
  const users = await provision(receiver, 3, "secret");
  const secrets = new Map<string, string>([["admin token", ADMIN_TOKEN]]);
  for (const u of users) {
    secrets.set(`refresh token of ${u.email}`, u.refreshToken);
    secrets.set(`access token of ${u.email}`, u.accessToken);
    secrets.set(`private key of ${u.email}`, toBase64(u.device.keyPair.secretKey));
    secrets.set(`private key seed of ${u.email}`, toBase64(u.device.keyPair.secretKey.subarray(0, 32)));
    secrets.set(`private key hex of ${u.email}`, Buffer.from(u.device.keyPair.secretKey).toString("hex"));
  }
  const seen: { what: string; text: string }[] = [];
  const keep = async (what: string, response: Response) => {
    const headers = [...response.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
    seen.push({ what, text: `${response.status}\n${headers}\n${await response.text()}` });
    return response;
  };
  const [a, b, c] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];

  // The API, good and bad: every kind of refusal, with real secrets in the wrong places.
  for (let turn = 0; turn < 5; turn++)
    await keep("report", await client.send(a.accessToken, report({ turn_index: turn }), a.device));
  await keep("report rate-limited", await client.send(a.accessToken, report({ turn_index: 9 }), a.device));
  await keep("refresh token as access token", await client.send(a.refreshToken, report(), a.device));
  await keep("access token on /token", await client.post("/token", b.accessToken));
  await keep("admin token on /report", await client.send(ADMIN_TOKEN, report(), b.device));
  await keep("another user's key", await client.send(b.accessToken, report(), c.device));
  await keep("unsigned", await client.send(b.accessToken, report()));
  await keep(
    "bad body with secrets",
    await client.post("/report", b.accessToken, `{"session_id": "${b.refreshToken}", "x": ${"[".repeat(10)}`),
  );
  await keep(
    "register with private key as device id",
    await client.post(
      "/register-key",
      c.accessToken,
      JSON.stringify({
        public_key: toBase64(c.device.keyPair.secretKey),
        device_id: toBase64(c.device.keyPair.secretKey),
      }),
    ),
  );
  await keep(
    "limit event",
    await client.send(
      c.accessToken,
      { schema_version: 2, session_id: "s", timestamp_utc: "2026-01-01T00:00:00Z", kind: "rate_limit" },
      c.device,
      "/limit-event",
    ),
  );
  await keep("metrics", await fetch(`${url}/metrics`));
  await keep("health", await fetch(`${url}/health`));

  // The dashboard: failed logins with near-miss tokens, a real login, every page and export.
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const formHeaders = { "Content-Type": "application/x-www-form-urlencoded" };
  await keep(
    "bad login",
    await fetch(`${url}/admin/login`, {
      method: "POST",
      headers: formHeaders,
      body: form({ token: `${ADMIN_TOKEN}x` }),
      redirect: "manual",
    }),
  );
  await keep(
    "bad bearer",
    await fetch(`${url}/admin/`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` } }),
  );
  const login = await fetch(`${url}/admin/login`, {
    method: "POST",
    headers: formHeaders,
    body: form({ token: ADMIN_TOKEN }),
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const sessionId = cookie.split("=")[1]!;
  expect(sessionId.length).toBeGreaterThanOrEqual(20);
  secrets.set("admin session id", decodeURIComponent(sessionId));
  const admin = { Cookie: cookie };
  const page = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: admin, redirect: "manual" });
    expect(`${path} ${response.status}`).toMatch(/ (200|303|410)$/);
    return keep(path, response);
  };
  const overview = await (await fetch(`${url}/admin/`, { headers: admin })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(overview)?.[1] ?? "";
  expect(csrf).not.toBe("");
  // Provision a user through the dashboard: the token is shown once, on the reveal page only.
  const issued = await fetch(`${url}/admin/tokens`, {
    method: "POST",
    headers: { ...admin, ...formHeaders },
    body: form({ csrf, email: "new@example.org", division: "ops", days: "30" }),
    redirect: "manual",
  });
  expect(issued.status).toBe(303);
  const reveal = await fetch(`${url}${issued.headers.get("location")}`, { headers: admin });
  const revealText = await reveal.text();
  const newToken = receiver.sql("SELECT token FROM refresh_tokens WHERE email = 'new@example.org';");
  secrets.set("refresh token issued in the dashboard", newToken);
  expect(revealText).toContain(newToken); // positive control: the scanner would see it
  await keep("reveal again", await fetch(`${url}${issued.headers.get("location")}`, { headers: admin }));
  const id = receiver.sql(`SELECT id FROM refresh_tokens WHERE email = '${b.email}';`);
  await keep(
    "revoke",
    await fetch(`${url}/admin/tokens/${id}/revoke`, {
      method: "POST",
      headers: { ...admin, ...formHeaders },
      body: form({ csrf }),
      redirect: "manual",
    }),
  );
  await keep(
    "reissue",
    await fetch(`${url}/admin/tokens/${id}/reissue`, {
      method: "POST",
      headers: { ...admin, ...formHeaders },
      body: form({ csrf: "wrong" }),
      redirect: "manual",
    }),
  );
  await keep("revoked user's report", await client.send(b.accessToken, report({ turn_index: 1 }), b.device));
  await keep("revoked user's exchange", await client.post("/token", b.refreshToken));
  for (const path of [
    "/admin/",
    "/admin/?range=7",
    "/admin/?export",
    "/admin/devices",
    "/admin/tokens",
    "/admin/audit",
    `/admin/users/${encodeURIComponent(a.email)}`,
    `/admin/users/${encodeURIComponent(a.email)}?export`,
    "/admin/api/usage.csv?range=30",
    "/admin/api/usage.json?range=30",
    "/admin/api/usage.csv",
    "/admin/api/usage.json",
    "/admin/tokens/issued?reveal=nonsense",
  ]) {
    await page(path);
  }
  await keep(
    "logout",
    await fetch(`${url}/admin/logout`, {
      method: "POST",
      headers: { ...admin, ...formHeaders },
      body: form({ csrf }),
      redirect: "manual",
    }),
  );
  await keep("after logout", await fetch(`${url}/admin/`, { headers: admin, redirect: "manual" }));
  expect(await receiver.stop()).toBe(0);
  seen.push({ what: "receiver log", text: receiver.output() });
  expect(receiver.output().split("\n").length).toBeGreaterThan(40);

  seen.push({ what: "reveal page", text: revealText });
  const leaks: string[] = [];
  for (const [name, secret] of secrets) {
    for (const needle of needles(secret)) {
      for (const { what, text } of seen) {
        // The login's own Set-Cookie carries the session id by design; it is not kept above.
        if (text.includes(needle))
          leaks.push(`${name} (${needle === secret ? "whole" : `piece ${needle}`}) in ${what}`);
      }
    }
  }
  expect(leaks.filter((leak) => !leak.endsWith(" in reveal page"))).toEqual([]);
  // The scanner works: it finds the token on the one page meant to show it.
  expect(leaks).toContain("refresh token issued in the dashboard (whole) in reveal page");
  const scanned = seen.reduce((n, s) => n + s.text.length, 0);
  console.log(
    `secrets: ${secrets.size} secrets scanned for in ${seen.length} responses and the log, ${scanned} bytes`,
  );
}, 60_000);
