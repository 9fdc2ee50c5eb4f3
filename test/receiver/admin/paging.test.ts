// Pages that list what a person can multiply (device keys, limit events) show 50 rows a page,
// chosen on the server, whatever the table holds.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ROWS_PER_PAGE } from "../../../src/receiver/admin/views/paging.ts";
import { startReceiver, type TestReceiver } from "../../support/receiver.ts";
import { ADMIN_TOKEN } from "./admin-client.ts";

let receiver: TestReceiver;
const EMAIL = "many@example.org";
const KEYS = 2 * ROWS_PER_PAGE + 20;
const EVENTS = ROWS_PER_PAGE + 10;

async function page(path: string): Promise<string> {
  const response = await fetch(`${receiver.url}${path}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return response.text();
}

const rows = (text: string, table: string) =>
  (
    text
      .slice(text.indexOf(`data-table="${table}"`))
      .split("</table>")[0]!
      .match(/<tr>/g) ?? []
  ).length - 1;

beforeAll(async () => {
  receiver = await startReceiver({ env: { ADMIN_TOKEN } });
  // What an admin's SQL (or an older receiver without caps) may have left: many keys, many events.
  receiver.sql(
    `INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('rtok_many', '${EMAIL}', datetime('now', '+1 day'));
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${KEYS})
     INSERT INTO device_keys (public_key, email, device_id, registered_at, last_seen_at, revoked)
     SELECT printf('key-%03d', i), '${EMAIL}', printf('host-%03d', i), datetime('now', printf('-%d minutes', ${KEYS} - i)), NULL, i % 2 FROM n;
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${EVENTS})
     INSERT INTO limit_events (email, session_id, timestamp_utc, event_at, kind, received_at)
     SELECT '${EMAIL}', 's', 'e-' || i, datetime('now', printf('-%d hours', i)), 'rate_limit', datetime('now') FROM n;`,
  );
});
afterAll(async () => {
  await receiver.stop();
  receiver.cleanup();
});

test("Device Keys shows 50 keys a page, with the counts of all of them and links between pages", async () => {
  const first = await page("/admin/devices");
  expect(rows(first, "devices")).toBe(ROWS_PER_PAGE);
  expect(first).toContain(`Device keys 1–50 of ${KEYS}`);
  expect(first).toContain(`${KEYS / 2} active, ${KEYS / 2} revoked.`);
  expect(first).toContain('href="/admin/devices?page=2" rel="next"');
  expect(first).not.toContain('rel="prev"');
  expect(first).toContain("host-001");
  const last = await page("/admin/devices?page=3");
  expect(rows(last, "devices")).toBe(KEYS - 2 * ROWS_PER_PAGE);
  expect(last).toContain(`Device keys 101–${KEYS} of ${KEYS}`);
  expect(last).toContain('href="/admin/devices?page=2" rel="prev"');
  expect(last).not.toContain('rel="next"');
  expect(last).not.toContain("host-001<");
  // The revoke question counts the person's active keys on every page, not only this page's.
  expect(last).toContain("their other devices and their refresh token keep working");
  // Past the end is the last page; anything else is the first.
  expect(rows(await page("/admin/devices?page=99"), "devices")).toBe(KEYS - 2 * ROWS_PER_PAGE);
  for (const bad of ["0", "-1", "abc", "1e3", "9".repeat(30)]) {
    expect(await page(`/admin/devices?page=${bad}`)).toContain(`Device keys 1–50 of ${KEYS}`);
  }
});

test("a user's page shows 50 limit events and 50 device keys a page, each paged on its own", async () => {
  const user = `/admin/users/${encodeURIComponent(EMAIL)}`;
  const first = await page(`${user}?range=7`);
  expect(rows(first, "limits")).toBe(ROWS_PER_PAGE);
  expect(rows(first, "devices")).toBe(ROWS_PER_PAGE);
  expect(first).toContain(`Limit events 1–50 of ${EVENTS}`);
  expect(first).toContain(`href="${user}?range=7&amp;limits_page=2" rel="next"`);
  const second = await page(`${user}?range=7&limits_page=2&devices_page=3`);
  expect(rows(second, "limits")).toBe(EVENTS - ROWS_PER_PAGE);
  expect(rows(second, "devices")).toBe(KEYS - 2 * ROWS_PER_PAGE);
  expect(second).toContain(`Limit events 51–${EVENTS} of ${EVENTS}`);
  // Newest first: the oldest event (e-60, 60 hours ago) is on the last page.
  expect(second).toContain(`Device keys 101–${KEYS} of ${KEYS}`);
});
