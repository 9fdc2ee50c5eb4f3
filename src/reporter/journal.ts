// journal.jsonl: what the receiver acknowledged lately, so that a receiver restored to an earlier
// point can be given again what it lost (PROTOCOL §4, delivery_seq). One line per delivery, in the
// frozen body's own bytes; bounded by age, count and size, pruned when it is loaded or outgrows them.
// It holds what the outbox held (counts, session ids, model names): never a prompt, a path or code.

import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, rmSync } from "node:fs";
import { isObject, writeFileAtomic } from "./files.ts";
import type { OutboxKind } from "./outbox.ts";

/** How far back a restored receiver can be healed. */
export const JOURNAL_DAYS = 7;
export const JOURNAL_LIMIT = 20_000;
export const JOURNAL_MAX_BYTES = 16 * 1024 * 1024;

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
  return `${JSON.stringify(entry)}\n`;
}

function lineBytes(entry: JournalEntry): number {
  return Buffer.byteLength(line(entry));
}

/**
 * The entries kept: one per sequence number (the last written wins), in sequence order, none older
 * than the age bound, and the newest that fit the count and size bounds. When a bound is passed the
 * journal is cut to nine tenths of it, so a full journal is rewritten now and then, not per append.
 */
export function pruneJournal(entries: JournalEntry[], now: number, bounds: JournalBounds): JournalEntry[] {
  const bySeq = new Map<number, JournalEntry>();
  for (const entry of entries) bySeq.set(entry.seq, entry);
  const sorted = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const fresh = sorted.filter((entry) => now - entry.at <= bounds.maxAgeMs);
  let bytes = 0;
  for (const entry of fresh) bytes += lineBytes(entry);
  if (fresh.length <= bounds.limit && bytes <= bounds.maxBytes) return fresh;
  const keepCount = Math.floor(bounds.limit * 0.9);
  const keepBytes = Math.floor(bounds.maxBytes * 0.9);
  let start = fresh.length;
  let kept = 0;
  while (start > 0 && fresh.length - start < keepCount) {
    const size = lineBytes(fresh[start - 1]!);
    if (kept + size > keepBytes) break;
    kept += size;
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

function readEntry(text: string): JournalEntry | null {
  try {
    const value: unknown = JSON.parse(text);
    if (
      isObject(value) &&
      typeof value.seq === "number" &&
      Number.isSafeInteger(value.seq) &&
      value.seq >= 1 &&
      (value.kind === "report" || value.kind === "limit-event") &&
      typeof value.at === "number" &&
      typeof value.body === "string"
    ) {
      return { seq: value.seq, kind: value.kind, at: value.at, body: value.body };
    }
  } catch {}
  return null;
}

export class Journal {
  private constructor(
    private readonly path: string,
    private entries: JournalEntry[],
    private bytes: number,
    private readonly bounds: JournalBounds,
  ) {}

  /** Reads the file (a missing or torn one gives what could be read) and prunes it. */
  static load(path: string, now: number, bounds = JOURNAL_BOUNDS): Journal {
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {}
    const lines = text.split("\n").filter(Boolean);
    const read = lines.flatMap((text) => readEntry(text) ?? []);
    const kept = pruneJournal(read, now, bounds);
    const journal = new Journal(path, kept, Buffer.byteLength(text), bounds);
    if (kept.length !== lines.length) journal.rewrite();
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

  /** On disk before the outbox lets the delivery go: fsync'd. */
  append(entry: JournalEntry): void {
    const text = line(entry);
    if (entry.seq > this.newest) this.entries.push(entry);
    else this.entries = pruneJournal([...this.entries, entry], entry.at, this.bounds);
    this.bytes += Buffer.byteLength(text);
    if (this.entries.length > this.bounds.limit || this.bytes > this.bounds.maxBytes) {
      this.entries = pruneJournal(this.entries, entry.at, this.bounds);
      this.rewrite();
      return;
    }
    appendFileSync(this.path, text, { mode: 0o600 });
    const fd = openSync(this.path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  remove(seq: number): void {
    this.entries = this.entries.filter((entry) => entry.seq !== seq);
    this.rewrite();
  }

  clear(): void {
    this.entries = [];
    this.bytes = 0;
    rmSync(this.path, { force: true });
  }

  private rewrite(): void {
    const text = this.entries.map(line).join("");
    writeFileAtomic(this.path, text);
    this.bytes = Buffer.byteLength(text);
  }
}
