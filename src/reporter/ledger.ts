// The bounded local record of what each API response has already contributed to a report.
//
// A response's lines can straddle two reads, a resumed or forked session copies old responses into a
// new file, and sub-agent responses may appear in two files. Whatever the path, a response is counted
// once with its final usage: the ledger remembers what was reported and gives back only what grew.

import { type ResponseUsage, supersedes, USAGE_FIELDS, type Usage } from "./transcript.ts";

export const LEDGER_LIMIT = 10_000;

export interface Contribution {
  delta: Usage;
  /** First time this response is seen: it adds one to the request count. */
  isNew: boolean;
}

const FIELDS = USAGE_FIELDS.length;
/** Per response: its hashed key, then the reported value of each USAGE_FIELDS entry. */
const RECORD = 1 + FIELDS;
const HASH_MASK = (1n << 52n) - 1n;

/**
 * Keys are hashed (to 52 bits, exact in a double) so the state file holds no message text, and the
 * whole ledger is one Float64Array: loading and saving it stays a few milliseconds.
 */
export function hashKey(key: string): number {
  return Number(BigInt(Bun.hash(key)) & HASH_MASK);
}

export class Ledger {
  // Map iteration order is insertion order: the first entries are the least recently touched.
  private readonly reported = new Map<number, Float64Array>();

  /** `stored`: the base64 form `toJSON` gives (anything else starts an empty ledger). */
  constructor(
    stored: unknown = "",
    private readonly limit = LEDGER_LIMIT,
  ) {
    if (typeof stored !== "string" || stored === "") return;
    // Copied into a buffer of its own: a pooled Buffer may start at an offset a Float64Array refuses.
    const bytes = new Uint8Array(Buffer.from(stored, "base64"));
    const records = new Float64Array(bytes.buffer, 0, Math.floor(bytes.byteLength / 8 / RECORD) * RECORD);
    for (let at = 0; at < records.length; at += RECORD) {
      this.reported.set(records[at] ?? 0, records.subarray(at + 1, at + RECORD));
    }
  }

  get size(): number {
    return this.reported.size;
  }

  has(key: string): boolean {
    return this.reported.has(hashKey(key));
  }

  /** Records the response and returns what it adds to the totals; null when it adds nothing. */
  take(response: ResponseUsage): Contribution | null {
    const key = hashKey(response.key);
    const before = this.reported.get(key);
    const now = Float64Array.from(USAGE_FIELDS, (field) => response.usage[field]);
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

  /** Records a line that counts once without usage (a limit refusal); true the first time it is seen. */
  firstSight(lineKey: string): boolean {
    const key = hashKey(lineKey);
    const seen = this.reported.get(key);
    this.reported.delete(key);
    this.remember(key, seen ?? new Float64Array(FIELDS));
    return seen === undefined;
  }

  private remember(key: number, values: Float64Array): void {
    this.reported.set(key, values);
    for (const oldest of this.reported.keys()) {
      if (this.reported.size <= this.limit) break;
      this.reported.delete(oldest);
    }
  }

  toJSON(): string {
    const records = new Float64Array(this.reported.size * RECORD);
    let at = 0;
    for (const [key, values] of this.reported) {
      records[at] = key;
      records.set(values, at + 1);
      at += RECORD;
    }
    return Buffer.from(records.buffer).toString("base64");
  }
}

function toUsage(values: ArrayLike<number>): Usage {
  return Object.fromEntries(USAGE_FIELDS.map((field, i) => [field, values[i] ?? 0])) as unknown as Usage;
}
