// Device keys: one Ed25519 public key per device, registered by its owner's access token.
import { advanceHeld, type Delivery } from "../../protocol/delivery.ts";
import { toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { normaliseEmail } from "../tokens/service.ts";

export type Registration = "registered" | "conflict" | "revoked" | "too-many";

/** Active (unrevoked) device keys one person may have; IT revokes old ones to make room. */
export const MAX_DEVICE_KEYS_PER_PERSON = 20;

export interface DeviceKey {
  email: string;
  deviceId: string;
  revoked: boolean;
}

export interface DeviceKeyRow {
  public_key: string;
  email: string;
  device_id: string | null;
  registered_at: string | null;
  last_seen_at: string | null;
  revoked: number;
  /** When an admin allowed new keys for this revoked key's device id; null while it blocks them. */
  released_at: string | null;
}

export interface KeyCounts {
  total: number;
  active: number;
}

export function createKeyService(db: Database) {
  const find = db.query<{ email: string; device_id: string | null; revoked: number }, [string]>(
    "SELECT email, device_id, revoked FROM device_keys WHERE public_key = ?",
  );
  const insert = db.query<unknown, [string, string, string, string, string]>(
    "INSERT INTO device_keys (public_key, email, device_id, registered_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
  );
  const refresh = db.query<unknown, [string, string, string]>(
    "UPDATE device_keys SET device_id = ?, last_seen_at = ? WHERE public_key = ?",
  );
  // At most one write a minute per key: last_seen_at is for people, not an audit trail.
  const touch = db.query<unknown, [string, string, string]>(
    `UPDATE device_keys SET last_seen_at = ?
     WHERE public_key = ? AND (last_seen_at IS NULL OR unixepoch(last_seen_at) < unixepoch(?) - 60)`,
  );

  const heldOf = db.query<{ delivery_held: number }, [string]>(
    "SELECT delivery_held FROM device_keys WHERE public_key = ?",
  );
  const setHeld = db.query<unknown, [number, string]>(
    "UPDATE device_keys SET delivery_held = ? WHERE public_key = ?",
  );

  const COLUMNS = "public_key, email, device_id, registered_at, last_seen_at, revoked, released_at";
  const listAll = db.query<DeviceKeyRow, []>(
    `SELECT ${COLUMNS} FROM device_keys ORDER BY email, registered_at`,
  );
  const listFor = db.query<DeviceKeyRow, [string]>(
    `SELECT ${COLUMNS} FROM device_keys WHERE email = ? ORDER BY registered_at`,
  );
  const activeCount = db.query<{ n: number }, [string]>(
    "SELECT count(*) AS n FROM device_keys WHERE email = ? AND revoked = 0",
  );
  const pageAll = db.query<DeviceKeyRow, [number, number]>(
    `SELECT ${COLUMNS} FROM device_keys ORDER BY email, registered_at, public_key LIMIT ? OFFSET ?`,
  );
  const pageFor = db.query<DeviceKeyRow, [string, number, number]>(
    `SELECT ${COLUMNS} FROM device_keys WHERE email = ? ORDER BY registered_at, public_key LIMIT ? OFFSET ?`,
  );
  const countAll = db.query<KeyCounts, []>(
    "SELECT count(*) AS total, coalesce(sum(revoked = 0), 0) AS active FROM device_keys",
  );
  const countFor = db.query<KeyCounts, [string]>(
    "SELECT count(*) AS total, coalesce(sum(revoked = 0), 0) AS active FROM device_keys WHERE email = ?",
  );
  const revoke = db.query<unknown, [string]>(
    "UPDATE device_keys SET revoked = 1 WHERE public_key = ? AND revoked = 0",
  );
  // A device id says which machine a key is on; one without an id blocks nothing but itself.
  const deviceBlocked = db.query<{ one: number }, [string, string]>(
    `SELECT 1 AS one FROM device_keys
     WHERE email = ? AND device_id = ? AND device_id != '' AND revoked != 0 AND released_at IS NULL LIMIT 1`,
  );
  const release = db.query<unknown, [string, string, string]>(
    `UPDATE device_keys SET released_at = ?
     WHERE email = ? AND device_id = ? AND revoked != 0 AND released_at IS NULL`,
  );

  return {
    list(email?: string): DeviceKeyRow[] {
      return email === undefined ? listAll.all() : listFor.all(normaliseEmail(email));
    },

    /** One page of `list`, for pages that must not grow with the table. */
    page(email: string | undefined, offset: number, limit: number): DeviceKeyRow[] {
      return email === undefined
        ? pageAll.all(limit, offset)
        : pageFor.all(normaliseEmail(email), limit, offset);
    },

    counts(email?: string): KeyCounts {
      return email === undefined ? countAll.get()! : countFor.get(normaliseEmail(email))!;
    },

    /** Active keys of each of these people. */
    activeCounts(emails: readonly string[]): Map<string, number> {
      return new Map([...new Set(emails)].map((email) => [email, countFor.get(email)!.active]));
    },

    /** Returns false when there is no such active key. */
    revoke(publicKey: string): boolean {
      return revoke.run(publicKey).changes > 0;
    },

    /**
     * Lets the device of this revoked key register a new key again; returns false when the key is
     * not revoked, or its device was already allowed.
     */
    allow(publicKey: string, now: number): boolean {
      const row = find.get(publicKey);
      if (!row?.revoked) return false;
      return release.run(toSqlTime(now), row.email, row.device_id ?? "").changes > 0;
    },

    register(email: string, publicKey: string, deviceId: string, now: number): Registration {
      return db
        .transaction((): Registration => {
          const existing = find.get(publicKey);
          if (!existing) {
            // The same answer as for the revoked key itself, so a v1 reporter goes silent too.
            if (deviceBlocked.get(email, deviceId)) return "revoked";
            if (activeCount.get(email)!.n >= MAX_DEVICE_KEYS_PER_PERSON) return "too-many";
            insert.run(publicKey, email, deviceId, toSqlTime(now), toSqlTime(now));
            return "registered";
          }
          if (existing.email !== email) return "conflict";
          if (existing.revoked) return "revoked";
          refresh.run(deviceId, toSqlTime(now), publicKey);
          return "registered";
        })
        .immediate();
    },

    find(publicKey: string): DeviceKey | null {
      const row = find.get(publicKey);
      return row && { email: row.email, deviceId: row.device_id ?? "", revoked: row.revoked !== 0 };
    },

    touch(publicKey: string, now: number): void {
      const at = toSqlTime(now);
      touch.run(at, publicKey, at);
    },

    /**
     * Records that a delivery from this key is stored (in the caller's transaction, beside the
     * report's rows) and returns the key's delivery_held afterwards.
     */
    recordDelivery(publicKey: string, delivery: Delivery): number {
      const held = heldOf.get(publicKey)?.delivery_held ?? 0;
      const next = advanceHeld(held, delivery);
      if (next !== held) setHeld.run(next, publicKey);
      return next;
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
