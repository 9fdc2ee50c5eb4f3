// journal.tsv: what the receiver acknowledged lately, so that a receiver restored to an earlier
// point can be given again what it lost (docs/protocol.md §4, delivery_seq). One line per delivery:
// number, acknowledged-at (ms), kind and the frozen body's own bytes, tab-separated (JSON never
// holds a raw tab or newline), so loading it parses no JSON. Bounded by age, count and size, pruned
// when it is loaded or outgrows them. It holds what the outbox held (counts, session ids, model
// names): never a prompt, a path or code.

import { appendFileSync, readFileSync, rmSync } from "node:fs";
import { writeFileAtomic } from "./files.ts";
import type { OutboxKind } from "./outbox.ts";

/** How far back a restored receiver can be healed. */
export const JOURNAL_DAYS = 7;
/** About a week at one turn a minute, day and night. */
export const JOURNAL_LIMIT = 10_000;
export const JOURNAL_MAX_BYTES = 8 * 1024 * 1024;

export interface JournalEntry {
  seq: number;
  kind: OutboxKind;
  /** When the receiver acknowledged it (ms). */
  at: number;
  body: string;
}

export interface JournalBounds {
  maxAgeMs: number;
  limit: number;
  maxBytes: number;
}

export const JOURNAL_BOUNDS: JournalBounds = {
  maxAgeMs: JOURNAL_DAYS * 86_400_000,
  limit: JOURNAL_LIMIT,
  maxBytes: JOURNAL_MAX_BYTES,
};

function line(entry: JournalEntry): string {
  return `${entry.seq}\t${entry.at}\t${entry.kind}\t${entry.body}\n`;
}

/**
 * A line's length, or a little more: the body plus room for the longest prefix. In characters,
 * which is bytes for the ASCII that bodies are made of (an e-mail address may add a few).
 */
function lineSize(entry: JournalEntry): number {
  return entry.body.length + 48;
}

function totalSize(entries: readonly JournalEntry[]): number {
  let size = 0;
  for (const entry of entries) size += lineSize(entry);
  return size;
}

/**
 * The entries kept: one per sequence number (the last written wins), in sequence order, none older
 * than the age bound, and the newest that fit the count and size bounds. When a bound is passed the
 * journal is cut to nine tenths of it, so a full journal is rewritten now and then, not per append.
 */
export function pruneJournal(entries: JournalEntry[], now: number, bounds: JournalBounds): JournalEntry[] {
  // The file is in order with each number once, unless a crash repeated one: sort only then.
  let sorted = entries;
  if (entries.some((entry, i) => i > 0 && entry.seq <= entries[i - 1]!.seq)) {
    const bySeq = new Map<number, JournalEntry>();
    for (const entry of entries) bySeq.set(entry.seq, entry);
    sorted = [...bySeq.values()].sort((x, y) => x.seq - y.seq);
  }
  const fresh = sorted.filter((entry) => now - entry.at <= bounds.maxAgeMs);
  if (fresh.length <= bounds.limit && totalSize(fresh) <= bounds.maxBytes) return fresh;
  const keepCount = Math.floor(bounds.limit * 0.9);
  const keepSize = Math.floor(bounds.maxBytes * 0.9);
  let start = fresh.length;
  let kept = 0;
  while (start > 0 && fresh.length - start < keepCount) {
    const next = lineSize(fresh[start - 1]!);
    if (kept + next > keepSize) break;
    kept += next;
    start--;
  }
  return fresh.slice(start);
}

/**
 * The `delivery_journal_from` to send with delivery `seq`: the start of the unbroken run of journaled
 * numbers that ends at the newest (the delivery itself counting as journaled). Below a gap (a re-send
 * the receiver refused, a journal write that failed) nothing can be sent again, so the receiver may
 * count it as held. Never above `seq`.
 */
export function journalFrom(seqs: readonly number[], seq: number): number {
  let from = Math.max(seq, seqs[seqs.length - 1] ?? 0);
  for (let i = seqs.length - 1; i >= 0; i--) {
    const s = seqs[i]!;
    if (s === from - 1) from = s;
    else if (s < from - 1) break;
  }
  return Math.min(from, seq);
}

/**
 * What to send again: the first journaled delivery above both what the receiver says it holds and
 * what this sender already sent again (so each is sent again at most once per sender run). Null
 * when the receiver holds everything journaled.
 */
export function nextResend(
  entries: readonly JournalEntry[],
  held: number,
  resentUpTo: number,
): JournalEntry | null {
  const after = Math.max(held, resentUpTo);
  return entries.find((entry) => entry.seq > after) ?? null;
}

/** One complete line (without its newline); null for a torn or foreign one. */
function readEntry(text: string): JournalEntry | null {
  const first = text.indexOf("\t");
  const second = text.indexOf("\t", first + 1);
  const third = text.indexOf("\t", second + 1);
  if (first < 0 || second < 0 || third < 0) return null;
  const seq = Number(text.slice(0, first));
  const at = Number(text.slice(first + 1, second));
  const kind = text.slice(second + 1, third);
  const body = text.slice(third + 1);
  if (!Number.isSafeInteger(seq) || seq < 1 || !Number.isFinite(at)) return null;
  if (kind !== "report" && kind !== "limit-event") return null;
  // A line cut short by a crash, or glued to the next one, does not end its body's object.
  if (!body.startsWith("{") || !body.endsWith("}") || body.includes("\t")) return null;
  return { seq, kind, at, body };
}

/**
 * The file's entries as they are, without pruning or rewriting it (`ccflux status`, tests);
 * `whole` is false when a line was torn or unreadable.
 */
export function readJournal(path: string): { entries: JournalEntry[]; whole: boolean } {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {}
  // Only newline-ended lines are whole: a crash may have cut the last one short.
  const lines = text.split("\n").slice(0, -1);
  const entries = lines.flatMap((line) => readEntry(line) ?? []);
  return { entries, whole: entries.length === lines.length && (text === "" || text.endsWith("\n")) };
}

export class Journal {
  private constructor(
    private readonly path: string,
    private entries: JournalEntry[],
    /** The sum of lineSize over the entries. */
    private footprint: number,
    private readonly bounds: JournalBounds,
  ) {}

  /** Reads the file (a missing or torn one gives what could be read) and prunes it. */
  static load(path: string, now: number, bounds = JOURNAL_BOUNDS): Journal {
    const { entries, whole } = readJournal(path);
    const kept = pruneJournal(entries, now, bounds);
    const journal = new Journal(path, kept, totalSize(kept), bounds);
    // A torn last line is cut off now, before the next append would glue itself to it.
    if (kept.length !== entries.length || !whole) journal.rewrite();
    return journal;
  }

  get size(): number {
    return this.entries.length;
  }

  get newest(): number {
    return this.entries[this.entries.length - 1]?.seq ?? 0;
  }

  from(seq: number): number {
    return journalFrom(
      this.entries.map((entry) => entry.seq),
      seq,
    );
  }

  resend(held: number, resentUpTo: number): JournalEntry | null {
    return nextResend(this.entries, held, resentUpTo);
  }

  /**
   * Written before the outbox lets the delivery go, but not fsync'd: a power cut in the seconds
   * after a delivery can lose its line, which matters only if the receiver is also restored to
   * before it; waiting for the disk at every delivery would slow the sender down.
   */
  append(entry: JournalEntry): void {
    const text = line(entry);
    if (entry.seq > this.newest) this.entries.push(entry);
    else this.entries = pruneJournal([...this.entries, entry], entry.at, this.bounds);
    this.footprint += lineSize(entry);
    if (this.entries.length > this.bounds.limit || this.footprint > this.bounds.maxBytes) {
      this.entries = pruneJournal(this.entries, entry.at, this.bounds);
      this.rewrite();
      return;
    }
    appendFileSync(this.path, text, { mode: 0o600 });
  }

  remove(seq: number): void {
    this.entries = this.entries.filter((entry) => entry.seq !== seq);
    this.rewrite();
  }

  clear(): void {
    this.entries = [];
    this.footprint = 0;
    rmSync(this.path, { force: true });
  }

  private rewrite(): void {
    const text = this.entries.map(line).join("");
    writeFileAtomic(this.path, text);
    this.footprint = totalSize(this.entries);
  }
}
