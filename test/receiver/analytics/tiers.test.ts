import { describe, expect, test } from "bun:test";
import {
  estimateTiers,
  nearestRankPercentile,
  type UserWindows,
} from "../../../src/receiver/analytics/tiers.ts";

/** A user whose closed windows have exactly these billed totals. */
function user(email: string, billed: number[], limitEventsInRange = 0): UserWindows {
  return {
    email,
    windows: billed.map((billedTokens) => ({ open: false, billedTokens })),
    limitEventsInRange,
  };
}

/** A user with three closed windows all equal to `value`, so the p75 is `value`. */
const flat = (email: string, value: number) => user(email, [value, value, value]);

const tiersByEmail = (users: UserWindows[]) =>
  Object.fromEntries(estimateTiers(users).map((e) => [e.email, e.tier]));

describe("nearestRankPercentile", () => {
  test("takes the value at rank ceil(p/100 * n), from unsorted input", () => {
    expect(nearestRankPercentile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 75)).toBe(8);
    expect(nearestRankPercentile([30, 10, 20], 75)).toBe(30);
    expect(nearestRankPercentile([40, 10, 30, 20], 75)).toBe(30);
    expect(nearestRankPercentile([7], 75)).toBe(7);
    expect(nearestRankPercentile([5, 1], 0)).toBe(1);
  });

  test("is undefined for no values", () => {
    expect(nearestRankPercentile([], 75)).toBeUndefined();
  });
});

describe("estimateTiers", () => {
  test("empty input gives no estimates", () => {
    expect(estimateTiers([])).toEqual([]);
  });

  test("2 windows give no estimate; 3 give a low-confidence one", () => {
    const estimates = estimateTiers([user("two@x", [100, 200]), user("three@x", [100, 200, 300])]);
    expect(estimates).toEqual([
      {
        email: "three@x",
        tier: 1,
        label: "Tier 1",
        p75BilledTokens: 300,
        windowCount: 3,
        confidence: "low",
      },
    ]);
  });

  test("9 windows are low confidence, 10 are medium", () => {
    const nine = user("nine@x", [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const ten = user("ten@x", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const byEmail = Object.fromEntries(estimateTiers([nine, ten]).map((e) => [e.email, e]));
    expect(byEmail["nine@x"]).toMatchObject({ confidence: "low", windowCount: 9, p75BilledTokens: 7 });
    expect(byEmail["ten@x"]).toMatchObject({ confidence: "medium", windowCount: 10, p75BilledTokens: 8 });
  });

  test("a limit event in range makes the estimate confirmed, but does not lift the 3-window minimum", () => {
    const estimates = estimateTiers([
      user("hit@x", [100, 200, 300], 1),
      user("hit-many@x", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 2),
      user("hit-few@x", [100, 200], 5),
    ]);
    expect(estimates.map((e) => [e.email, e.confidence])).toEqual([
      ["hit-many@x", "confirmed"],
      ["hit@x", "confirmed"],
    ]);
  });

  test("open windows and windows without billed tokens are not counted", () => {
    const estimates = estimateTiers([
      {
        email: "a@x",
        windows: [
          { open: false, billedTokens: 100 },
          { open: false, billedTokens: 200 },
          { open: false, billedTokens: 0 },
          { open: true, billedTokens: 999_999 },
        ],
        limitEventsInRange: 0,
      },
      {
        email: "b@x",
        windows: [
          { open: false, billedTokens: 100 },
          { open: false, billedTokens: 200 },
          { open: false, billedTokens: 300 },
          { open: true, billedTokens: 999_999 },
        ],
        limitEventsInRange: 0,
      },
    ]);
    expect(estimates.map((e) => [e.email, e.windowCount, e.p75BilledTokens])).toEqual([["b@x", 3, 300]]);
  });

  test("equal values share a tier and are ordered by email", () => {
    const estimates = estimateTiers([flat("carol@x", 500), flat("alice@x", 500), flat("bob@x", 500)]);
    expect(estimates.map((e) => [e.email, e.label])).toEqual([
      ["alice@x", "Tier 1"],
      ["bob@x", "Tier 1"],
      ["carol@x", "Tier 1"],
    ]);
  });

  test("exactly 1.8x stays in the same tier; just above starts a new one", () => {
    expect(tiersByEmail([flat("low@x", 1000), flat("exact@x", 1800)])).toEqual({ "low@x": 1, "exact@x": 1 });
    expect(tiersByEmail([flat("low@x", 1000), flat("above@x", 1801)])).toEqual({ "low@x": 1, "above@x": 2 });
    // Exactness beyond small round numbers: 123_456_785 * 1.8 = 222_222_213.
    expect(tiersByEmail([flat("a@x", 123_456_785), flat("b@x", 222_222_213)])).toEqual({
      "a@x": 1,
      "b@x": 1,
    });
    expect(tiersByEmail([flat("a@x", 123_456_785), flat("b@x", 222_222_214)])).toEqual({
      "a@x": 1,
      "b@x": 2,
    });
  });

  test("steps are measured against the previous user, not the tier's lowest", () => {
    // Each step is at most 1.8x, so one tier, although the last is 4x the first.
    const tiers = tiersByEmail([flat("a@x", 100), flat("b@x", 170), flat("c@x", 300), flat("d@x", 400)]);
    expect(tiers).toEqual({ "a@x": 1, "b@x": 1, "c@x": 1, "d@x": 1 });
  });

  test("three tiers, labelled from the lowest upward", () => {
    const estimates = estimateTiers([
      flat("max@x", 5_000_000),
      flat("light@x", 200_000),
      flat("pro@x", 1_000_000),
      flat("light2@x", 250_000),
      flat("max2@x", 6_000_000),
      flat("pro2@x", 1_500_000),
    ]);
    expect(estimates.map((e) => [e.email, e.tier, e.label])).toEqual([
      ["light@x", 1, "Tier 1"],
      ["light2@x", 1, "Tier 1"],
      ["pro@x", 2, "Tier 2"],
      ["pro2@x", 2, "Tier 2"],
      ["max@x", 3, "Tier 3"],
      ["max2@x", 3, "Tier 3"],
    ]);
  });

  test("the same data in any order gives the same result", () => {
    const users = [
      user("d@x", [900, 100, 500, 700]),
      flat("b@x", 400),
      flat("a@x", 400),
      user("c@x", [2_000, 3_000, 1_000], 1),
      flat("e@x", 50),
    ];
    const expected = estimateTiers(users);
    expect(expected.map((e) => e.email)).toEqual(["e@x", "a@x", "b@x", "d@x", "c@x"]);
    for (const order of [
      [4, 3, 2, 1, 0],
      [2, 0, 4, 1, 3],
      [1, 2, 3, 4, 0],
    ]) {
      expect(estimateTiers(order.map((i) => users[i] as UserWindows))).toEqual(expected);
    }
  });
});
