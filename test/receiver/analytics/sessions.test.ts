// Sessions and turns over any range come from session spans kept by triggers (migration 13): a
// session counts in every range its first to last day overlaps (it was open then). A seeded model
// writes session_days as the receiver and an admin's SQL would, in any order, and every range's
// figures must equal a count over session_days itself.
import type { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { customRange, type DayRange } from "../../../src/receiver/analytics/ranges.ts";
import { NO_SESSIONS } from "../../../src/receiver/analytics/sessions.ts";
import { loadConfig } from "../../../src/receiver/config.ts";
import { openDatabase } from "../../../src/receiver/db/database.ts";
import { createServices } from "../../../src/receiver/services.ts";
import { rng } from "../../faults/support.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-sessions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = Date.parse("2026-11-30T12:00:00Z");
const DAYS = Array.from({ length: 30 }, (_, i) => `2026-11-${String(i + 1).padStart(2, "0")}`);

/** Sessions open in the range (first to last day overlaps it) and turns in it, from session_days alone. */
function bruteForce(db: Database, range: DayRange, emails: string[] | null) {
  const people = emails === null ? "" : `WHERE email IN (${emails.map((e) => `'${e}'`).join(", ")})`;
  return db
    .query<{ sessions: number; turns: number }, [string, string]>(
      `SELECT coalesce(sum(first_day <= ?2 AND last_day >= ?1), 0) AS sessions, coalesce(sum(in_range), 0) AS turns
       FROM (SELECT min(day) AS first_day, max(day) AS last_day,
               sum(CASE WHEN day >= ?1 AND day <= ?2 THEN turns ELSE 0 END) AS in_range
             FROM session_days ${people} GROUP BY email, session_id)`,
    )
    .get(range.from, range.to)!;
}

test("every range's sessions and turns equal a count over session_days, however the rows were written", () => {
  const path = join(dir, "model.db");
  const db = openDatabase(path);
  const services = createServices(db, loadConfig({ DATABASE_PATH: path, ADMIN_TOKEN: "t" }));
  const next = rng(1313);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const emails = ["a@example.org", "b@example.org", "c@example.org", "d@example.org"];
  for (const [i, email] of emails.entries()) services.tokens.issue(email, i % 2 ? "eng" : "ops", 365, NOW);
  const write = db.query<unknown, [string, string, string, number]>(
    `INSERT INTO session_days (email, day, session_id, turns) VALUES (?, ?, ?, ?)
     ON CONFLICT (email, day, session_id) DO UPDATE SET turns = turns + excluded.turns`,
  );
  for (let step = 0; step < 600; step++) {
    const email = pick(emails);
    const session = `s${Math.floor(next() * 12)}`;
    // Mostly reports (new days and more turns, in any order of days), sometimes a hand DELETE.
    if (next() < 0.08) db.run("DELETE FROM session_days WHERE email = ? AND day = ?", [email, pick(DAYS)]);
    else write.run(email, pick(DAYS), session, next() < 0.2 ? 0 : 1 + Math.floor(next() * 3));
    if (step % 50 !== 49) continue;
    for (let r = 0; r < 20; r++) {
      const [from, to] = [pick(DAYS), pick(DAYS)].sort();
      const range = customRange(from!, to!) as DayRange;
      const { totals } = services.analytics.overview(range, NOW);
      expect({ sessions: totals.sessions, turns: totals.turns }).toEqual(bruteForce(db, range, null));
      const eng = services.analytics.overview(range, NOW, "eng").totals;
      expect({ sessions: eng.sessions, turns: eng.turns }).toEqual(
        bruteForce(db, range, ["b@example.org", "d@example.org"]),
      );
      const one = services.analytics.sessionCounts(["a@example.org", "c@example.org"], range);
      expect(one.get("a@example.org") ?? NO_SESSIONS).toEqual(bruteForce(db, range, ["a@example.org"]));
      expect(one.get("c@example.org") ?? NO_SESSIONS).toEqual(bruteForce(db, range, ["c@example.org"]));
    }
  }
  expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  db.close();
});
