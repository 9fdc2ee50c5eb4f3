// Claude Code's 5-hour usage windows, reconstructed per user from activity. Pure: no I/O, no clock.
//
// Rule: a window opens at the first turn that is not inside an open window, its start floored to
// the UTC hour, and lasts 5 hours; a turn at or after its end opens the next one. Where Claude
// Code confirmed a 5-hour limit and said when it resets, that window is known instead: it starts
// at resets_at − 5 h (an "anchor"), and is marked anchored rather than inferred.
//
// Because every window starts and ends on a whole UTC hour, all turns of one clock hour always fall
// in the same window. So one point per turn and one summed point per user-hour (stamped at the
// start of the hour) yield the same windows and totals; only distinct sessions need per-turn input.
//
// The hourly rollup holds each API call's tokens in the hour of the call (protocol v2 `hours`), so a
// turn that crossed an hour opens its window at its first call's hour, as Claude Code's own does.

export const HOUR_MS = 3_600_000;
export const WINDOW_MS = 5 * HOUR_MS;

/** One turn, or one user-hour of an hourly rollup (stamped at the hour's start, values summed). */
export interface ActivityPoint {
  /** Milliseconds since the epoch, UTC. */
  at: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  turns: number;
  /** Present on per-turn input; rollups cannot count distinct sessions and leave it out. */
  sessionId?: string;
}

export interface UsageWindow {
  /** Inclusive, on a whole UTC hour (ms since epoch). */
  start: number;
  /** Exclusive: start + 5 h. */
  end: number;
  /** The window has not ended yet at `now` (end > now); its totals are so far. */
  open: boolean;
  /** input + output: what counts against the plan's limit. */
  billedTokens: number;
  /** input + output + cache reads + cache writes. */
  totalTokens: number;
  turns: number;
  /** Distinct session ids among the window's points; null when none of them carried one. */
  sessions: number | null;
  /** At least one limit event instant lies in [start, end). */
  hasLimitEvent: boolean;
  /** Its start comes from a confirmed limit's reset time, not from the floor-to-the-hour rule. */
  anchored: boolean;
}

export interface WindowSummary {
  windowCount: number;
  /** Largest billed window; 0 when there are no windows. */
  peakBilledTokens: number;
  /** Mean billed tokens per window (not rounded); 0 when there are no windows. */
  averageBilledTokens: number;
}

export function floorToUtcHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/**
 * One user's windows, oldest first. `points` may come in any order: they are sorted (a copy) by
 * `at`, since callers merge sources and a wrong order would silently split windows.
 * `limitEventTimes` are the user's limit-event instants (ms); `now` decides open vs closed.
 * Throws RangeError on a non-finite `at`, which would otherwise corrupt the sort.
 */
export function computeWindows(
  points: readonly ActivityPoint[],
  now: number,
  limitEventTimes: readonly number[] = [],
  anchors: readonly number[] = [],
): UsageWindow[] {
  const sorted = [...points].sort((a, b) => a.at - b.at);
  const starts = [...anchors].filter(Number.isFinite).sort((a, b) => a - b);
  const windows: UsageWindow[] = [];
  let current: UsageWindow | undefined;
  let sessionIds = new Set<string>();
  let nextAnchor = 0;

  for (const point of sorted) {
    if (!Number.isFinite(point.at)) throw new RangeError(`activity point has a non-finite time: ${point.at}`);
    if (current === undefined || point.at >= current.end) {
      const previousEnd = current?.end ?? Number.NEGATIVE_INFINITY;
      // Anchors that end before this point, or start inside the last window, cannot hold it.
      while (
        nextAnchor < starts.length &&
        (starts[nextAnchor]! + WINDOW_MS <= point.at || starts[nextAnchor]! < previousEnd)
      )
        nextAnchor++;
      const anchor = starts[nextAnchor];
      // Hourly points are stamped at the hour's start, so an anchor counts from its own hour.
      const anchored = anchor !== undefined && floorToUtcHour(anchor) <= point.at;
      const start = anchored ? anchor : floorToUtcHour(point.at);
      if (anchored) nextAnchor++;
      current = {
        start,
        end: start + WINDOW_MS,
        open: start + WINDOW_MS > now,
        billedTokens: 0,
        totalTokens: 0,
        turns: 0,
        sessions: null,
        hasLimitEvent: false,
        anchored,
      };
      sessionIds = new Set();
      windows.push(current);
    }
    const billed = point.input + point.output;
    current.billedTokens += billed;
    current.totalTokens += billed + point.cacheRead + point.cacheWrite;
    current.turns += point.turns;
    if (point.sessionId !== undefined) {
      sessionIds.add(point.sessionId);
      current.sessions = sessionIds.size;
    }
  }

  markLimitEvents(windows, limitEventTimes);
  return windows;
}

// Windows are sorted and disjoint, so one pass over the sorted events marks them all.
function markLimitEvents(windows: UsageWindow[], limitEventTimes: readonly number[]): void {
  const events = [...limitEventTimes].sort((a, b) => a - b);
  let next = 0;
  for (const window of windows) {
    while (next < events.length && (events[next] as number) < window.start) next++;
    const event = events[next];
    if (event !== undefined && event < window.end) window.hasLimitEvent = true;
  }
}

/** Peak and average billed window, over all given windows (an open one counts with its total so far). */
export function summarizeWindows(windows: readonly UsageWindow[]): WindowSummary {
  let peak = 0;
  let sum = 0;
  for (const window of windows) {
    peak = Math.max(peak, window.billedTokens);
    sum += window.billedTokens;
  }
  return {
    windowCount: windows.length,
    peakBilledTokens: peak,
    averageBilledTokens: windows.length === 0 ? 0 : sum / windows.length,
  };
}

/**
 * Distinct sessions per window, for windows sorted oldest first: each (session, instant) counts
 * in the last window starting at or before the instant, if the instant is before its end.
 */
export function sessionsPerWindow(
  windows: readonly Pick<UsageWindow, "start" | "end">[],
  sessionTimes: readonly { sessionId: string; at: number }[],
): number[] {
  const sets = windows.map(() => new Set<string>());
  for (const { sessionId, at } of sessionTimes) {
    let low = 0;
    let high = windows.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (windows[mid]!.start <= at) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (found >= 0 && at < windows[found]!.end) sets[found]!.add(sessionId);
  }
  return sets.map((set) => set.size);
}

/** The largest billed total (input + output) of the points in any `spanMs` in a row. */
export function peakRollingBilled(points: readonly ActivityPoint[], spanMs: number): number {
  const sorted = [...points].sort((a, b) => a.at - b.at);
  let peak = 0;
  let sum = 0;
  let first = 0;
  for (const point of sorted) {
    sum += point.input + point.output;
    while (sorted[first]!.at <= point.at - spanMs) {
      sum -= sorted[first]!.input + sorted[first]!.output;
      first++;
    }
    peak = Math.max(peak, sum);
  }
  return peak;
}
