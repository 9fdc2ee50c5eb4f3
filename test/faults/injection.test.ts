// Injection: SQL metacharacters in every stored field end up stored as text, byte for byte, and
// break nothing; HTML and script in device ids, emails, model names, divisions and versions render
// inert in the dashboard in a real browser (Debian's chromium): no dialog fires, no injected
// element exists, and the markup shows as text. The JSON export gives the same strings back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { normaliseEmail } from "../../src/receiver/tokens/service.ts";
import { Client, guideToken, newDevice, report } from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_TOKEN = "injection-admin-token-0123456789abcdef";
const STEP_TIMEOUT_MS = 60_000;

const mark = (n: number) => `window.__pwned=${n};alert(${n})`;
const SQL = [
  "'; DROP TABLE usage_events; --",
  '" OR 1=1 --',
  "Robert'); DELETE FROM refresh_tokens;--",
  "%_\\' /* */ ;",
];
const HTML = {
  email: `x<img src=x onerror="${mark(1)}">'--@example.org`,
  division: `<script>${mark(2)}</script>'; DROP TABLE device_keys;--`,
  device: `"><svg onload="${mark(3)}">`,
  model: `</title><script>${mark(4)}</script>`,
  model2: `<a href="javascript:${mark(5)}">m</a>' OR '1'='1`,
  session: `<iframe srcdoc="<script>${mark(6)}</script>">`,
  version: `<b onmouseover="${mark(7)}">v</b>`,
};

let receiver: TestReceiver;
let context: BrowserContext | undefined;
let profile = "";
afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
}, STEP_TIMEOUT_MS);

const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** A user provisioned by the guide's INSERT (quotes doubled, as an admin must), with a device. */
async function user(email: string, division: string, deviceId: string) {
  const client = new Client(receiver.url);
  const token = guideToken();
  receiver.sql(
    `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('${token}', ${quote(email)}, ${quote(division)}, datetime('now', '+365 days'));`,
  );
  const access = await client.exchange(token);
  const device = newDevice();
  expect((await client.registerKey(access, device, deviceId)).status).toBe(200);
  return { client, access, device };
}

function json<T>(statement: string): T[] {
  const out = receiver.sql(`.mode json\n${statement}`);
  return out ? (JSON.parse(out) as T[]) : [];
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  receiver = await startReceiver({
    env: { ADMIN_TOKEN, REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "10000" },
  });
  // SQL metacharacters in every field a client controls.
  for (const [i, text] of SQL.entries()) {
    const { client, access, device } = await user(`sql${i}${text}@example.org`, text, text);
    const body = {
      ...report({ session_id: text, turn_index: i }),
      schema_version: 2,
      plugin_version: text,
      claude_code_version: text,
      session_start_utc: text,
      models: { [text]: { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 } },
    };
    expect((await client.send(access, body, device)).status).toBe(200);
    const limit = {
      schema_version: 2,
      session_id: text,
      timestamp_utc: body.timestamp_utc,
      kind: "rate_limit",
    };
    expect((await client.send(access, limit, device, "/limit-event")).status).toBe(200);
  }
  // Markup everywhere the dashboard shows text.
  const { client, access, device } = await user(HTML.email, HTML.division, HTML.device);
  const body = {
    ...report({ session_id: HTML.session, turn_index: 0 }),
    schema_version: 2,
    claude_code_version: HTML.version,
    plugin_version: HTML.version,
    models: {
      [HTML.model]: { input_tokens: 1000, output_tokens: 2000, cache_read_tokens: 3, cache_write_tokens: 4 },
      [HTML.model2]: { input_tokens: 10, output_tokens: 20, cache_read_tokens: 30, cache_write_tokens: 40 },
    },
  };
  expect((await client.send(access, body, device)).status).toBe(200);
}, STEP_TIMEOUT_MS);

test("SQL metacharacters are stored as text, byte for byte, and every table is still there", () => {
  for (const [i, text] of SQL.entries()) {
    const [row] = json<Record<string, string>>(
      `SELECT email, session_id, model, device_id, plugin_version, claude_code_version FROM usage_events WHERE turn_index = ${i} AND email LIKE 'sql${i}%';`,
    );
    // Emails are kept lower-case (one person, one email); everything else byte for byte.
    const email = normaliseEmail(`sql${i}${text}@example.org`);
    expect(row).toEqual({
      email,
      session_id: text,
      model: text,
      device_id: text,
      plugin_version: text,
      claude_code_version: text,
    });
    const [token] = json<{ division: string }>(
      `SELECT division FROM refresh_tokens WHERE email = ${quote(email)};`,
    );
    expect(token?.division).toBe(text);
    const [limit] = json<{ session_id: string }>(
      `SELECT session_id FROM limit_events WHERE email = ${quote(email)};`,
    );
    expect(limit?.session_id).toBe(text);
  }
  expect(receiver.sql("SELECT count(*) FROM refresh_tokens;")).toBe(String(SQL.length + 1));
  expect(receiver.sql("SELECT count(*) FROM usage_events;")).toBe(String(SQL.length + 2));
  expect(receiver.sql("SELECT count(*) FROM device_keys;")).toBe(String(SQL.length + 1));
  expect(receiver.sql("PRAGMA integrity_check;")).toBe("ok");
});

test(
  "markup in emails, divisions, device ids, model names and versions is inert text in chromium",
  async () => {
    profile = mkdtempSync(join(tmpdir(), "ccflux-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const dialogs: string[] = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    });
    await page.goto(`${receiver.url}/admin/login`);
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${receiver.url}/admin/`);

    const pages: [string, string[]][] = [
      ["/admin/", [HTML.email]],
      [`/admin/users/${encodeURIComponent(HTML.email)}`, [HTML.email, HTML.model, HTML.model2, HTML.device]],
      ["/admin/devices", [HTML.device, HTML.email]],
      ["/admin/tokens", [HTML.email, HTML.division]],
      ["/admin/audit", []],
      ["/admin/?range=7", [HTML.email]],
    ];
    for (const [path, texts] of pages) {
      const response = await page.goto(`${receiver.url}${path}`);
      expect(`${path} ${response?.status()}`).toBe(`${path} 200`);
      await page.mouse.move(10, 10);
      // innerText on purpose: what a person sees rendered, not the DOM's raw text.
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point
      const shown = await page.locator("body").innerText();
      // Whitespace may be collapsed in rendering; the markup characters must be there as text.
      const flat = shown.replace(/\s+/g, " ");
      for (const text of texts)
        expect(`${path}: ${flat.includes(text.replace(/\s+/g, " "))}`).toBe(`${path}: true`);
      const injected = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
        img: document.querySelectorAll('img[src="x"]').length,
        svg: document.querySelectorAll("svg[onload]").length,
        iframe: document.querySelectorAll("iframe").length,
        handlers: document.querySelectorAll("[onerror], [onload], [onmouseover]").length,
        jsLinks: document.querySelectorAll('a[href^="javascript:"]').length,
      }));
      expect({ path, ...injected }).toEqual({
        path,
        pwned: null,
        img: 0,
        svg: 0,
        iframe: 0,
        handlers: 0,
        jsLinks: 0,
      });
    }
    expect(dialogs).toEqual([]);

    // The export carries the same strings back, as data.
    const exported = await fetch(`${receiver.url}/admin/api/usage.json?range=30`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(exported.status).toBe(200);
    const text = await exported.text();
    for (const value of [HTML.email, HTML.model, HTML.model2, SQL[0]!])
      expect(text).toContain(JSON.stringify(value).slice(1, -1));
  },
  STEP_TIMEOUT_MS * 2,
);
