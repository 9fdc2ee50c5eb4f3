// Who needs a bigger seat, who runs close to their limit, and who barely uses theirs. Pure: the
// range's figures per person in, recommendations with plain-words reasons out.
//
// Evidence first: a limit Claude Code reported is confirmed; a 5-hour window is inferred from
// usage unless a confirmed limit's reset time anchored it. Seat sizes are named only from
// confirmed limits: people whose limited windows held about the same billed tokens share a
// "limit level", which is what a seat of that size allows per 5 hours.

import type { PersonUsage } from "./overview.ts";

/** What the rules read about one person over the range. */
export interface SeatEvidence {
  email: string;
  division: string | null;
  /** Input + output over the range. */
  billedTokens: number;
  activeDays: number;
  limits: {
    total: number;
    /** 5-hour limit hits, including hits whose type the reporter did not say. */
    fiveHour: number;
    /** Any of the weekly limits (all models, Opus, Sonnet). */
    weekly: number;
    days: number;
    last: string | null;
  };
  /** Largest 5-hour window, billed tokens; null when no windows are stored. */
  peakWindowBilled: number | null;
  /** Median billed tokens of the windows that held a limit hit; null without one. */
  limitWindowBilled: number | null;
}

/** The evidence in a person's figures for the range. */
export function evidenceOf(p: PersonUsage): SeatEvidence {
  const { byType } = p.limits;
  return {
    email: p.email,
    division: p.division,
    billedTokens: p.input + p.output,
    activeDays: p.activeDays,
    limits: {
      total: p.limits.total,
      fiveHour: byType.five_hour,
      weekly: byType.seven_day + byType.seven_day_opus + byType.seven_day_sonnet,
      days: p.limits.days,
      last: p.limits.last,
    },
    peakWindowBilled: p.windows?.peakBilledTokens ?? null,
    limitWindowBilled: p.windows?.limitBilledTokens ?? null,
  };
}

export interface LimitLevel {
  /** Typical billed tokens in a 5-hour window that hit the limit, for this seat size. */
  billedTokens: number;
  /** People whose limit hits make up the level. */
  people: number;
}

export type AdviceKind = "upgrade" | "close" | "downgrade";

export interface SeatAdvice {
  email: string;
  division: string | null;
  kind: AdviceKind;
  /** One sentence a manager can act on. */
  reason: string;
  /** Confirmed: rests on limits Claude Code reported. Inferred: on usage alone. */
  evidence: "confirmed" | "inferred";
}

/** Sort keys, compared in order: larger first for upgrades and close, smaller first for downgrades. */
type Ranked = SeatAdvice & { rank: number[] };

function byRank(a: Ranked, b: Ranked): number {
  for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i]! - b.rank[i]!;
  return a.email < b.email ? -1 : a.email > b.email ? 1 : 0;
}

/** Two people's limited windows this far apart (×) or more are taken as different seat sizes. */
const LEVEL_STEP = 1.5;
export const REPEATED_LIMIT_DAYS = 2;
export const CLOSE_SHARE = 0.8;
/** Little use: active on fewer than 1 day in this many, or under this share of the median person. */
export const LIGHT_DAY_SHARE = 10;
export const LIGHT_BILLED_SHARE = 0.1;

/** The 5-hour limit levels seen, smallest first: clusters of people's limited-window sizes. */
export function limitLevels(people: readonly SeatEvidence[]): LimitLevel[] {
  const values = people
    .map((p) => p.limitWindowBilled)
    .filter((v): v is number => v !== null && v > 0)
    .sort((a, b) => a - b);
  const clusters: number[][] = [];
  for (const value of values) {
    const last = clusters.at(-1);
    if (last && value <= last.at(-1)! * LEVEL_STEP) last.push(value);
    else clusters.push([value]);
  }
  return clusters.map((c) => ({ billedTokens: c[Math.floor((c.length - 1) / 2)]!, people: c.length }));
}

/** "1.2M", "215k", "950": short token counts for sentences. */
export function roughTokens(value: number): string {
  if (value >= 1e6) return `${Number((value / 1e6).toFixed(value >= 1e7 ? 0 : 1))}M`;
  if (value >= 1e3) return `${Math.round(value / 1e3)}k`;
  return String(Math.round(value));
}

function times(n: number): string {
  return n === 1 ? "once" : `${n} times`;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The level a person's usage is measured against: the smallest one their peak does not pass. */
function levelFor(levels: readonly LimitLevel[], peak: number): LimitLevel | undefined {
  return levels.find((level) => peak <= level.billedTokens * 1.1);
}

/**
 * Recommendations over a range of `rangeDays` days, each person at most once: upgrades (repeated
 * confirmed limits, or any weekly limit), people close to their limit, and downgrades (little use
 * and no limit). Upgrades come first by limit hits, downgrades by least use.
 */
export function seatAdvice(people: readonly SeatEvidence[], rangeDays: number): SeatAdvice[] {
  const levels = limitLevels(people);
  const typical = median(people.filter((p) => p.billedTokens > 0).map((p) => p.billedTokens));
  const upgrades: Ranked[] = [];
  const close: Ranked[] = [];
  const downgrades: Ranked[] = [];
  for (const p of people) {
    const { limits } = p;
    const at = p.limitWindowBilled
      ? `, at about ${roughTokens(p.limitWindowBilled)} billed tokens per 5 hours`
      : "";
    if (limits.weekly > 0 || limits.days >= REPEATED_LIMIT_DAYS) {
      const parts: string[] = [];
      if (limits.fiveHour > 0) parts.push(`the 5-hour limit ${times(limits.fiveHour)}`);
      if (limits.weekly > 0) parts.push(`a weekly limit ${times(limits.weekly)}`);
      const other = limits.total - limits.fiveHour - limits.weekly;
      if (other > 0) parts.push(`a limit of unreported type ${times(other)}`);
      upgrades.push({
        email: p.email,
        division: p.division,
        kind: "upgrade",
        evidence: "confirmed",
        reason: `Hit ${parts.join(" and ")} on ${limits.days} ${limits.days === 1 ? "day" : "different days"}${at}: the seat stops their work.`,
        rank: [-limits.total, -p.billedTokens],
      });
      continue;
    }
    if (limits.total > 0) {
      close.push({
        email: p.email,
        division: p.division,
        kind: "close",
        evidence: "confirmed",
        reason: `Hit a limit ${times(limits.total)} on one day${at}; one more day like it makes a bigger seat worth it.`,
        rank: [-2, -p.billedTokens],
      });
      continue;
    }
    const peak = p.peakWindowBilled ?? 0;
    const level = levelFor(levels, peak);
    if (level && peak >= level.billedTokens * CLOSE_SHARE) {
      close.push({
        email: p.email,
        division: p.division,
        kind: "close",
        evidence: "inferred",
        reason: `Busiest 5 hours: ${roughTokens(peak)} billed tokens, ${Math.round((peak / level.billedTokens) * 100)}% of the ~${roughTokens(level.billedTokens)} at which ${level.people} ${level.people === 1 ? "person" : "people"} on that seat size hit the limit.`,
        rank: [-1, -peak / level.billedTokens],
      });
      continue;
    }
    const fewDays = p.activeDays * LIGHT_DAY_SHARE < rangeDays;
    const littleUse = typical > 0 && p.billedTokens < typical * LIGHT_BILLED_SHARE;
    if (p.billedTokens === 0) {
      downgrades.push({
        email: p.email,
        division: p.division,
        kind: "downgrade",
        evidence: "inferred",
        reason: "No Claude Code use in the range although the seat has a live token: the seat may be unused.",
        rank: [0],
      });
    } else if (fewDays || littleUse) {
      const smallest = levels[0];
      const room =
        smallest && p.peakWindowBilled !== null && peak > 0 && peak < smallest.billedTokens * 0.25
          ? ` Their busiest 5 hours (${roughTokens(peak)}) stay far under the ~${roughTokens(smallest.billedTokens)} the smallest seat seen here allows.`
          : "";
      downgrades.push({
        email: p.email,
        division: p.division,
        kind: "downgrade",
        evidence: "inferred",
        reason: `Used Claude Code on ${p.activeDays} of ${rangeDays} days, ${roughTokens(p.billedTokens)} billed tokens (the median person: ${roughTokens(typical)}), and never hit a limit.${room}`,
        rank: [p.billedTokens],
      });
    }
  }
  const strip = ({ rank: _, ...advice }: Ranked): SeatAdvice => advice;
  return [...upgrades.sort(byRank), ...close.sort(byRank), ...downgrades.sort(byRank)].map(strip);
}

/** The page's one-sentence statement of the rules above. */
export const SEAT_RULE = `Upgrade: a usage limit Claude Code reported on ${REPEATED_LIMIT_DAYS} or more days of the range, or any weekly limit. Close: limit hits on one day only, or a busiest 5-hour window at ${CLOSE_SHARE * 100}% or more of the level where people on the same seat size hit the limit. Downgrade: no limit, and use on fewer than 1 day in ${LIGHT_DAY_SHARE} or under a tenth of the median person's billed tokens.`;
