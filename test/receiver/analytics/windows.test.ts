import { describe, expect, test } from "bun:test";
import {
  type ActivityPoint,
  computeWindows,
  floorToUtcHour,
  HOUR_MS,
  peakRollingBilled,
  sessionsPerWindow,
  summarizeWindows,
  type UsageWindow,
} from "../../../src/receiver/analytics/windows.ts";

const at = (iso: string) => Date.parse(iso);
const FAR_FUTURE = at("2100-01-01T00:00:00Z");

function turn(iso: string, tokens: Partial<ActivityPoint> = {}): ActivityPoint {
  return { at: at(iso), input: 10, output: 5, cacheRead: 100, cacheWrite: 20, turns: 1, ...tokens };
}

const startsOf = (windows: UsageWindow[]) => windows.map((w) => new Date(w.start).toISOString());

describe("computeWindows", () => {
  test("empty input gives no windows and a zero summary", () => {
    expect(computeWindows([], FAR_FUTURE)).toEqual([]);
    expect(summarizeWindows([])).toEqual({ windowCount: 0, peakBilledTokens: 0, averageBilledTokens: 0 });
  });

  test("a turn exactly 5 h after the window start opens a new window", () => {
    const windows = computeWindows([turn("2026-05-11T10:00:00Z"), turn("2026-05-11T15:00:00Z")], FAR_FUTURE);
    expect(startsOf(windows)).toEqual(["2026-05-11T10:00:00.000Z", "2026-05-11T15:00:00.000Z"]);
  });

  test("a turn at 4:59:59 after the start stays in the window", () => {
    const windows = computeWindows([turn("2026-05-11T10:00:00Z"), turn("2026-05-11T14:59:59Z")], FAR_FUTURE);
    expect(windows).toHaveLength(1);
    expect(windows[0]?.turns).toBe(2);
  });

  test("the start is floored to the UTC hour: 10:59 opens 10:00-15:00, so 15:00 opens the next", () => {
    const windows = computeWindows(
      [turn("2026-05-11T10:59:00Z"), turn("2026-05-11T14:59:59.999Z"), turn("2026-05-11T15:00:00Z")],
      FAR_FUTURE,
    );
    expect(windows.map((w) => [w.start, w.end, w.turns])).toEqual([
      [at("2026-05-11T10:00:00Z"), at("2026-05-11T15:00:00Z"), 2],
      [at("2026-05-11T15:00:00Z"), at("2026-05-11T20:00:00Z"), 1],
    ]);
  });

  test("the next window starts at the floored hour of its first turn, not at the previous end", () => {
    const windows = computeWindows([turn("2026-05-11T10:00:00Z"), turn("2026-05-11T17:42:00Z")], FAR_FUTURE);
    expect(startsOf(windows)).toEqual(["2026-05-11T10:00:00.000Z", "2026-05-11T17:00:00.000Z"]);
  });

  test("open means the end is after now; a window ending exactly at now is closed", () => {
    const points = [turn("2026-05-11T10:00:00Z")];
    const end = at("2026-05-11T15:00:00Z");
    expect(computeWindows(points, end - 1)[0]?.open).toBe(true);
    expect(computeWindows(points, end)[0]?.open).toBe(false);
    expect(computeWindows(points, end + HOUR_MS)[0]?.open).toBe(false);
  });

  test("billed tokens are input + output; the total adds cache reads and writes", () => {
    const windows = computeWindows(
      [
        turn("2026-05-11T10:00:00Z", { input: 1, output: 2, cacheRead: 4, cacheWrite: 8 }),
        turn("2026-05-11T11:00:00Z", { input: 16, output: 32, cacheRead: 64, cacheWrite: 128, turns: 3 }),
      ],
      FAR_FUTURE,
    );
    expect(windows).toHaveLength(1);
    expect(windows[0]).toMatchObject({ billedTokens: 51, totalTokens: 255, turns: 4 });
  });

  test("sessions count distinct ids, and are null when the input carries none", () => {
    const withIds = computeWindows(
      [
        turn("2026-05-11T10:00:00Z", { sessionId: "a" }),
        turn("2026-05-11T10:10:00Z", { sessionId: "b" }),
        turn("2026-05-11T10:20:00Z", { sessionId: "a" }),
        turn("2026-05-11T16:00:00Z", { sessionId: "a" }),
      ],
      FAR_FUTURE,
    );
    expect(withIds.map((w) => w.sessions)).toEqual([2, 1]);
    expect(computeWindows([turn("2026-05-11T10:00:00Z")], FAR_FUTURE)[0]?.sessions).toBeNull();
  });

  test("a limit event inside [start, end) marks the window; one at the end or outside does not", () => {
    const points = [turn("2026-05-11T10:30:00Z"), turn("2026-05-11T16:00:00Z"), turn("2026-05-12T09:00:00Z")];
    const marks = (events: number[]) =>
      computeWindows(points, FAR_FUTURE, events).map((w) => w.hasLimitEvent);
    expect(marks([])).toEqual([false, false, false]);
    expect(marks([at("2026-05-11T10:00:00Z")])).toEqual([true, false, false]);
    expect(marks([at("2026-05-11T15:00:00Z")])).toEqual([false, false, false]);
    expect(marks([at("2026-05-11T20:59:59Z")])).toEqual([false, true, false]);
    expect(marks([at("2026-05-11T21:00:00Z"), at("2026-05-11T09:59:59Z")])).toEqual([false, false, false]);
    expect(marks([at("2026-05-12T13:00:00Z"), at("2026-05-11T12:00:00Z")])).toEqual([true, false, true]);
  });

  test("unsorted input gives the same windows as sorted input", () => {
    const sorted = [
      turn("2026-05-11T10:00:00Z", { input: 1 }),
      turn("2026-05-11T14:00:00Z", { input: 2 }),
      turn("2026-05-11T15:30:00Z", { input: 4 }),
      turn("2026-05-11T21:00:00Z", { input: 8 }),
    ];
    const shuffled = [sorted[2], sorted[0], sorted[3], sorted[1]] as ActivityPoint[];
    expect(computeWindows(shuffled, FAR_FUTURE)).toEqual(computeWindows(sorted, FAR_FUTURE));
    expect(computeWindows(shuffled, FAR_FUTURE).map((w) => w.billedTokens)).toEqual([13, 9, 13]);
  });

  test("a non-finite time is refused", () => {
    expect(() =>
      computeWindows([turn("2026-05-11T10:00:00Z"), { ...turn("2026-05-11T11:00:00Z"), at: Number.NaN }], 0),
    ).toThrow(RangeError);
  });

  test("per-turn points and hourly rollup points give identical windows", () => {
    // Deterministic pseudo-random turns over 6 days, with bursts and gaps of every length.
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const firstDay = at("2026-05-01T00:00:00Z");
    const turns: ActivityPoint[] = [];
    let time = firstDay + 7 * HOUR_MS + 13 * 60_000;
    while (time < firstDay + 6 * 24 * HOUR_MS) {
      turns.push({
        at: time,
        input: Math.floor(random() * 5_000),
        output: Math.floor(random() * 2_000),
        cacheRead: Math.floor(random() * 50_000),
        cacheWrite: Math.floor(random() * 8_000),
        turns: 1,
        sessionId: `s${Math.floor(random() * 4)}`,
      });
      // Mostly minutes apart, sometimes hours (including exact multiples of an hour).
      const gap = random() < 0.85 ? random() * 20 * 60_000 : Math.floor(random() * 9) * HOUR_MS;
      time += Math.max(1, Math.floor(gap));
    }

    const hourly = new Map<number, ActivityPoint>();
    for (const t of turns) {
      const hour = floorToUtcHour(t.at);
      const sum = hourly.get(hour) ?? {
        at: hour,
        input: 0,
        output: 0,
        cacheRead: 0,
        cacheWrite: 0,
        turns: 0,
      };
      sum.input += t.input;
      sum.output += t.output;
      sum.cacheRead += t.cacheRead;
      sum.cacheWrite += t.cacheWrite;
      sum.turns += t.turns;
      hourly.set(hour, sum);
    }

    const now = firstDay + 3 * 24 * HOUR_MS + 30 * 60_000;
    const limitEvents = turns.filter((_, i) => i % 97 === 0).map((t) => t.at + 1);
    const withoutSessions = (windows: UsageWindow[]) => windows.map(({ sessions: _, ...rest }) => rest);
    const perTurn = computeWindows(turns, now, limitEvents);
    const perHour = computeWindows([...hourly.values()], now, limitEvents);

    // Guard against a vacuous pass: the data must exercise several windows of each kind.
    expect(perTurn.length).toBeGreaterThan(10);
    expect(perTurn.some((w) => w.open)).toBe(true);
    expect(perTurn.some((w) => !w.open)).toBe(true);
    expect(perTurn.some((w) => w.hasLimitEvent)).toBe(true);
    expect(hourly.size).toBeLessThan(turns.length);
    expect(withoutSessions(perHour)).toEqual(withoutSessions(perTurn));
    expect(perHour.every((w) => w.sessions === null)).toBe(true);
  });
});

describe("summarizeWindows", () => {
  test("peak and average of billed tokens across windows", () => {
    const windows = computeWindows(
      [
        turn("2026-05-11T10:00:00Z", { input: 100, output: 0, cacheRead: 1_000_000 }),
        turn("2026-05-11T16:00:00Z", { input: 300, output: 50 }),
        turn("2026-05-11T22:00:00Z", { input: 0, output: 30 }),
      ],
      FAR_FUTURE,
    );
    expect(summarizeWindows(windows)).toEqual({
      windowCount: 3,
      peakBilledTokens: 350,
      averageBilledTokens: 160,
    });
  });
});

describe("sessionsPerWindow", () => {
  const windows = computeWindows([turn("2026-05-11T09:10:00Z"), turn("2026-05-11T16:00:00Z")], FAR_FUTURE);

  test("counts each session once per window it has an hour in; hours in no window count nowhere", () => {
    const sessions = sessionsPerWindow(windows, [
      { sessionId: "a", at: at("2026-05-11T09:00:00Z") },
      { sessionId: "a", at: at("2026-05-11T10:00:00Z") },
      { sessionId: "b", at: at("2026-05-11T13:00:00Z") },
      // 14:00-16:00 lies between the windows 09-14 and 16-21.
      { sessionId: "c", at: at("2026-05-11T14:00:00Z") },
      { sessionId: "a", at: at("2026-05-11T16:00:00Z") },
      { sessionId: "d", at: at("2026-05-11T08:00:00Z") },
    ]);
    expect(sessions).toEqual([2, 1]);
  });

  test("no windows, or no sessions, give zeros", () => {
    expect(sessionsPerWindow([], [{ sessionId: "a", at: 0 }])).toEqual([]);
    expect(sessionsPerWindow(windows, [])).toEqual([0, 0]);
  });
});

describe("windows anchored on a confirmed limit's reset time", () => {
  test("a window whose limit said resets_at 15:37 runs 10:37-15:37, and is marked anchored", () => {
    const anchor = at("2026-05-11T10:37:00Z");
    const windows = computeWindows(
      [
        turn("2026-05-11T10:00:00Z"),
        turn("2026-05-11T14:00:00Z"),
        turn("2026-05-11T15:00:00Z"),
        turn("2026-05-11T15:40:00Z"),
      ],
      FAR_FUTURE,
      [at("2026-05-11T14:30:00Z")],
      [anchor],
    );
    expect(
      windows.map((w) => [new Date(w.start).toISOString(), w.anchored, w.turns, w.hasLimitEvent]),
    ).toEqual([
      ["2026-05-11T10:37:00.000Z", true, 3, true],
      // 15:40 is after the reset: a new, inferred window on the floored hour.
      ["2026-05-11T15:00:00.000Z", false, 1, false],
    ]);
  });

  test("without anchors the floor-to-the-hour rule is unchanged; an anchor far from any turn is ignored", () => {
    const points = [turn("2026-05-11T10:20:00Z"), turn("2026-05-11T16:00:00Z")];
    const plain = computeWindows(points, FAR_FUTURE);
    expect(plain.every((w) => !w.anchored)).toBe(true);
    const withFar = computeWindows(points, FAR_FUTURE, [], [at("2026-04-01T00:00:00Z")]);
    expect(startsOf(withFar)).toEqual(startsOf(plain));
  });

  test("an anchor inside the previous window does not open an overlapping one", () => {
    const windows = computeWindows(
      [turn("2026-05-11T10:00:00Z"), turn("2026-05-11T13:00:00Z"), turn("2026-05-11T15:30:00Z")],
      FAR_FUTURE,
      [],
      [at("2026-05-11T12:00:00Z")],
    );
    expect(startsOf(windows)).toEqual(["2026-05-11T10:00:00.000Z", "2026-05-11T15:00:00.000Z"]);
  });
});

describe("peakRollingBilled", () => {
  test("the largest billed sum of any span in a row; cache tokens do not count", () => {
    const points = [
      turn("2026-05-01T10:00:00Z", { input: 100, output: 0 }),
      turn("2026-05-05T10:00:00Z", { input: 50, output: 50 }),
      turn("2026-05-08T09:00:00Z", { input: 10, output: 0 }),
      turn("2026-05-09T10:00:00Z", { input: 300, output: 0 }),
    ];
    // 1-8 May holds 100 + 100 + 10; 5-11 May holds 100 + 10 + 300.
    expect(peakRollingBilled(points, 7 * 24 * HOUR_MS)).toBe(410);
    expect(peakRollingBilled([], 7 * 24 * HOUR_MS)).toBe(0);
  });
});
