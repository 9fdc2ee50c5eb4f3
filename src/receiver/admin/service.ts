// Admin sessions, show-once token reveals and the audit log. Never sees a request: access.ts
// passes in the client address and the clock.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";
import { sha256Hex } from "../tokens/service.ts";

export const SESSION_HOURS = 12;
/** How long the redirect after issuing a token may show it. */
const REVEAL_MINUTES = 10;

export type AuditAction =
  | "login"
  | "login-failed"
  | "logout"
  | "logout-all"
  | "provision"
  | "revoke"
  | "reissue"
  | "device-revoke"
  | "device-allow"
  | "export";

export interface AuditEntry {
  id: number;
  at: string;
  action: AuditAction;
  /**
   * "session" (the browser), "bearer" (a script with ADMIN_TOKEN), "anonymous" (failed logins), or
   * "cli:<OS user>" (a command of the receiver's own command line).
   */
  actor: string;
  address: string;
  subject: string;
  detail: string;
}

export interface AdminSession {
  csrfToken: string;
  expiresAt: string;
}

export interface RevealedToken {
  id: number;
  email: string;
  token: string;
  expiresAt: string;
  /** active, revoked or expired: it may have changed since it was issued. */
  status: string;
}

export function randomId(): string {
  return randomBytes(32).toString("base64url");
}

/** Constant-time equality of two secrets of any length (compares their SHA-256). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(given), "hex"), Buffer.from(sha256Hex(expected), "hex"));
}

/**
 * `adminToken` keys the stored hash of each session id, so a session is found only under the
 * ADMIN_TOKEN it was started with: rotating the token ends every session, with nothing to migrate.
 */
export function createAdminService(db: Database, adminToken: string | undefined) {
  const sessionKey = (id: string) =>
    createHmac("sha256", adminToken ?? "")
      .update(id)
      .digest("hex");

  const insertSession = db.query<unknown, [string, string, string, string, string]>(
    "INSERT INTO admin_sessions (id_hash, csrf_token, created_at, expires_at, address) VALUES (?, ?, ?, ?, ?)",
  );
  const purgeSessions = db.query<unknown, [string]>(
    "DELETE FROM admin_sessions WHERE unixepoch(expires_at) <= unixepoch(?)",
  );
  const findSession = db.query<AdminSession, [string, string]>(
    `SELECT csrf_token AS csrfToken, expires_at AS expiresAt FROM admin_sessions
     WHERE id_hash = ? AND unixepoch(expires_at) > unixepoch(?)`,
  );
  const deleteSession = db.query<unknown, [string]>("DELETE FROM admin_sessions WHERE id_hash = ?");
  const deleteAllSessions = db.query<unknown, []>("DELETE FROM admin_sessions");

  const insertReveal = db.query<unknown, [string, number, string]>(
    "INSERT INTO admin_token_reveals (nonce_hash, refresh_token_id, expires_at) VALUES (?, ?, ?)",
  );
  const purgeReveals = db.query<unknown, [string]>(
    "DELETE FROM admin_token_reveals WHERE unixepoch(expires_at) <= unixepoch(?)",
  );
  const takeReveal = db.query<{ refresh_token_id: number }, [string, string]>(
    `DELETE FROM admin_token_reveals WHERE nonce_hash = ? AND unixepoch(expires_at) > unixepoch(?)
     RETURNING refresh_token_id`,
  );
  const revealedToken = db.query<RevealedToken, [number]>(
    `SELECT id, email, token, expires_at AS expiresAt,
       CASE WHEN revoked != 0 THEN 'revoked' WHEN unixepoch(expires_at) <= unixepoch('now') THEN 'expired'
            ELSE 'active' END AS status
     FROM refresh_tokens WHERE id = ?`,
  );

  const insertAudit = db.query<unknown, [string, string, string, string, string, string]>(
    "INSERT INTO admin_audit (at, action, actor, address, subject, detail) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const recentAudit = db.query<AuditEntry, [number]>(
    "SELECT id, at, action, actor, address, subject, detail FROM admin_audit ORDER BY id DESC LIMIT ?",
  );

  return {
    /** A new session; returns the cookie value (only its keyed hash is stored). */
    startSession(address: string, now: number): string {
      const id = randomId();
      const at = toSqlTime(now);
      purgeSessions.run(at);
      insertSession.run(sessionKey(id), randomId(), at, toSqlTime(now + SESSION_HOURS * 3_600_000), address);
      return id;
    },

    session(id: string, now: number): AdminSession | null {
      return findSession.get(sessionKey(id), toSqlTime(now));
    },

    endSession(id: string): void {
      deleteSession.run(sessionKey(id));
    },

    /** Logs everyone out; returns how many sessions there were (live or not yet purged). */
    endAllSessions(): number {
      return deleteAllSessions.run().changes;
    },

    /** A one-time nonce that lets the next page show the token once. */
    createReveal(refreshTokenId: number, now: number): string {
      const nonce = randomId();
      purgeReveals.run(toSqlTime(now));
      insertReveal.run(sha256Hex(nonce), refreshTokenId, toSqlTime(now + REVEAL_MINUTES * 60_000));
      return nonce;
    },

    /** The token behind the nonce, once: the nonce is spent whether or not the token still exists. */
    takeReveal(nonce: string, now: number): RevealedToken | null {
      return db
        .transaction((): RevealedToken | null => {
          const row = takeReveal.get(sha256Hex(nonce), toSqlTime(now));
          return row ? revealedToken.get(row.refresh_token_id) : null;
        })
        .immediate();
    },

    audit(entry: Omit<AuditEntry, "id" | "at">, now: number): void {
      insertAudit.run(toSqlTime(now), entry.action, entry.actor, entry.address, entry.subject, entry.detail);
    },

    auditLog(limit: number): AuditEntry[] {
      return recentAudit.all(limit);
    },
  };
}

export type AdminService = ReturnType<typeof createAdminService>;
