// Per-person totals over a range come from copies of the running totals kept in memory while no
// day up to them changes. Late reports, hand-typed SQL and deletes land between views of the same
// ranges; every view must equal summing usage_daily itself.
import type { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { customRange, type DayRange, dayOf, fixedRange } from "../../../src/receiver/analytics/ranges.ts";
import { loadConfig } from "../../../src/receiver/config.ts";
import { openDatabase } from "../../../src/receiver/db/database.ts";
import { createServices } from "../../../src/receiver/services.ts";
import { rng } from "../../faults/support.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-pair-totals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = Date.parse("2026-11-30T12:00:00Z");
const DAY = 86_400_000;

function summed(db: Database, range: DayRange) {
  return Object.fromEntries(
    db
      .query<{ email: string; input: number }, [string, string]>(
        `SELECT email, sum(input_tokens) AS input FROM usage_daily
         WHERE day >= ? AND day <= ? GROUP BY email HAVING sum(turns) > 0`,
      )
      .all(range.from, range.to)
      .map((row) => [row.email, row.input]),
  );
}

test("every view of a range equals summing usage_daily, with writes on any day between views", () => {
  const path = join(dir, "model.db");
  const db = openDatabase(path);
  const services = createServices(db, loadConfig({ DATABASE_PATH: path, ADMIN_TOKEN: "t" }));
  const next = rng(1414);
  const days = Array.from({ length: 40 }, (_, i) => dayOf(NOW - i * DAY));
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const emails = ["a@example.org", "b@example.org", "c@example.org"];
  const models = ["opus", "sonnet"];
  const write = db.query<unknown, [string, string, string, number]>(
    `INSERT INTO usage_daily (email, day, model, input_tokens, turns) VALUES (?, ?, ?, ?, 1)
     ON CONFLICT (email, day, model) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
       turns = turns + 1`,
  );
  // A few ranges viewed again and again, as a dashboard is, so their copies are used again: the
  // week before last (a past range) shares its start and end with the last 7 days' periods.
  const ranges = [
    fixedRange("7", NOW),
    fixedRange("30", NOW),
    fixedRange("all", NOW),
    customRange(days[13]!, days[7]!) as DayRange,
  ];
  let views = 0;
  for (let step = 0; step < 400; step++) {
    const roll = next();
    // Mostly today's reports, sometimes a late one for any day, an admin's UPDATE or DELETE.
    const day = roll < 0.6 ? days[0]! : pick(days);
    if (roll > 0.97) db.run("DELETE FROM usage_daily WHERE day = ? AND email = ?", [day, pick(emails)]);
    else if (roll > 0.94)
      db.run("UPDATE usage_daily SET input_tokens = input_tokens + 7 WHERE day = ?", [day]);
    else write.run(pick(emails), day, pick(models), 1 + Math.floor(next() * 100));
    if (step % 10 !== 9) continue;
    for (const range of ranges) {
      const shown = Object.fromEntries(
        services.analytics
          .overview(range, NOW)
          .people.filter((p) => p.activeDays > 0)
          .map((p) => [p.email, p.input]),
      );
      expect(shown).toEqual(summed(db, range));
      views++;
    }
  }
  expect(views).toBe(160);
  db.close();
});
