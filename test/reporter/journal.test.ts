// The pure decisions behind healing a restored receiver (what to send again, what journal_from to
// send, what the receiver's delivery_held becomes), and the journal file's bounds.
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { advanceHeld, readDelivery, readHeld } from "../../src/protocol/delivery.ts";
import {
  Journal,
  type JournalBounds,
  type JournalEntry,
  journalFrom,
  nextResend,
  pruneJournal,
} from "../../src/reporter/journal.ts";
import { rng } from "../faults/support.ts";
import { tempDir } from "./helpers.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 2);
const BOUNDS: JournalBounds = { maxAgeMs: 7 * DAY, limit: 100, maxBytes: 1 << 20 };

function entry(seq: number, at = NOW, body = `{"turn_index":${seq}}`): JournalEntry {
  return { seq, kind: "report", at, body };
}

const seqs = (entries: readonly JournalEntry[]) => entries.map((e) => e.seq);

describe("what to send again", () => {
  const journal = [3, 4, 5, 6, 7].map((seq) => entry(seq));

  test("everything journaled above what the receiver holds, oldest first, each once", () => {
    expect(nextResend(journal, 7, 0)).toBeNull();
    expect(nextResend(journal, 9, 0)).toBeNull();
    expect(nextResend(journal, 4, 0)?.seq).toBe(5);
    expect(nextResend(journal, 0, 0)?.seq).toBe(3);
    // Already sent again in this run: the receiver's unchanged answer does not bring it back.
    expect(nextResend(journal, 4, 5)?.seq).toBe(6);
    expect(nextResend(journal, 4, 7)).toBeNull();
  });

  test("journal_from is the start of the unbroken run ending at the newest, never above the delivery", () => {
    expect(journalFrom([], 1)).toBe(1);
    expect(journalFrom([], 9)).toBe(9);
    expect(journalFrom([3, 4, 5], 6)).toBe(3);
    expect(journalFrom([3, 4, 5], 5)).toBe(3);
    expect(journalFrom([3, 4, 5], 8)).toBe(8); // 6 and 7 were never journaled
    expect(journalFrom([1, 2, 4, 5], 6)).toBe(4); // 3 was refused as a re-send and removed
    expect(journalFrom([1, 2, 4, 5], 2)).toBe(2); // a re-send below the gap
  });
});

describe("the receiver's delivery_held", () => {
  test("extends only by the next number; lifts to below journal_from", () => {
    expect(advanceHeld(0, { seq: 1, journalFrom: 1 })).toBe(1);
    expect(advanceHeld(4, { seq: 5, journalFrom: 1 })).toBe(5);
    expect(advanceHeld(4, { seq: 4, journalFrom: 1 })).toBe(4);
    expect(advanceHeld(4, { seq: 2, journalFrom: 1 })).toBe(4);
    expect(advanceHeld(4, { seq: 7, journalFrom: 1 })).toBe(4);
    expect(advanceHeld(4, { seq: 7, journalFrom: 6 })).toBe(5);
    expect(advanceHeld(4, { seq: 7, journalFrom: 7 })).toBe(7);
    expect(advanceHeld(0, { seq: 30, journalFrom: 20 })).toBe(19);
  });

  test("fields read from bodies and answers", () => {
    expect(readDelivery({})).toBeNull();
    expect(readDelivery({ delivery_seq: 5 })).toEqual({ seq: 5, journalFrom: 5 });
    expect(readDelivery({ delivery_seq: 5, delivery_journal_from: 2 })).toEqual({ seq: 5, journalFrom: 2 });
    expect(readDelivery({ delivery_seq: 5, delivery_journal_from: 6 })).toHaveProperty("error");
    expect(readDelivery({ delivery_seq: 0 })).toHaveProperty("error");
    expect(readHeld({ status: "stored", delivery_held: 3 })).toBe(3);
    expect(readHeld({ status: "stored" })).toBeNull();
    expect(readHeld({ delivery_held: -1 })).toBeNull();
    expect(readHeld(null)).toBeNull();
  });

  // The reporter's decisions and the receiver's rule together: deliveries 1…n in order, the
  // receiver's database copied after random deliveries (in mid-heal too) and a copy restored, three
  // times over; the next delivery and the re-sends it brings (some failing, to be resumed by the
  // delivery after) leave every journaled delivery stored, whatever the restore points, and the
  // receiver holding the newest.
  test("after restores to any earlier points, the re-sends leave every journaled delivery stored", () => {
    const random = rng(1212);
    for (let round = 0; round < 300; round++) {
      const journalSize = 1 + Math.floor(random() * 40);
      let stored = new Set<number>();
      let held = 0;
      const journal: number[] = [];
      const copies: { stored: Set<number>; held: number }[] = [{ stored: new Set(), held: 0 }];
      let sent = 0;
      const deliver = (seq: number) => {
        sent++;
        stored.add(seq);
        held = advanceHeld(held, { seq, journalFrom: journalFrom(journal, seq) });
        if (random() < 0.15) copies.push({ stored: new Set(stored), held });
      };
      const fresh = () => {
        const seq = (journal[journal.length - 1] ?? 0) + 1;
        deliver(seq);
        journal.push(seq);
        if (journal.length > journalSize) journal.shift();
      };
      /** The sender after a 200: sends again what the answer says is missing; false if a re-send failed. */
      const heal = (failAfter: number) => {
        const entries = () => journal.map((seq) => entry(seq));
        let cursor = 0;
        for (
          let next = nextResend(entries(), held, cursor);
          next;
          next = nextResend(entries(), held, cursor)
        ) {
          if (failAfter-- === 0) return false;
          deliver(next.seq);
          cursor = next.seq;
        }
        return true;
      };
      for (let cycle = 0; cycle < 3; cycle++) {
        const total = Math.floor(random() * 60);
        for (let i = 0; i < total; i++) {
          fresh();
          heal(Infinity);
        }
        const copy = copies[Math.floor(random() * copies.length)]!;
        stored = new Set(copy.stored);
        held = copy.held;
        sent = 0;
        // One more turn, its re-sends failing part way; then the next turn heals to the end.
        fresh();
        if (!heal(Math.floor(random() * 5))) {
          fresh();
          expect(heal(Infinity)).toBe(true);
        }
        for (const seq of journal) expect(stored.has(seq)).toBe(true);
        expect(held).toBe(journal[journal.length - 1]!);
        // Never much more than the journal is sent.
        expect(sent).toBeLessThanOrEqual(journal.length + 6);
      }
    }
  });
});

describe("the journal file", () => {
  let removeDir = () => {};
  afterEach(() => removeDir());

  function file(): string {
    const dir = tempDir("ccflux-journal-");
    removeDir = dir.remove;
    return join(dir.dir, "journal.tsv");
  }

  test("prunes by age, keeps one entry per number, sorts by number", () => {
    const kept = pruneJournal(
      [entry(5, NOW - 8 * DAY), entry(7), entry(6), entry(7, NOW, "{}"), entry(8, NOW - 6 * DAY)],
      NOW,
      BOUNDS,
    );
    expect(seqs(kept)).toEqual([6, 7, 8]);
    expect(kept[1]?.body).toBe("{}");
  });

  test("past its count or size it keeps the newest nine tenths", () => {
    const many = Array.from({ length: 101 }, (_, i) => entry(i + 1));
    expect(seqs(pruneJournal(many, NOW, BOUNDS))).toEqual(seqs(many.slice(-90)));
    const big = "x".repeat(10_000);
    const heavy = Array.from({ length: 50 }, (_, i) => entry(i + 1, NOW, big));
    const small = { ...BOUNDS, maxBytes: 100_000 };
    const kept = pruneJournal(heavy, NOW, small);
    expect(kept.length).toBe(8);
    expect(kept[kept.length - 1]?.seq).toBe(50);
  });

  test("appends survive a reload; a torn last line is dropped; the file never passes its bounds", () => {
    const path = file();
    const journal = Journal.load(path, NOW, BOUNDS);
    for (let seq = 1; seq <= 3; seq++) journal.append(entry(seq));
    appendFileSync(path, `4\t${NOW}\treport\t{"turn_index"`); // a crash in mid-write
    const reloaded = Journal.load(path, NOW, BOUNDS);
    expect(reloaded.size).toBe(3);
    expect(reloaded.newest).toBe(3);
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toHaveLength(3);
    // The next append is not glued to the torn line.
    reloaded.append(entry(4));
    expect(Journal.load(path, NOW, BOUNDS).newest).toBe(4);

    for (let seq = 5; seq <= 300; seq++) {
      reloaded.append(entry(seq));
      expect(reloaded.size).toBeLessThanOrEqual(BOUNDS.limit);
    }
    const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
    expect(lines.length).toBeLessThanOrEqual(BOUNDS.limit);
    expect(lines[lines.length - 1]?.split("\t")[0]).toBe("300");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // A week later every entry has aged out.
    expect(Journal.load(path, NOW + 8 * DAY, BOUNDS).size).toBe(0);
    expect(readFileSync(path, "utf8")).toBe("");
  });

  test("a delivery journaled twice (a crash between journal and outbox) is kept once", () => {
    const path = file();
    const journal = Journal.load(path, NOW, BOUNDS);
    journal.append(entry(1));
    journal.append(entry(2));
    journal.append(entry(2));
    expect(Journal.load(path, NOW, BOUNDS).size).toBe(2);
    journal.remove(1);
    expect(seqs([Journal.load(path, NOW, BOUNDS).resend(0, 0)!])).toEqual([2]);
  });
});
