// The sender's delivery numbers and journal (docs/protocol.md §4, delivery_seq): each delivery under a
// device key gets the next number, kept for its retries and given back when the receiver refuses
// it for good, so the receiver sees 1, 2, 3 … with no gaps. Acknowledged deliveries go to the
// journal; when a 200 says the receiver holds less than the journal does (it was restored to an
// earlier point), what lies above is sent again, oldest first.

import { isObject } from "./files.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import type { OutboxKind } from "./outbox.ts";

/** Kept in sender.json. */
export interface DeliveryState {
  /** Hash of the public key the numbers belong to ("" before the first delivery). */
  key: string;
  next: number;
  /** The outbox entry being delivered and the number it was given, for its retries. */
  pending: { name: string; seq: number } | null;
}

export function readDeliveryState(value: unknown): DeliveryState {
  const file = isObject(value) ? value : {};
  const pending = isObject(file.pending) ? file.pending : null;
  return {
    key: typeof file.key === "string" ? file.key : "",
    next: typeof file.next === "number" && Number.isSafeInteger(file.next) && file.next >= 1 ? file.next : 1,
    pending:
      pending && typeof pending.name === "string" && typeof pending.seq === "number"
        ? { name: pending.name, seq: pending.seq }
        : null,
  };
}

export interface Numbered {
  seq: number;
  journalFrom: number;
}

/** The wire body: the frozen one plus its delivery numbers. */
export function numberedBody(body: string, numbered: Numbered): string {
  return JSON.stringify({
    ...JSON.parse(body),
    delivery_seq: numbered.seq,
    delivery_journal_from: numbered.journalFrom,
  });
}

export class Deliveries {
  private loaded: Journal | null = null;
  /** The receiver's delivery_held from its latest 200 in this run; null: none yet. */
  private held: number | null = null;
  private resentUpTo = 0;
  private healLogged = false;

  /** `state` is the sender status's own object: the caller saves it after each change. */
  constructor(
    private readonly path: string,
    private readonly state: DeliveryState,
  ) {}

  private get journal(): Journal {
    this.loaded ??= Journal.load(this.path, Date.now());
    return this.loaded;
  }

  /**
   * A key of its own numbers: a new key (a new user, a re-provisioned device) starts at 1 with an
   * empty journal. True when the key changed.
   */
  useKey(key: string): boolean {
    if (this.state.key === key) return false;
    this.reset();
    this.state.key = key;
    return true;
  }

  /** Forgets the numbers and the journal (a revoked key, a receiver that keeps no numbers). */
  reset(): void {
    this.journal.clear();
    this.state.next = 1;
    this.state.pending = null;
    this.held = null;
    this.resentUpTo = 0;
  }

  /** The number for the outbox entry `name`: the one it was given before, or the next one. */
  number(name: string): Numbered {
    let seq = this.state.pending?.name === name ? this.state.pending.seq : 0;
    if (seq === 0) {
      seq = this.state.next++;
      this.state.pending = { name, seq };
    }
    return { seq, journalFrom: this.journal.from(seq) };
  }

  numberResend(entry: JournalEntry): Numbered {
    return { seq: entry.seq, journalFrom: this.journal.from(entry.seq) };
  }

  /** The next journaled delivery to send again, once a 200 said the receiver lacks it. */
  nextResend(): JournalEntry | null {
    return this.held === null ? null : this.journal.resend(this.held, this.resentUpTo);
  }

  /**
   * A 200 for a delivery; `held` is the receiver's answer. Returns a line for the log when it shows,
   * for the first time in this run, that the receiver lost deliveries it had acknowledged.
   */
  acknowledged(
    delivery: { kind: OutboxKind; body: string; seq: number; resend: boolean },
    held: number | null,
    now: number,
  ): string | null {
    if (held === null) {
      // A receiver that keeps no numbers cannot say what it lost: nothing to journal for it.
      this.reset();
      return null;
    }
    if (delivery.resend) this.resentUpTo = delivery.seq;
    else {
      this.journal.append({ seq: delivery.seq, kind: delivery.kind, at: now, body: delivery.body });
      this.state.pending = null;
    }
    // A receiver holding numbers this device has not given yet (its state was lost): go on above them.
    if (held >= this.state.next) this.state.next = held + 1;
    this.held = held;
    if (this.healLogged || held >= this.journal.newest) return null;
    this.healLogged = true;
    return `receiver lost reports it had acknowledged (it holds this device's deliveries up to number ${held}, the journal up to ${this.journal.newest}; restored from a backup?): sending them again from the journal, nothing to do`;
  }

  /** The receiver refused a delivery for good: a fresh one gives its number back, a re-send leaves the journal. */
  refused(delivery: { seq: number; resend: boolean }): void {
    if (delivery.resend) {
      this.resentUpTo = delivery.seq;
      this.journal.remove(delivery.seq);
      return;
    }
    if (this.state.next === delivery.seq + 1) this.state.next = delivery.seq;
    this.state.pending = null;
  }
}
