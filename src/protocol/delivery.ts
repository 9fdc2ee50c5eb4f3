// Delivery sequence numbers (docs/protocol.md §4, v2): how a reporter learns that a restored receiver no
// longer holds reports it once acknowledged.
//
// Each signed report and limit event carries `delivery_seq`, numbered 1, 2, 3 … per device key with
// no gaps (a number is given to the delivery being attempted and kept for its retries), and
// `delivery_journal_from`, the oldest number the reporter can still send again. The receiver keeps,
// on the key's row in the database, `delivery_held`: every delivery numbered up to it is stored, or
// lies below what the reporter can send again. It answers that number in every 200; the reporter
// then sends again every delivery it journaled above it.

export interface Delivery {
  seq: number;
  journalFrom: number;
}

export type DeliveryField = Delivery | null | { error: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

/** The delivery fields of a report or limit event body: null when absent, an error when malformed. */
export function readDelivery(body: unknown): DeliveryField {
  if (!isObject(body) || body.delivery_seq === undefined || body.delivery_seq === null) return null;
  const seq = body.delivery_seq;
  if (!isSeq(seq)) return { error: "delivery_seq must be a whole number from 1" };
  const from = body.delivery_journal_from ?? seq;
  if (!isSeq(from) || from > seq)
    return { error: "delivery_journal_from must be a whole number from 1 to delivery_seq" };
  return { seq, journalFrom: from };
}

/**
 * The receiver's rule: what `delivery_held` becomes when a delivery is stored. Everything below
 * `journalFrom` counts as held (the reporter cannot send it again); the delivery right after the
 * held run extends it; one further ahead (out of order, after a restore) leaves it where it is,
 * and the reporter's re-sends, in order, then fill the run.
 */
export function advanceHeld(held: number, delivery: Delivery): number {
  const floor = Math.max(held, delivery.journalFrom - 1);
  return delivery.seq === floor + 1 ? delivery.seq : floor;
}

/** The `delivery_held` of a 200 answer, or null when the receiver does not keep one. */
export function readHeld(json: unknown): number | null {
  if (!isObject(json)) return null;
  const held = json.delivery_held;
  return typeof held === "number" && Number.isSafeInteger(held) && held >= 0 ? held : null;
}
