// The dashboard in a real browser (Debian's chromium, which .ci/run installs): log in, add a user
// and read the token, revoke a device, switch the range, filter and sort a table, open the export
// from disk with the network off, and check that markup in a device id stays text.
// Screenshots of the overview and a user page go to test/artifacts/.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Dialog, type Page } from "playwright-core";
import { toRfc3339 } from "../../../src/protocol/index.ts";
import { USER_SETUP_URL } from "../../../src/receiver/admin/views/tokens.ts";
import { Client, guideInsert, guideToken, newDevice, report } from "../../support/client.ts";
import { startReceiver, type TestReceiver } from "../../support/receiver.ts";
import { ADMIN_TOKEN, firstTierRun } from "./admin-client.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "../../../test/artifacts");
const XSS_DEVICE = "<img src=x onerror=alert(1)>";
const ROOT = join(import.meta.dir, "../../..");
/** A browser step on 2 busy cores can take several seconds. */
const STEP_TIMEOUT_MS = 60_000;

let receiver: TestReceiver;
let context: BrowserContext;
let page: Page;
let profile: string;
const problems: string[] = [];
const alerts: string[] = [];

/** Any alert would mean markup ran; confirmations are dismissed unless a test accepts one. */
async function dismissAndRecordAlerts(dialog: Dialog): Promise<void> {
  if (dialog.type() === "alert") alerts.push(dialog.message());
  await dialog.dismiss();
}

async function seed(): Promise<void> {
  const api = new Client(receiver.url);
  const refresh = guideToken();
  receiver.sql(guideInsert(refresh, "mallory@example.org", "research"));
  const access = await api.exchange(refresh);
  const xss = newDevice();
  const spare = newDevice();
  expect((await api.registerKey(access, xss, XSS_DEVICE)).status).toBe(200);
  expect((await api.registerKey(access, spare, "mallory-lost-laptop")).status).toBe(200);
  for (let turn = 0; turn < 3; turn++) {
    const at = Date.now() - turn * 60_000;
    const body = report({ session_id: "mallory-1", turn_index: turn, timestamp_utc: toRfc3339(at) });
    expect((await api.send(access, body, xss)).status).toBe(200);
  }
}

beforeAll(async () => {
  // Loudly, not a skip: CI installs chromium, so its absence is a broken machine.
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser test`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "ccflux-browser-"));
  const filled = Bun.spawnSync(
    [
      process.execPath,
      join(ROOT, "src/receiver/main.ts"),
      "demo-data",
      "--users",
      "60",
      "--days",
      "40",
      "--seed",
      "4",
    ],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: join(dir, "ccflux.db") } },
  );
  expect(filled.exitCode).toBe(0);
  receiver = await startReceiver({ dir, env: { ADMIN_TOKEN, BASE_URL: "https://ccflux.example.org" } });
  await firstTierRun(receiver);
  await seed();
  profile = mkdtempSync(join(tmpdir(), "ccflux-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("dialog", dismissAndRecordAlerts);
  mkdirSync(ARTIFACTS, { recursive: true });
}, STEP_TIMEOUT_MS);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await receiver?.stop();
  receiver?.cleanup();
}, STEP_TIMEOUT_MS);

test(
  "log in, then the overview renders with no script or policy errors",
  async () => {
    await page.goto(`${receiver.url}/admin/`);
    expect(page.url()).toContain("/admin/login");
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${receiver.url}/admin/`);
    await expect(page.locator("h1").textContent()).resolves.toBe("Seat pressure");
    await expect(page.locator("svg.plot").count()).resolves.toBeGreaterThanOrEqual(3);
    // The server pages the people; the script ran: times are relative.
    await expect(page.locator("#people .count").textContent()).resolves.toBe("1–50 of 61 people");
    await expect(page.locator("#recent time").first().textContent()).resolves.toMatch(/ago|just now/);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-overview.png"), fullPage: true });
    expect(problems).toEqual([]);
  },
  STEP_TIMEOUT_MS,
);

test(
  "a device id full of markup shows as text and runs nothing",
  async () => {
    await page.goto(`${receiver.url}/admin/devices`);
    const cell = page.locator("td.device", { hasText: "onerror" });
    await expect(cell.textContent()).resolves.toBe(XSS_DEVICE);
    await expect(page.locator('img[src="x"]').count()).resolves.toBe(0);
    expect(alerts).toEqual([]);
  },
  STEP_TIMEOUT_MS,
);

test(
  "add a user: the token is shown once with the endpoint",
  async () => {
    await page.goto(`${receiver.url}/admin/tokens`);
    await page.fill('input[name="email"]', "new.hire@example.org");
    await page.fill('input[name="division"]', "platform");
    await page.click("text=Add user and issue token");
    await page.waitForURL(/\/admin\/tokens\/issued\?reveal=/);
    const handout = await page.locator("#handout").textContent();
    const token = receiver.sql("SELECT token FROM refresh_tokens WHERE email = 'new.hire@example.org';");
    expect(handout).toBe(
      `Refresh token: ${token}\nReceiver URL:  https://ccflux.example.org/report\nSetup guide:   ${USER_SETUP_URL}`,
    );
    await page.reload();
    await expect(page.locator("h1").textContent()).resolves.toBe("Already shown");
    // The browser reports the 410 of that reload as a failed resource; it is the expected answer.
    expect(problems.splice(0)).toEqual([
      "console: Failed to load resource: the server responded with a status of 410 (Gone)",
    ]);
    await expect(page.content()).resolves.not.toContain(token);
  },
  STEP_TIMEOUT_MS,
);

test(
  "revoke a device after a confirmation that says what will happen",
  async () => {
    await page.goto(`${receiver.url}/admin/devices?devices.q=mallory-lost`);
    await expect(page.locator('table[data-table="devices"] tbody tr:not([hidden])').count()).resolves.toBe(1);
    let question = "";
    page.off("dialog", dismissAndRecordAlerts);
    page.once("dialog", async (dialog) => {
      question = dialog.message();
      await dialog.accept();
    });
    await page.locator("tbody tr:not([hidden]) button", { hasText: /^Revoke$/ }).click();
    await page.waitForURL(/notice=device-revoked/);
    expect(question).toContain("“mallory-lost-laptop” will stop reporting on its next turn");
    expect(question).toContain("their other devices and their refresh token keep working");
    await expect(page.locator(".notice").textContent()).resolves.toContain("Device key revoked");
    expect(receiver.sql("SELECT revoked FROM device_keys WHERE device_id = 'mallory-lost-laptop';")).toBe(
      "1",
    );
    // The filter survived the redirect (it is in the query string).
    await expect(page.locator('input[data-filter-for="devices"]').inputValue()).resolves.toBe("mallory-lost");
    page.on("dialog", dismissAndRecordAlerts);
  },
  STEP_TIMEOUT_MS,
);

test(
  "switch the range; search and sort the people on the server; both survive a reload",
  async () => {
    await page.goto(`${receiver.url}/admin/`);
    const billed = async () =>
      Number(
        (await page
          .locator(".card", { hasText: "Billed tokens" })
          .locator(".card-value span")
          .first()
          .getAttribute("title"))!.replaceAll(",", ""),
      );
    const month = await billed();
    await page.click('nav.range a:has-text("7 days")');
    await page.waitForURL(/range=7/);
    await expect(page.locator('nav.range a[aria-current="true"]').textContent()).resolves.toBe("7 days");
    expect(await billed()).toBeLessThan(month);

    await page.fill('input[type="search"][name="people.q"]', "mallory");
    await page.press('input[type="search"][name="people.q"]', "Enter");
    await page.waitForURL(/people\.q=mallory/);
    await expect(page.locator('table[data-server-table="people"] tbody tr').count()).resolves.toBe(1);
    await page.fill('input[type="search"][name="people.q"]', "example.org");
    await page.press('input[type="search"][name="people.q"]', "Enter");
    await page.waitForURL(/people\.q=example\.org/);
    await page.click('table[data-server-table="people"] th a:has-text("Cache reads")');
    await page.waitForURL(/people\.sort=cache-reads/);
    await page.click('table[data-server-table="people"] th a:has-text("Cache reads")');
    await page.waitForURL(/people\.dir=asc/);
    expect(page.url()).toContain("range=7");
    await page.reload();
    await expect(page.locator('input[type="search"][name="people.q"]').inputValue()).resolves.toBe(
      "example.org",
    );
    await expect(
      page
        .locator('table[data-server-table="people"] th', { hasText: "Cache reads" })
        .getAttribute("aria-sort"),
    ).resolves.toBe("ascending");
    await page.click('nav.pager a:has-text("Next")');
    await page.waitForURL(/people\.page=2/);
    await expect(page.locator("#people .count").textContent()).resolves.toMatch(
      /^51–(\d+) of \1 people matching “example\.org”$/,
    );
  },
  STEP_TIMEOUT_MS,
);

test(
  "at 1440×900 the first screen shows the top limit-hitter and the upgrade recommendations",
  async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    try {
      await page.goto(`${receiver.url}/admin/?range=30`);
      const top = receiver.sql(
        "SELECT email FROM limit_events WHERE event_at >= date('now', '-29 days') GROUP BY email ORDER BY count(*) DESC, max(event_at) DESC, email LIMIT 1;",
      );
      expect(top).toContain("@example.org");
      const inView = async (selector: string) => {
        const box = await page.locator(selector).first().boundingBox();
        expect(box).not.toBeNull();
        expect(box!.y).toBeGreaterThanOrEqual(0);
        expect(box!.y + box!.height).toBeLessThanOrEqual(900);
        expect(box!.x + box!.width).toBeLessThanOrEqual(1440);
      };
      await expect(page.locator('[data-list="limit-hitters"] li .who').first().textContent()).resolves.toBe(
        top,
      );
      await inView('[data-list="limit-hitters"] li');
      await inView('#recommendations h3:has-text("Upgrade")');
      await inView('[data-list="upgrade"] li');
      await expect(page.locator('[data-list="upgrade"] li').count()).resolves.toBeGreaterThan(0);
      // The windows that hit the limit are one click away.
      await expect(
        page.locator('[data-list="upgrade"] li a.windows-link').first().getAttribute("href"),
      ).resolves.toMatch(/^\/admin\/users\/.+#windows$/);
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-seat-pressure-1440.png") });
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  },
  STEP_TIMEOUT_MS,
);

test(
  "at 390 px on a phone the seat-pressure answer reads without horizontal scrolling",
  async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${receiver.url}/admin/?range=30`);
      const widths = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        viewport: window.innerWidth,
      }));
      expect(widths.page).toBeLessThanOrEqual(widths.viewport);
      expect(widths.body).toBeLessThanOrEqual(widths.viewport);
      for (const selector of ['[data-list="limit-hitters"] li', '[data-list="upgrade"] li']) {
        const box = await page.locator(selector).first().boundingBox();
        expect(box!.x).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width).toBeLessThanOrEqual(390);
      }
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-seat-pressure-phone.png"), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  },
  STEP_TIMEOUT_MS,
);

test(
  "the export opens from disk with the network off: charts, times and filters still work",
  async () => {
    await page.goto(`${receiver.url}/admin/?range=30`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("a:has-text('Export')")]);
    const file = join(profile, "export.html");
    await download.saveAs(file);
    expect(download.suggestedFilename()).toMatch(/^ccflux-overview-30days-\d{4}-\d{2}-\d{2}\.html$/);

    await context.setOffline(true);
    const offline = await context.newPage();
    try {
      const requests: string[] = [];
      const errors: string[] = [];
      offline.on("request", (request) => {
        if (!request.url().startsWith("file:") && !request.url().startsWith("data:"))
          requests.push(request.url());
      });
      offline.on("pageerror", (error) => errors.push(error.message));
      offline.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      await offline.goto(`file://${file}`);
      await expect(offline.locator("svg.plot").count()).resolves.toBeGreaterThanOrEqual(3);
      await expect(offline.locator("form").count()).resolves.toBe(0);
      await expect(offline.locator("#recent time").first().textContent()).resolves.toMatch(/ago|just now/);
      await offline.fill('input[data-filter-for="events"]', "mallory");
      await expect(
        offline.locator('table[data-table="events"] tbody tr:not([hidden])').count(),
      ).resolves.toBeGreaterThan(0);
      await expect(offline.locator("#recent td", { hasText: "onerror" }).first().textContent()).resolves.toBe(
        XSS_DEVICE,
      );
      await expect(offline.locator('img[src="x"]').count()).resolves.toBe(0);
      expect(requests).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await offline.close();
      await context.setOffline(false);
    }
  },
  STEP_TIMEOUT_MS,
);

test(
  "a user page: windows, sessions, devices and tokens; screenshot",
  async () => {
    const heavy = receiver.sql(
      "SELECT email FROM tier_estimates WHERE range_key = '30' ORDER BY limit_windows DESC, peak_billed_tokens DESC LIMIT 1;",
    );
    await page.goto(`${receiver.url}/admin/users/${encodeURIComponent(heavy)}?range=30`);
    await expect(page.locator("h1").textContent()).resolves.toBe(heavy);
    await expect(page.locator('table[data-table="windows"] tbody tr').count()).resolves.toBeGreaterThan(3);
    await expect(page.locator('table[data-table="sessions"] tbody tr').count()).resolves.toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-user.png"), fullPage: true });
    expect(problems).toEqual([]);
    expect(alerts).toEqual([]);
  },
  STEP_TIMEOUT_MS,
);
