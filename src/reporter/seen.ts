// Every response ever counted, by message id, so that a copy is never counted again however many
// other responses came between (the ledger keeps only the latest 10,000).
//
// A resumed session copies old responses into its new file, and a /btw replay repeats a response
// under a new requestId; both keep the response's message.id and its timestamp. So the ids are filed
// by the UTC day of the response's own timestamp, one small file per day (`seen/<day>.bin`, 8 bytes
// per response, appended to): a hook reads only the days its new lines name (usually today), and
// days older than SEEN_DAYS are deleted. State stays bounded by the responses of those days, and
// holds hashes only, never an id itself. A lost tail (a crash mid-append) costs nothing the ledger
// does not still cover: it holds the latest responses anyway.

import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { parseRfc3339 } from "../protocol/index.ts";
import { hashKey } from "./ledger.ts";
import type { ResponseUsage } from "./transcript.ts";

/** Days kept: longer than Claude Code keeps transcripts by default (30) and than any backfill. */
export const SEEN_DAYS = 400;
const DAY_MS = 86_400_000;
/** A response dated ahead of the clock by more than this is not filed (a wrong date would stay forever). */
const FUTURE_DAYS = 2;
const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.bin$/;
const UTC_STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export class SeenResponses {
  private readonly days = new Map<string, Float64Array>();
  private readonly added = new Map<string, Set<number>>();

  constructor(
    private readonly dir: string,
    now: number,
  ) {
    this.oldestDay = new Date(now - SEEN_DAYS * DAY_MS).toISOString().slice(0, 10);
    this.newestDay = new Date(now + FUTURE_DAYS * DAY_MS).toISOString().slice(0, 10);
  }

  private readonly oldestDay: string;
  private readonly newestDay: string;

  /** The response's day, or null when its time is missing or outside the days kept. */
  private dayOf(response: ResponseUsage): string | null {
    // Claude Code writes UTC with Z: its first ten characters are the day, no parsing needed.
    const stamp = response.timestamp;
    let day: string | null = UTC_STAMP.test(stamp) ? stamp.slice(0, 10) : null;
    if (day === null) {
      const at = parseRfc3339(stamp);
      day = at === null ? null : new Date(at).toISOString().slice(0, 10);
    }
    return day !== null && day >= this.oldestDay && day <= this.newestDay ? day : null;
  }

  private stored(day: string): Float64Array {
    let hashes = this.days.get(day);
    if (!hashes) {
      try {
        // Copied into a buffer of its own: a pooled Buffer may start at an offset a Float64Array refuses.
        const bytes = new Uint8Array(readFileSync(join(this.dir, `${day}.bin`)));
        hashes = new Float64Array(bytes.buffer, 0, bytes.byteLength >> 3).sort();
      } catch {
        hashes = new Float64Array(0);
      }
      this.days.set(day, hashes);
    }
    return hashes;
  }

  /**
   * Whether a response with this message id was counted before; if not, files it as counted now.
   * A response whose day is not kept is never found nor filed (the ledger alone decides for it).
   */
  claim(response: ResponseUsage): boolean {
    const day = this.dayOf(response);
    if (day === null) return false;
    const hash = hashKey(response.replayKey);
    let added = this.added.get(day);
    if (added?.has(hash)) return true;
    const hashes = this.stored(day);
    let low = 0;
    let high = hashes.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const value = hashes[mid] as number;
      if (value === hash) return true;
      if (value < hash) low = mid + 1;
      else high = mid - 1;
    }
    if (!added) {
      added = new Set();
      this.added.set(day, added);
    }
    added.add(hash);
    return false;
  }

  /** Appends the ids each day gained, and deletes the days no longer kept. */
  save(): void {
    if (this.added.size === 0) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const [day, set] of this.added) {
      const path = join(this.dir, `${day}.bin`);
      try {
        // A crash mid-append leaves a partial record: cut it, or every later one would be misread.
        const size = statSync(path).size;
        if (size % 8 !== 0) truncateSync(path, size - (size % 8));
      } catch {}
      appendFileSync(path, new Uint8Array(Float64Array.from(set).buffer), { mode: 0o600 });
    }
    this.added.clear();
    for (const name of readdirSync(this.dir)) {
      const day = DAY_FILE.exec(name)?.[1];
      if (day !== undefined && day < this.oldestDay) {
        try {
          unlinkSync(join(this.dir, name));
        } catch {}
      }
    }
  }
}
