import { describe, expect, test } from "bun:test";
import { unpricedNote } from "../../../src/receiver/admin/views/format.ts";
import {
  addCost,
  NO_COST,
  type PricedUsage,
  totalCost,
  UNPRICED_NAMES_LISTED,
  usageCost,
} from "../../../src/receiver/analytics/cost.ts";
import {
  BUILT_IN_PRICES,
  parsePriceFile,
  priceKey,
  priceOf,
} from "../../../src/receiver/analytics/prices.ts";

function usage(model: string, counts: Partial<PricedUsage> = {}): PricedUsage {
  return {
    model,
    input: 0,
    output: 0,
    cacheRead: 0,
    cacheWrite: 0,
    cacheWrite5m: 0,
    cacheWrite1h: 0,
    ...counts,
  };
}

describe("price table", () => {
  test("model ids as Claude Code reports them find their price: date and [1m] suffixes dropped", () => {
    expect(priceKey("claude-sonnet-4-5-20250929")).toBe("claude-sonnet-4-5");
    expect(priceKey("claude-opus-4-6[1m]")).toBe("claude-opus-4-6");
    expect(priceOf(BUILT_IN_PRICES, "claude-haiku-4-5-20251001")).toEqual({
      input: 1,
      output: 5,
      cacheWrite5m: 1.25,
      cacheWrite1h: 2,
      cacheRead: 0.1,
    });
    expect(priceOf(BUILT_IN_PRICES, "claude-opus-4-5")?.output).toBe(25);
    expect(priceOf(BUILT_IN_PRICES, "gpt-9")).toBeNull();
    // A name that is only an inherited property of objects is still unknown.
    expect(priceOf(BUILT_IN_PRICES, "constructor")).toBeNull();
    expect(BUILT_IN_PRICES.takenOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  test("a price file replaces and adds models, and keeps the built-in rest", () => {
    const table = parsePriceFile(
      JSON.stringify({
        taken_on: "2027-01-15",
        models: {
          "claude-sonnet-4-5": {
            input: 2,
            output: 9,
            cache_write_5m: 2.5,
            cache_write_1h: 4,
            cache_read: 0.2,
          },
          "in-house-model": { input: 0, output: 0, cache_write_5m: 0, cache_write_1h: 0, cache_read: 0 },
        },
      }),
      "/etc/ccflux/prices.json",
    );
    expect(table.takenOn).toBe("2027-01-15");
    expect(table.source).toBe("/etc/ccflux/prices.json");
    expect(priceOf(table, "claude-sonnet-4-5")?.output).toBe(9);
    expect(priceOf(table, "in-house-model")?.input).toBe(0);
    expect(priceOf(table, "claude-opus-4-5")?.output).toBe(25);
  });

  test("a bad price file is refused with a message naming what is wrong", () => {
    const bad = (text: string) => () => parsePriceFile(text, "p.json");
    expect(bad("{")).toThrow(/not JSON/);
    expect(bad("[]")).toThrow(/expected a JSON object/);
    expect(bad('{"models": {}}')).toThrow(/"taken_on" must be the day/);
    expect(bad('{"taken_on": "2027-13-45", "models": {}}')).toThrow(/taken_on/);
    expect(bad('{"taken_on": "2027-01-15"}')).toThrow(/"models" must be an object/);
    expect(
      bad(
        '{"taken_on": "2027-01-15", "models": {"m": {"input": 1, "output": -2, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 1}}}',
      ),
    ).toThrow('models["m"].output must be a number of dollars per million tokens, 0 or more');
    expect(bad('{"taken_on": "2027-01-15", "models": {"m": {"input": 1}}}')).toThrow(/models\["m"\]\.output/);
  });
});

describe("cost", () => {
  test("each kind at its own rate, 5-minute and 1-hour cache writes apart", () => {
    // Opus 4.5: $5 in, $25 out, $0.50 reads, $6.25 5m writes, $10 1h writes per million.
    const dollars = usageCost(
      BUILT_IN_PRICES,
      usage("claude-opus-4-5", {
        input: 1_000_000,
        output: 2_000_000,
        cacheRead: 10_000_000,
        cacheWrite: 3_000_000,
        cacheWrite5m: 1_000_000,
        cacheWrite1h: 2_000_000,
      }),
    );
    expect(dollars).toBeCloseTo(5 + 50 + 5 + 6.25 + 20, 9);
  });

  test("cache writes without a split (protocol v1) are priced at the 5-minute rate", () => {
    const dollars = usageCost(
      BUILT_IN_PRICES,
      usage("claude-sonnet-4-5", { cacheWrite: 1_000_000, cacheWrite1h: 400_000 }),
    );
    // 400k at the 1h rate ($6), the other 600k at the 5m rate ($3.75).
    expect(dollars).toBeCloseTo(0.4 * 6 + 0.6 * 3.75, 9);
  });

  test("an unknown model is unpriced, never $0, and is named", () => {
    expect(usageCost(BUILT_IN_PRICES, usage("mystery", { input: 100 }))).toBeNull();
    const cost = totalCost(BUILT_IN_PRICES, [
      usage("mystery", { input: 100 }),
      usage("claude-haiku-4-5", { output: 1_000_000 }),
      usage("also-unknown", {}),
    ]);
    expect(cost).toEqual({ usd: 5, priced: true, unpricedModels: ["mystery"] });
    expect(totalCost(BUILT_IN_PRICES, [usage("mystery", { output: 1 })])).toEqual({
      usd: 0,
      priced: false,
      unpricedModels: ["mystery"],
    });
  });

  test("costs add up and keep every unpriced model once", () => {
    const a = { usd: 1.5, priced: true, unpricedModels: ["x"] };
    const b = { usd: 0, priced: false, unpricedModels: ["x", "a"] };
    expect(addCost(addCost(NO_COST, a), b)).toEqual({ usd: 1.5, priced: true, unpricedModels: ["a", "x"] });
  });
});

test("summing over a flood of unpriced models keeps the first names in name order, and says there are more", () => {
  const names = Array.from({ length: 2000 }, (_, i) => `flood-${(i * 7919) % 2000}`);
  let sum = NO_COST;
  for (const name of names) sum = addCost(sum, { usd: 0, priced: false, unpricedModels: [name] });
  const expected = [...names].sort().slice(0, UNPRICED_NAMES_LISTED + 1);
  expect(sum.unpricedModels).toEqual(expected);
  expect(unpricedNote(sum)).toBe(
    `No list price for ${expected.slice(0, UNPRICED_NAMES_LISTED).join(", ")} and others: those tokens are not in this figure.`,
  );
  // Fewer names than that are all listed.
  const few = addCost(
    { usd: 1, priced: true, unpricedModels: ["b"] },
    { usd: 2, priced: false, unpricedModels: ["a", "b"] },
  );
  expect(few).toEqual({ usd: 3, priced: true, unpricedModels: ["a", "b"] });
});
