import { describe, expect, test } from "bun:test";
import {
  limitLevels,
  roughTokens,
  type SeatEvidence,
  seatAdvice,
} from "../../../src/receiver/analytics/seats.ts";

function person(
  email: string,
  over: Partial<SeatEvidence> = {},
  limits: Partial<SeatEvidence["limits"]> = {},
): SeatEvidence {
  return {
    email,
    division: "eng",
    billedTokens: 1_000_000,
    activeDays: 20,
    peakWindowBilled: 100_000,
    limitWindowBilled: null,
    ...over,
    limits: { total: 0, fiveHour: 0, weekly: 0, days: 0, last: null, ...limits },
  };
}

describe("limit levels", () => {
  test("people's limited windows cluster into seat sizes; the level is the cluster's median", () => {
    const levels = limitLevels([
      person("a", { limitWindowBilled: 210_000 }),
      person("b", { limitWindowBilled: 230_000 }),
      person("c", { limitWindowBilled: 220_000 }),
      person("d", { limitWindowBilled: 1_100_000 }),
      person("e"),
    ]);
    expect(levels).toEqual([
      { billedTokens: 220_000, people: 3 },
      { billedTokens: 1_100_000, people: 1 },
    ]);
    expect(limitLevels([])).toEqual([]);
  });

  test("token counts in sentences are short", () => {
    expect([roughTokens(950), roughTokens(215_400), roughTokens(1_240_000), roughTokens(35_000_000)]).toEqual(
      ["950", "215k", "1.2M", "35M"],
    );
  });
});

describe("seat advice", () => {
  const people = [
    person(
      "repeat@x",
      { limitWindowBilled: 220_000, billedTokens: 5e6 },
      { total: 4, fiveHour: 4, days: 3, last: "2026-11-27 10:00:00" },
    ),
    person("weekly@x", {}, { total: 1, weekly: 1, days: 1 }),
    person("once@x", { limitWindowBilled: 215_000 }, { total: 1, fiveHour: 1, days: 1 }),
    person("same-day@x", { limitWindowBilled: 225_000 }, { total: 2, fiveHour: 2, days: 1 }),
    person("near@x", { peakWindowBilled: 200_000 }),
    person("idle@x", { billedTokens: 0, activeDays: 0, peakWindowBilled: null }),
    person("light@x", { billedTokens: 20_000, activeDays: 1, peakWindowBilled: 15_000 }),
    person("steady@x"),
  ];
  const advice = seatAdvice(people, 30);
  const of = (email: string) => advice.find((a) => a.email === email);

  test("repeated confirmed limits, on different days, or any weekly limit, are upgrades", () => {
    expect(of("repeat@x")).toMatchObject({ kind: "upgrade", evidence: "confirmed" });
    expect(of("repeat@x")?.reason).toBe(
      "Hit the 5-hour limit 4 times on 3 different days, at about 220k billed tokens per 5 hours: the seat stops their work.",
    );
    expect(of("weekly@x")).toMatchObject({ kind: "upgrade" });
    expect(of("weekly@x")?.reason).toContain("a weekly limit once on 1 day");
    // Twice on one afternoon is not yet repeated: close, with the confirmed evidence.
    expect(of("same-day@x")?.kind).toBe("close");
    expect(of("once@x")).toMatchObject({ kind: "close", evidence: "confirmed" });
  });

  test("a busiest window at 80% or more of a seat size's limit level is close, and inferred", () => {
    // Levels: 215k, 220k, 225k cluster to 220k; 200k is 91% of it.
    expect(of("near@x")).toMatchObject({ kind: "close", evidence: "inferred" });
    expect(of("near@x")?.reason).toContain("200k billed tokens, 91% of the ~220k at which 3 people");
    expect(of("steady@x")).toBeUndefined();
  });

  test("no use, or little use and no limit, is a downgrade, with the comparison in the reason", () => {
    expect(of("idle@x")).toMatchObject({ kind: "downgrade" });
    expect(of("idle@x")?.reason).toContain("may be unused");
    expect(of("light@x")?.reason).toBe(
      "Used Claude Code on 1 of 30 days, 20k billed tokens (the median person: 1M), and never hit a limit. Their busiest 5 hours (15k) stay far under the ~220k the smallest seat seen here allows.",
    );
  });

  test("without stored windows the reason says nothing about the busiest 5 hours", () => {
    const fresh = seatAdvice(
      [...people, person("unmeasured@x", { billedTokens: 90, activeDays: 1, peakWindowBilled: null })],
      30,
    ).find((a) => a.email === "unmeasured@x");
    expect(fresh?.kind).toBe("downgrade");
    expect(fresh?.reason).not.toContain("busiest");
  });

  test("upgrades come first by limit hits, then close, then downgrades by least use; each person once", () => {
    expect(advice.map((a) => a.kind)).toEqual([
      "upgrade",
      "upgrade",
      "close",
      "close",
      "close",
      "downgrade",
      "downgrade",
    ]);
    expect(advice[0]?.email).toBe("repeat@x");
    expect(advice.at(-1)?.email).toBe("light@x");
    expect(new Set(advice.map((a) => a.email)).size).toBe(advice.length);
  });
});
