// Caps on distinct model names, on a real SQLite file; and the charts and tables that show them.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MODEL_BARS,
  MODEL_ROWS,
  modelChart,
  modelTable,
} from "../../src/receiver/admin/views/usage-parts.ts";
import { createModelColours } from "../../src/receiver/analytics/colours.ts";
import { configure, migrate, openDatabase } from "../../src/receiver/db/database.ts";
import { MIGRATIONS } from "../../src/receiver/db/migrations.ts";
import { createModelNames } from "../../src/receiver/reports/model-names.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-model-names-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = () => openDatabase(join(dir, `db-${files++}.db`));

test("a user may bring up to the per-user cap of names; past it the whole report's names are refused", () => {
  const db = fresh();
  const names = createModelNames(db, { perUser: 3, perOrganisation: 100 });
  expect(names.admit("a@example.org", ["m1", "m2"])).toBeNull();
  expect(names.admit("a@example.org", ["m1", "m2"])).toBeNull(); // known names cost nothing
  expect(names.admit("a@example.org", ["m2", "m3", "m4"])).toBe("user");
  // Nothing of the refused report was recorded: m3 alone still fits.
  expect(db.query("SELECT count(*) AS n FROM user_models").get()).toEqual({ n: 2 });
  expect(names.admit("a@example.org", ["m3"])).toBeNull();
  expect(names.admit("a@example.org", ["m1", "m2", "m3"])).toBeNull();
  expect(names.admit("a@example.org", ["m4"])).toBe("user");
  // Another user has a budget of their own.
  expect(names.admit("b@example.org", ["m4", "m5", "m6"])).toBeNull();
});

test("all users together may bring up to the organisation's cap; names others brought still pass", () => {
  const db = fresh();
  const names = createModelNames(db, { perUser: 10, perOrganisation: 4 });
  expect(names.admit("a@example.org", ["m1", "m2", "m3"])).toBeNull();
  expect(names.admit("b@example.org", ["m4", "m5"])).toBe("organisation");
  expect(names.admit("b@example.org", ["m1", "m2", "m3", "m4"])).toBeNull();
  expect(names.admit("c@example.org", ["m5"])).toBe("organisation");
  expect(names.admit("c@example.org", ["m4", "m1"])).toBeNull();
  // Each name got the next colour slot as it arrived, new ones of one report in name order.
  expect(db.query("SELECT model, slot FROM model_colours ORDER BY slot").all()).toEqual([
    { model: "m1", slot: 0 },
    { model: "m2", slot: 1 },
    { model: "m3", slot: 2 },
    { model: "m4", slot: 3 },
  ]);
  expect(createModelColours(db).modelColourSlots(["m4", "m9", "m1"])).toEqual(
    new Map([
      ["m4", 3],
      ["m9", 4],
      ["m1", 0],
    ]),
  );
});

test("the default caps are the documented ones", () => {
  const db = fresh();
  const names = createModelNames(db);
  const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  expect(names.admit("a@example.org", many("a", 32))).toBeNull();
  expect(names.admit("a@example.org", ["one-more"])).toBe("user");
  for (let u = 0; u < 7; u++) expect(names.admit(`u${u}@example.org`, many(`u${u}-`, 32))).toBeNull();
  expect(names.admit("z@example.org", ["the-257th"])).toBe("organisation");
});

test("migrating an older database records the names its rollups already hold", () => {
  const path = join(dir, `db-${files++}.db`);
  // A file at the version just before the caps' migration (later ones run on top of it too).
  const db = new Database(path, { create: true, strict: true });
  configure(db);
  migrate(
    db,
    MIGRATIONS.slice(
      0,
      MIGRATIONS.findIndex((m) => m.includes("CREATE TABLE user_models")),
    ),
  );
  db.run("INSERT INTO model_colours (model, slot) VALUES ('b', 0)");
  const rows: [string, string][] = [
    ["x@example.org", "b"],
    ["x@example.org", "c"],
    ["y@example.org", "a"],
    ["y@example.org", "c"],
  ];
  for (const [email, model] of rows) {
    db.run(
      `INSERT INTO usage_daily (email, day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
         cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens, subagent_output_tokens,
         subagent_cache_read_tokens, subagent_cache_write_tokens, turns)
       VALUES (?, '2026-11-01', ?, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)`,
      [email, model],
    );
  }
  db.close();
  const migrated = openDatabase(path);
  expect(migrated.query("SELECT email, model FROM user_models ORDER BY email, model").all()).toEqual([
    { email: "x@example.org", model: "b" },
    { email: "x@example.org", model: "c" },
    { email: "y@example.org", model: "a" },
    { email: "y@example.org", model: "c" },
  ]);
  expect(migrated.query("SELECT model, slot FROM model_colours ORDER BY slot").all()).toEqual([
    { model: "b", slot: 0 },
    { model: "a", slot: 1 },
    { model: "c", slot: 2 },
  ]);
});

test("a chart and a table of 20,000 models stay small: the largest, then one 'other' line", () => {
  const models = Array.from({ length: 20_000 }, (_, i) => ({
    model: `m${i}`,
    turns: 1,
    users: 1,
    input: i,
    output: 0,
    cacheRead: 0,
    cacheWrite: 0,
    cost: { usd: i / 1000, priced: i % 2 === 0, unpricedModels: i % 2 === 0 ? [] : [`m${i}`] },
  }));
  const slots = new Map<string, number>();
  const chart = modelChart("Tokens by model", models, slots, "none").text;
  expect(chart.split('class="row-label"').length - 1).toBe(MODEL_BARS + 1);
  expect(chart).toContain(`${20_000 - MODEL_BARS} other models`);
  expect(chart).toContain(">m19999<"); // the largest first
  const table = modelTable("models", models, slots, "none").text;
  expect(table.split("<tr>").length - 2).toBe(MODEL_ROWS + 1); // minus the header row
  expect(table).toContain(`${20_000 - MODEL_ROWS} other models`);
  expect(table.length).toBeLessThan(100_000); // every unpriced name in the "other" row's note would be MBs
});
