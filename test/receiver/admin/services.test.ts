// The admin and analytics services and demo-data on a real SQLite file, without HTTP.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Report, toRfc3339 } from "../../../src/protocol/index.ts";
import { SESSION_HOURS } from "../../../src/receiver/admin/service.ts";
import { cacheHitRate } from "../../../src/receiver/admin/views/usage-parts.ts";
import {
  customRange,
  type DayRange,
  fixedRange,
  type RangeKey,
} from "../../../src/receiver/analytics/ranges.ts";
import { CommandError } from "../../../src/receiver/cli/command.ts";
import { fillDemoData } from "../../../src/receiver/cli/demo-data.ts";
import { type Config, loadConfig } from "../../../src/receiver/config.ts";
import { openDatabase } from "../../../src/receiver/db/database.ts";
import { createServices } from "../../../src/receiver/services.ts";
import type { Identity } from "../../../src/receiver/tokens/service.ts";
import { sqlite3 } from "../../support/receiver.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-admin-services-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function fresh() {
  const path = join(dir, `db-${files++}.db`);
  const config: Config = loadConfig({ DATABASE_PATH: path, ADMIN_TOKEN: "t" });
  const db = openDatabase(path);
  return { path, config, db, services: createServices(db, config) };
}

const HOUR = 3_600_000;
const NOW = Date.parse("2026-11-27T12:30:00Z");
const range = (key: RangeKey): DayRange => fixedRange(key, NOW);

function turn(
  sessionId: string,
  index: number,
  at: number,
  models: Record<string, [number, number, number, number]>,
): Report {
  return {
    schema_version: 2,
    session_id: sessionId,
    turn_index: index,
    timestamp_utc: toRfc3339(at),
    models: Object.fromEntries(
      Object.entries(models).map(([model, [input, output, cacheRead, cacheWrite]]) => [
        model,
        {
          input_tokens: input,
          output_tokens: output,
          cache_read_tokens: cacheRead,
          cache_write_tokens: cacheWrite,
        },
      ]),
    ),
  };
}

describe("admin sessions and show-once reveals", () => {
  const { services, path } = fresh();

  test("a session is found by its id for 12 hours, and only a hash of the id is stored", () => {
    const id = services.admin.startSession("10.0.0.1", NOW);
    const session = services.admin.session(id, NOW + SESSION_HOURS * HOUR - 1000);
    expect(session?.csrfToken.length).toBeGreaterThan(30);
    expect(session?.csrfToken).not.toBe(id);
    expect(services.admin.session(id, NOW + SESSION_HOURS * HOUR)).toBeNull();
    expect(sqlite3(path, `SELECT count(*) FROM admin_sessions WHERE id_hash = '${id}';`)).toBe("0");
    expect(sqlite3(path, "SELECT count(*) FROM admin_sessions;")).toBe("1");
  });

  test("ending a session makes its id worthless", () => {
    const id = services.admin.startSession("10.0.0.1", NOW);
    services.admin.endSession(id);
    expect(services.admin.session(id, NOW)).toBeNull();
  });

  test("a reveal shows the token once, only within 10 minutes, with its current status", () => {
    const issued = services.tokens.issue("once@example.org", null, 30, NOW);
    const nonce = services.admin.createReveal(issued.id, NOW);
    expect(services.admin.takeReveal("not-the-nonce", NOW)).toBeNull();
    const shown = services.admin.takeReveal(nonce, NOW + 60_000);
    expect(shown).toMatchObject({ id: issued.id, email: "once@example.org", token: issued.token });
    expect(services.admin.takeReveal(nonce, NOW + 60_000)).toBeNull();

    const late = services.admin.createReveal(issued.id, NOW);
    expect(services.admin.takeReveal(late, NOW + 10 * 60_000)).toBeNull();

    services.tokens.revoke(issued.id);
    const revoked = services.admin.createReveal(issued.id, NOW);
    expect(services.admin.takeReveal(revoked, NOW)?.status).toBe("revoked");
  });

  test("the audit log keeps entries newest first", () => {
    services.admin.audit(
      { action: "login", actor: "session", address: "1.2.3.4", subject: "", detail: "" },
      NOW,
    );
    services.admin.audit(
      { action: "revoke", actor: "bearer", address: "1.2.3.4", subject: "a@b.org", detail: "token #1" },
      NOW + 1000,
    );
    expect(services.admin.auditLog(10).map((e) => e.action)).toEqual(["revoke", "login"]);
  });
});

describe("dashboard queries", () => {
  const { services } = fresh();
  const alice: Identity = {
    email: "alice@example.org",
    refreshTokenId: services.tokens.issue("alice@example.org", "eng", 365, NOW).id,
  };
  const bob: Identity = {
    email: "bob@example.org",
    refreshTokenId: services.tokens.issue("bob@example.org", null, 365, NOW).id,
  };
  const day = (n: number, hour: number) => Date.parse("2026-11-27T00:00:00Z") - n * 24 * HOUR + hour * HOUR;

  // Alice: two sessions today (one spans two models in one turn), one 40 days ago. Bob: one turn.
  services.reports.store(
    alice,
    turn("a1", 0, day(0, 9), { sonnet: [100, 200, 1000, 50], haiku: [10, 20, 100, 5] }),
    null,
    NOW,
  );
  services.reports.store(
    alice,
    turn("a1", 1, day(0, 9) + 60_000, { sonnet: [100, 200, 1000, 50] }),
    null,
    NOW,
  );
  services.reports.store(
    alice,
    turn("a2", 0, day(0, 11) + 47 * 60_000 + 12_000, { sonnet: [1, 2, 3, 4] }),
    null,
    NOW,
  );
  services.reports.store(alice, turn("old", 0, day(40, 9), { opus: [5, 5, 5, 5] }), null, NOW);
  services.reports.store(bob, turn("b1", 0, day(1, 15), { sonnet: [7, 8, 9, 10] }), null, NOW);

  test("headline figures sum the range's tokens; the period before is the same length", () => {
    const overview = services.analytics.overview(range("30"), NOW);
    expect(overview.totals).toMatchObject({
      activeUsers: 2,
      input: 100 + 10 + 100 + 1 + 7,
      output: 200 + 20 + 200 + 2 + 8,
      cacheRead: 1000 + 100 + 1000 + 3 + 9,
      cacheWrite: 50 + 5 + 50 + 4 + 10,
    });
    // Three sessions and four turns (a turn on two models is one turn).
    expect(overview.totals).toMatchObject({ sessions: 3, turns: 4 });
    // Alice's turn 40 days ago is in the 30 days before.
    expect(overview.previous).toMatchObject({ input: 5, output: 5, activeUsers: 1 });
    const all = services.analytics.overview(range("all"), NOW);
    expect(all.totals.input).toBe(223);
    expect(all.previous).toBeNull();
    expect(all.models.find((m) => m.model === "opus")?.users).toBe(1);
    expect(cacheHitRate({ input: 10, output: 999, cacheRead: 80, cacheWrite: 10 })).toBe("80.0%");
  });

  test("per person: division, tokens and active days; per model: people and turns", () => {
    const overview = services.analytics.overview(range("7"), NOW);
    const a = overview.people.find((u) => u.email === "alice@example.org")!;
    expect(a).toMatchObject({ division: "eng", input: 211, output: 422, activeDays: 1 });
    expect(services.analytics.lastActiveOf("alice@example.org")).toBe("2026-11-27 11:47:12");
    const sonnet = overview.models.find((m) => m.model === "sonnet")!;
    expect(sonnet).toMatchObject({ users: 2, turns: 4 });
    expect(overview.daily.map((d) => d.day)).toEqual(["2026-11-26", "2026-11-27"]);
    expect(overview.divisionNames).toEqual(["eng"]);
  });

  test("any custom range is the running totals' difference, and matches summing the days", () => {
    const custom = customRange("2026-10-01", "2026-11-26") as DayRange;
    const overview = services.analytics.overview(custom, NOW);
    // Alice's opus turn of 18 Oct and Bob's turn of 26 Nov; nothing of 27 Nov.
    expect(overview.people.map((p) => [p.email, p.input]).sort()).toEqual([
      ["alice@example.org", 5],
      ["bob@example.org", 7],
    ]);
    const one = services.analytics.overview(customRange("2026-11-27", "2026-11-27") as DayRange, NOW);
    expect(one.people.find((p) => p.email === "alice@example.org")?.input).toBe(211);
    expect(one.people.find((p) => p.email === "bob@example.org")?.input).toBe(0);
  });

  test("a late report for an old day moves that day's and every later running total", () => {
    const { services: own } = fresh();
    const late: Identity = {
      email: "late@example.org",
      refreshTokenId: own.tokens.issue("late@example.org", null, 365, NOW).id,
    };
    own.reports.store(late, turn("l1", 0, day(30, 10), { opus: [5, 0, 0, 0] }), null, NOW);
    own.reports.store(late, turn("l2", 0, day(0, 10), { opus: [200, 0, 0, 0] }), null, NOW);
    own.reports.store(late, turn("l3", 0, day(20, 10), { opus: [1000, 0, 0, 0] }), null, NOW);
    const input = (r: DayRange) =>
      own.analytics.overview(r, NOW).people.find((p) => p.email === late.email)?.input;
    expect(input(customRange("2026-11-01", "2026-11-27") as DayRange)).toBe(1200);
    expect(input(customRange("2026-10-01", "2026-10-31") as DayRange)).toBe(5);
    expect(input(customRange("2026-11-07", "2026-11-07") as DayRange)).toBe(1000);
    expect(input(range("all"))).toBe(1205);
    expect(own.analytics.overview(range("all"), NOW).people[0]?.activeDays).toBe(3);
    // An admin's SQL on the daily rollup: the triggers keep the running totals and days with it.
    own.db.run(
      "UPDATE usage_daily SET input_tokens = input_tokens + 50 WHERE email = 'late@example.org' AND day = '2026-10-28';",
    );
    expect(input(range("all"))).toBe(1255);
    own.db.run("DELETE FROM usage_daily WHERE email = 'late@example.org' AND day = '2026-11-07';");
    expect(input(customRange("2026-11-01", "2026-11-27") as DayRange)).toBe(200);
    expect(input(range("all"))).toBe(255);
    expect(own.analytics.overview(range("all"), NOW).people[0]?.activeDays).toBe(2);
    expect(own.analytics.overview(range("all"), NOW).totals.input).toBe(255);
  });

  test("a division filter keeps only its people, in the figures and the days", () => {
    const eng = services.analytics.overview(range("7"), NOW, "eng");
    expect(eng.people.map((p) => p.email)).toEqual(["alice@example.org"]);
    expect(eng.totals.input).toBe(211);
    expect(eng.daily.map((d) => d.day)).toEqual(["2026-11-27"]);
    const none = services.analytics.overview(range("7"), NOW, "");
    expect(none.people.map((p) => p.email)).toEqual(["bob@example.org"]);
  });

  test("under a division filter the limit trend, sessions and the period before are that division's", () => {
    const { services: own } = fresh();
    const person = (email: string, division: string): Identity => ({
      email,
      refreshTokenId: own.tokens.issue(email, division, 365, NOW).id,
    });
    const [ann, ben] = [person("ann@example.org", "eng"), person("ben@example.org", "ops")];
    const at = (daysAgo: number) => NOW - daysAgo * 24 * HOUR;
    own.reports.store(ann, turn("ann-now", 0, at(1), { sonnet: [1, 1, 0, 0] }), null, NOW);
    own.reports.store(ann, turn("ann-before", 0, at(10), { sonnet: [1, 1, 0, 0] }), null, NOW);
    own.reports.store(ben, turn("ben-now", 0, at(2), { sonnet: [1, 1, 0, 0] }), null, NOW);
    own.reports.store(ben, turn("ben-now", 1, at(2) + 60_000, { sonnet: [1, 1, 0, 0] }), null, NOW);
    own.reports.store(ben, turn("ben-before", 0, at(9), { sonnet: [1, 1, 0, 0] }), null, NOW);
    const limit = (who: Identity, session: string, when: number, limitType: string) =>
      own.reports.storeLimitEvent(
        who,
        {
          schema_version: 2,
          session_id: session,
          timestamp_utc: toRfc3339(when),
          kind: "rate_limit",
          limit_type: limitType,
        },
        null,
        NOW,
      );
    limit(ann, "ann-now", at(1), "five_hour");
    limit(ben, "ben-now", at(2), "seven_day");
    limit(ben, "ben-now", at(2) + 60_000, "seven_day");
    const trend = (o: { limitDaily: { day: string; byType: Record<string, number> }[] }) =>
      o.limitDaily.map((d) => [d.day, d.byType.five_hour, d.byType.seven_day]);
    const everyone = own.analytics.overview(range("7"), NOW);
    expect(trend(everyone)).toEqual([
      ["2026-11-25", 0, 2],
      ["2026-11-26", 1, 0],
    ]);
    expect(everyone.totals).toMatchObject({ activeUsers: 2, sessions: 2, turns: 3 });
    expect(everyone.previous).toMatchObject({ activeUsers: 2, input: 2, output: 2 });
    const eng = own.analytics.overview(range("7"), NOW, "eng");
    expect(trend(eng)).toEqual([["2026-11-26", 1, 0]]);
    expect(eng.totals).toMatchObject({ activeUsers: 1, sessions: 1, turns: 1, limitHits: 1 });
    expect(eng.previous).toMatchObject({ activeUsers: 1, input: 1, output: 1 });
    expect(trend(own.analytics.overview(range("7"), NOW, "ops"))).toEqual([["2026-11-25", 0, 2]]);
  });

  test("find a person by any part of the email, in any case; search text is never a pattern", () => {
    expect(services.analytics.findPeople("ALICE", 10).map((p) => p.email)).toEqual(["alice@example.org"]);
    expect(services.analytics.findPeople("example.org", 10)).toHaveLength(2);
    expect(services.analytics.findPeople("%", 10)).toEqual([]);
    expect(services.analytics.findPeople("' OR 1=1 --", 10)).toEqual([]);
    expect(services.analytics.findPeople("example", 1)).toHaveLength(1);
  });

  test("a user's windows carry distinct sessions and mark limit events", () => {
    services.reports.storeLimitEvent(
      alice,
      {
        schema_version: 2,
        session_id: "a2",
        timestamp_utc: toRfc3339(day(0, 11) + 120_000),
        kind: "rate_limit",
      },
      null,
      NOW,
    );
    const windows = services.analytics.userWindows("alice@example.org", range("7"), NOW);
    expect(windows).toHaveLength(1);
    expect(windows[0]).toMatchObject({
      start: day(0, 9),
      sessions: 2,
      turns: 3,
      hasLimitEvent: true,
      open: true,
    });
    expect(services.analytics.userWindows("alice@example.org", range("all"), NOW)).toHaveLength(2);
    // A custom range ends on its last day: yesterday and before holds only the older window.
    const older = services.analytics.userWindows(
      "alice@example.org",
      customRange("2026-10-01", "2026-11-26") as DayRange,
      NOW,
    );
    expect(older).toHaveLength(1);
    expect(older[0]!.start).toBeLessThan(day(0, 0));
  });

  test("sessions of a user, newest first, with distinct turns", () => {
    const sessions = services.analytics.userSessions("alice@example.org", range("all"), 10);
    expect(sessions.map((s) => [s.sessionId, s.turns])).toEqual([
      ["a2", 1],
      ["a1", 2],
      ["old", 1],
    ]);
    const before = services.analytics.userSessions(
      "alice@example.org",
      customRange("2026-10-01", "2026-11-26") as DayRange,
      10,
    );
    expect(before.map((s) => s.sessionId)).toEqual(["old"]);
    const totals = services.analytics.userUsage(
      "alice@example.org",
      customRange("2026-10-01", "2026-11-26") as DayRange,
      NOW,
    ).totals;
    expect(totals).toMatchObject({ input: 5, sessions: 1, turns: 1 });
  });

  test("the export pages through usage_daily in key order", () => {
    const first = services.analytics.exportPage(range("all"), { day: "", email: "", model: "" }, 2);
    expect(first.map((r) => [r.day, r.email, r.model])).toEqual([
      ["2026-10-18", "alice@example.org", "opus"],
      ["2026-11-26", "bob@example.org", "sonnet"],
    ]);
    const rest = services.analytics.exportPage(range("all"), first[1]!, 10);
    expect(rest.map((r) => r.model)).toEqual(["haiku", "sonnet"]);
    expect(rest[1]).toMatchObject({ input_tokens: 201, turns: 3 });
    const oneDay = services.analytics.exportPage(
      customRange("2026-11-26", "2026-11-26") as DayRange,
      { day: "", email: "", model: "" },
      10,
    );
    expect(oneDay.map((r) => [r.day, r.email, r.model])).toEqual([
      ["2026-11-26", "bob@example.org", "sonnet"],
    ]);
  });

  test("a model keeps its colour slot; a new one gets the next", () => {
    const slots = services.analytics.modelColourSlots(["sonnet", "haiku"]);
    expect([slots.get("haiku"), slots.get("sonnet")]).toEqual([0, 1]);
    const later = services.analytics.modelColourSlots(["opus", "sonnet", "haiku"]);
    expect([later.get("haiku"), later.get("sonnet"), later.get("opus")]).toEqual([0, 1, 2]);
  });

  test("recent events merge turns and limit events, newest received first", () => {
    services.reports.storeLimitEvent(
      bob,
      { schema_version: 2, session_id: "b1", timestamp_utc: toRfc3339(day(1, 16)), kind: "rate_limit" },
      null,
      NOW + 5000,
    );
    const recent = services.analytics.recentEvents(3);
    expect(recent[0]).toMatchObject({ kind: "limit", email: "bob@example.org" });
    expect(recent).toHaveLength(3);
  });
});

describe("last active", () => {
  test("last active is the latest turn to the second, whatever order the reports arrive in", () => {
    const { services } = fresh();
    const day = (hour: number) => Date.parse("2026-11-27T00:00:00Z") + hour * HOUR;
    const carol: Identity = {
      email: "carol@example.org",
      refreshTokenId: services.tokens.issue("carol@example.org", null, 365, NOW).id,
    };
    const active = () => services.analytics.lastActiveOf(carol.email);
    services.reports.store(carol, turn("c1", 0, day(8) + 30 * 60_000, { sonnet: [1, 1, 1, 1] }), null, NOW);
    expect(active()).toBe("2026-11-27 08:30:00");
    // A turn from earlier in the same hour, sent late from the outbox, changes nothing.
    services.reports.store(carol, turn("c0", 0, day(8) + 10 * 60_000, { sonnet: [1, 1, 1, 1] }), null, NOW);
    expect(active()).toBe("2026-11-27 08:30:00");
    services.reports.store(
      carol,
      turn("c1", 1, day(10) + 5 * 60_000 + 9_000, { sonnet: [1, 1, 1, 1] }),
      null,
      NOW,
    );
    expect(active()).toBe("2026-11-27 10:05:09");
    expect(services.analytics.userUsage(carol.email, range("7"), NOW).lastActive).toBe("2026-11-27 10:05:09");
  });
});

describe("cost at API list prices", () => {
  const { services } = fresh();
  const carol: Identity = {
    email: "carol@example.org",
    refreshTokenId: services.tokens.issue("carol@example.org", "data", 365, NOW).id,
  };
  const dan: Identity = {
    email: "dan@example.org",
    refreshTokenId: services.tokens.issue("dan@example.org", "data", 365, NOW).id,
  };
  // Carol: 1M output on Haiku 4.5 ($5) and a model with no list price. Dan: only the unknown model.
  services.reports.store(
    carol,
    turn("c1", 0, NOW - 2 * HOUR, {
      "claude-haiku-4-5-20251001": [0, 1_000_000, 0, 0],
      "in-house": [5, 5, 5, 5],
    }),
    null,
    NOW,
  );
  services.reports.store(dan, turn("d1", 0, NOW - HOUR, { "in-house": [7, 7, 7, 7] }), null, NOW);

  test("per person, model, division and day; an unknown model is unpriced, never $0", () => {
    const overview = services.analytics.overview(range("7"), NOW);
    const user = (email: string) => overview.people.find((u) => u.email === email)!;
    expect(user("carol@example.org").cost).toEqual({ usd: 5, priced: true, unpricedModels: ["in-house"] });
    expect(user("dan@example.org").cost).toEqual({ usd: 0, priced: false, unpricedModels: ["in-house"] });
    expect(overview.models.find((m) => m.model === "in-house")?.cost.priced).toBe(false);
    expect(overview.models.find((m) => m.model.startsWith("claude-haiku"))?.cost.usd).toBe(5);
    expect(overview.divisions).toEqual([
      expect.objectContaining({
        division: "data",
        users: 2,
        cost: { usd: 5, priced: true, unpricedModels: ["in-house"] },
      }),
    ]);
    expect(overview.daily.at(-1)?.cost.usd).toBe(5);
    expect(overview.totals.cost.usd).toBe(5);
    expect(services.analytics.userUsage("carol@example.org", range("7"), NOW).totals.cost.usd).toBe(5);
  });

  test("the export carries division and cost per row, null for the unpriced model", () => {
    const rows = services.analytics.exportPage(range("7"), { day: "", email: "", model: "" }, 10);
    expect(rows.map((r) => [r.email, r.division, r.model, r.cost_usd])).toEqual([
      ["carol@example.org", "data", "claude-haiku-4-5-20251001", 5],
      ["carol@example.org", "data", "in-house", null],
      ["dan@example.org", "data", "in-house", null],
    ]);
  });
});

describe("stored tier estimates", () => {
  const { services } = fresh();
  // Closed windows a day apart, billed tokens as given (input only).
  function windows(email: string, billed: number[], limitOnWindow?: number) {
    const who: Identity = { email, refreshTokenId: services.tokens.issue(email, null, 365, NOW).id };
    billed.forEach((tokens, i) => {
      const at = Date.parse("2026-11-10T09:00:00Z") + i * 24 * HOUR;
      services.reports.store(who, turn(`${email}-${i}`, 0, at, { sonnet: [tokens, 0, 0, 0] }), null, NOW);
      if (i === limitOnWindow) {
        services.reports.storeLimitEvent(
          who,
          {
            schema_version: 2,
            session_id: `${email}-${i}`,
            timestamp_utc: toRfc3339(at + 60_000),
            kind: "rate_limit",
          },
          null,
          NOW,
        );
      }
    });
  }
  windows("light@example.org", [100, 100, 110]);
  windows("light2@example.org", [150, 150, 150, 150]);
  windows("heavy@example.org", [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000], 2);
  windows("new@example.org", [5000, 5000]);

  test("are computed for every range and read back per user", async () => {
    expect(await services.analytics.recomputeTierEstimates(NOW)).toBe(4);
    const all = services.analytics.overview(range("all"), NOW).people;
    const tierOf = (email: string) => all.find((u) => u.email === email)?.windows;
    expect(tierOf("light@example.org")).toMatchObject({
      tier: 1,
      confidence: "low",
      p75BilledTokens: 110,
      windowCount: 3,
    });
    expect(tierOf("light2@example.org")).toMatchObject({ tier: 1, confidence: "low" });
    expect(tierOf("heavy@example.org")).toMatchObject({
      tier: 2,
      confidence: "confirmed",
      limitWindows: 1,
      peakBilledTokens: 1000,
      averageBilledTokens: 1000,
    });
    expect(tierOf("new@example.org")).toMatchObject({ tier: null, countedWindows: 2, windowCount: 2 });
    // Only the last 7 days: the windows of 10–19 Nov fall out of it.
    expect(services.analytics.overview(range("7"), NOW).people.every((u) => u.windows === null)).toBe(true);
  });
});

describe("the window/tier recomputation at size", () => {
  test("checkpoints as it writes, so no commit is left a WAL of the whole run to copy", async () => {
    const { config, db, services } = fresh();
    fillDemoData(config, { users: 400, days: 2, seed: 4, force: false }, NOW);
    db.query("PRAGMA wal_checkpoint(TRUNCATE)").get();
    expect(await services.analytics.recomputeTierEstimates(NOW)).toBeGreaterThan(300);
    const rows = Number(sqlite3(db.filename, "SELECT count(*) FROM tier_estimates;"));
    expect(rows).toBeGreaterThan(1000);
    // Frames still waiting in the WAL: left to SQLite's autocheckpoint, every page of every write
    // of the run (hundreds here, 16 MiB at 20,000 users); checkpointed per write, the last one's.
    const { log } = db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get()!;
    expect(log).toBeLessThan(40);
  });
});

describe("demo-data", () => {
  test("writes through the report path, so every rollup matches the raw events", () => {
    const { path, config, db } = fresh();
    db.close();
    const summary = fillDemoData(config, { users: 6, days: 4, seed: 3, force: false }, NOW);
    expect(summary.usageRows).toBeGreaterThan(0);
    const check = (sql: string) => sqlite3(path, sql);
    expect(check("SELECT count(*) FROM usage_events;")).toBe(String(summary.usageRows));
    expect(check("SELECT sum(input_tokens) + sum(cache_read_tokens) FROM usage_events;")).toBe(
      check("SELECT sum(input_tokens) + sum(cache_read_tokens) FROM usage_daily;"),
    );
    expect(
      check("SELECT count(*) FROM (SELECT DISTINCT email, session_id, turn_index FROM usage_events);"),
    ).toBe(check("SELECT sum(turns) FROM usage_hourly;"));
    expect(check("SELECT sum(turns) FROM session_days;")).toBe(String(summary.turns));
    // The range rollups agree with the daily one: the organisation's days, and every running total.
    expect(
      check("SELECT sum(output_tokens), sum(cache_write_1h_tokens), sum(turns) FROM usage_org_daily;"),
    ).toBe(check("SELECT sum(output_tokens), sum(cache_write_1h_tokens), sum(turns) FROM usage_daily;"));
    expect(
      check(`SELECT count(*) FROM usage_cumulative c WHERE input_tokens != (SELECT sum(input_tokens) FROM usage_daily d
        WHERE d.email = c.email AND d.model = c.model AND d.day <= c.day) OR active_days != (SELECT count(*)
        FROM usage_daily d WHERE d.email = c.email AND d.model = c.model AND d.day <= c.day);`),
    ).toBe("0");
    expect(check("SELECT count(*) FROM usage_cumulative;")).toBe(check("SELECT count(*) FROM usage_daily;"));
    expect(
      check(`SELECT count(*) FROM user_models m WHERE output_tokens != (SELECT sum(output_tokens) FROM usage_daily d
        WHERE d.email = m.email AND d.model = m.model) OR active_days != (SELECT count(*) FROM usage_daily d
        WHERE d.email = m.email AND d.model = m.model);`),
    ).toBe("0");
    expect(
      check(`SELECT count(*) FROM user_models m WHERE first_day IS NOT (SELECT min(day) FROM usage_daily d
        WHERE d.email = m.email AND d.model = m.model) OR last_day IS NOT (SELECT max(day) FROM usage_daily d
        WHERE d.email = m.email AND d.model = m.model);`),
    ).toBe("0");
    expect(Number(check("SELECT count(*) FROM refresh_tokens;"))).toBe(6);
    expect(Number(check("SELECT count(DISTINCT model) FROM usage_daily;"))).toBeGreaterThan(1);
  });

  test("limit events say which limit and when it resets, as Claude Code does", () => {
    const { path, config, db } = fresh();
    db.close();
    const summary = fillDemoData(config, { users: 80, days: 14, seed: 5, force: false }, NOW);
    expect(summary.limitEvents).toBeGreaterThan(0);
    expect(
      sqlite3(path, "SELECT count(*) FROM limit_events WHERE limit_type IS NULL OR resets_at IS NULL;"),
    ).toBe("0");
    expect(sqlite3(path, "SELECT count(*) FROM limit_events WHERE limit_type = 'five_hour';")).not.toBe("0");
    // A 5-hour limit resets within 5 hours of the hit; its window starts at the reset minus 5 hours.
    expect(
      sqlite3(
        path,
        "SELECT count(*) FROM limit_events WHERE limit_type = 'five_hour' AND (resets_at <= event_at OR julianday(resets_at) - julianday(event_at) > 5.0 / 24);",
      ),
    ).toBe("0");
  });

  test("is the same for the same seed, and refuses a database with data unless forced", () => {
    const a = fresh();
    const b = fresh();
    a.db.close();
    b.db.close();
    fillDemoData(a.config, { users: 4, days: 3, seed: 9, force: false }, NOW);
    fillDemoData(b.config, { users: 4, days: 3, seed: 9, force: false }, NOW);
    const fingerprint = "SELECT email, day, model, input_tokens, turns FROM usage_daily ORDER BY 1, 2, 3;";
    expect(sqlite3(a.path, fingerprint)).toBe(sqlite3(b.path, fingerprint));
    expect(() => fillDemoData(a.config, { users: 1, days: 1, seed: 1, force: false }, NOW)).toThrow(
      CommandError,
    );
    expect(() => fillDemoData(a.config, { users: 1, days: 1, seed: 1, force: false }, NOW)).toThrow(
      /already holds data .* --force/,
    );
    fillDemoData(a.config, { users: 1, days: 1, seed: 1, force: true }, NOW);
    expect(sqlite3(a.path, "SELECT count(*) FROM refresh_tokens;")).toBe("5");
  });
});
