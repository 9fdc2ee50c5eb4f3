// The bounded local record of what each API response has already contributed to a report.
//
// A response's lines can straddle two reads, a resumed or forked session copies old responses into a
// new file, and sub-agent responses may appear in two files. Whatever the path, a response is counted
// once with its final usage: the ledger remembers what was reported and gives back only what grew.

import { type ResponseUsage, supersedes, USAGE_FIELDS, type Usage } from "./transcript.ts";

export const LEDGER_LIMIT = 20_000;

/** Stored form: hashed response key, then the reported value of each USAGE_FIELDS entry. */
export type LedgerEntry = [string, ...number[]];

export interface Contribution {
  delta: Usage;
  /** First time this response is seen: it adds one to the request count. */
  isNew: boolean;
}

/** Keys are hashed so the state file holds no message text, only opaque numbers. */
function hashKey(key: string): string {
  return Bun.hash(key).toString(36);
}

export class Ledger {
  // Map iteration order is insertion order: the first entries are the least recently touched.
  private readonly reported = new Map<string, number[]>();

  constructor(
    entries: readonly LedgerEntry[] = [],
    private readonly limit = LEDGER_LIMIT,
  ) {
    for (const [key, ...values] of entries) {
      if (typeof key === "string" && values.length === USAGE_FIELDS.length) this.reported.set(key, values);
    }
  }

  get size(): number {
    return this.reported.size;
  }

  /** Records the response and returns what it adds to the totals; null when it adds nothing. */
  take(response: ResponseUsage): Contribution | null {
    const key = hashKey(response.key);
    const before = this.reported.get(key);
    const now = USAGE_FIELDS.map((field) => response.usage[field]);
    this.reported.delete(key);
    if (!before) {
      this.remember(key, now);
      return { delta: { ...response.usage }, isNew: true };
    }
    // Under the rule an earlier line with more output stays the response's usage.
    if (!supersedes(response.usage, toUsage(before))) {
      this.remember(key, before);
      return null;
    }
    const after = now.map((value, i) => Math.max(value, before[i] ?? 0));
    this.remember(key, after);
    const delta = toUsage(after.map((value, i) => value - (before[i] ?? 0)));
    return USAGE_FIELDS.some((field) => delta[field] > 0) ? { delta, isNew: false } : null;
  }

  private remember(key: string, values: number[]): void {
    this.reported.set(key, values);
    for (const oldest of this.reported.keys()) {
      if (this.reported.size <= this.limit) break;
      this.reported.delete(oldest);
    }
  }

  toJSON(): LedgerEntry[] {
    return [...this.reported].map(([key, values]) => [key, ...values]);
  }
}

function toUsage(values: readonly number[]): Usage {
  return Object.fromEntries(USAGE_FIELDS.map((field, i) => [field, values[i] ?? 0])) as unknown as Usage;
}
