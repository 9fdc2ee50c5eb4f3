// Refresh tokens (issued by IT) and the short-lived access tokens exchanged for them.
// Nothing here is cached: every call reads the file, so an admin's sqlite3 change counts at once.
import { createHash, randomBytes } from "node:crypto";
import { toRfc3339, toSqlTime } from "../../protocol/index.ts";
import type { Database } from "../db/database.ts";

export interface Identity {
  email: string;
  refreshTokenId: number;
}

export interface AccessGrant {
  accessToken: string;
  expiresAt: string;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function newRefreshToken(): string {
  return `rtok_${randomBytes(32).toString("hex")}`;
}

const DAY_SECS = 86_400;
export const DEFAULT_TOKEN_DAYS = 365;
export const MAX_TOKEN_DAYS = 36_500;
export const MAX_DIVISION = 64;

/**
 * An email as the receiver keeps it: surrounding blanks gone, ASCII letters lower-case, exactly as
 * the database's own normalising trigger does (migration 4), so every spelling is one person.
 */
export function normaliseEmail(email: string): string {
  return email.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "").replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** A reason the provisioning input is refused, or null when it is fine; the email is checked normalised. */
export function provisioningProblem(rawEmail: string, division: string | null, days: number): string | null {
  const email = normaliseEmail(rawEmail);
  // Control and invisible characters (NUL, zero-width, bidi overrides) and broken UTF-16 would make
  // a second person who looks the same as the first on every page.
  if (!email.isWellFormed() || /[\p{Cc}\p{Cf}]/u.test(email)) {
    return "the email holds a control or invisible character; type it again as plain text such as jsmith@example.org";
  }
  if (email.length > 254 || !/^[^\s@<>"']+@[^\s@<>"']+\.[^\s@<>"']+$/.test(email)) {
    return `"${email.slice(0, 80)}" is not an email address such as jsmith@example.org`;
  }
  if (division !== null && division.length > MAX_DIVISION)
    return `the division must be at most ${MAX_DIVISION} characters`;
  return daysProblem(days);
}

/** A reason a token's days valid are refused, or null when they are fine. */
export function daysProblem(days: number): string | null {
  return !Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS
    ? `days must be a whole number from 1 to ${MAX_TOKEN_DAYS}`
    : null;
}

export interface IssuedToken {
  id: number;
  token: string;
  email: string;
  expiresAt: string;
}

export interface RefreshTokenRow {
  id: number;
  email: string;
  division: string | null;
  expires_at: string;
  revoked: number;
  created_at: string | null;
  last_used_at: string | null;
  /** active, revoked or expired */
  status: string;
}

export function createTokenService(
  db: Database,
  settings: { accessTokenExpirySecs: number; refreshTokenRollingDays: number },
) {
  // Times compare through unixepoch() so text an admin typed in another valid form still works.
  const findRefresh = db.query<{ id: number }, [string]>(
    `SELECT id FROM refresh_tokens
     WHERE token = ? AND revoked = 0 AND unixepoch(expires_at) > unixepoch('now') AND id IS NOT NULL`,
  );
  const rollRefresh = db.query<unknown, [string, string, number]>(
    "UPDATE refresh_tokens SET expires_at = ?, last_used_at = ? WHERE id = ?",
  );
  const insertAccess = db.query<unknown, [string, number, string, string]>(
    "INSERT INTO access_tokens (token_hash, refresh_token_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
  );
  const purgeExpired = db.query<unknown, [number]>(
    "DELETE FROM access_tokens WHERE refresh_token_id = ? AND unixepoch(expires_at) <= unixepoch('now')",
  );
  // access_tokens rows are only ever written here, in toSqlTime form, so text comparison is exact
  // (and cheaper on the hot path); refresh_tokens.expires_at may be typed by hand, so unixepoch().
  const findAccess = db.query<Identity, [string, string]>(
    `SELECT r.email AS email, r.id AS refreshTokenId
     FROM access_tokens a JOIN refresh_tokens r ON r.id = a.refresh_token_id
     WHERE a.token_hash = ? AND a.expires_at > ?
       AND r.revoked = 0 AND unixepoch(r.expires_at) > unixepoch('now')`,
  );
  const countActive = db.query<{ n: number }, []>(
    "SELECT count(*) AS n FROM access_tokens WHERE unixepoch(expires_at) > unixepoch('now')",
  );
  const insertRefresh = db.query<{ id: number }, [string, string, string | null, string, string]>(
    "INSERT INTO refresh_tokens (token, email, division, expires_at, created_at) VALUES (?, ?, ?, ?, ?) RETURNING rowid AS id",
  );
  const idOfRow = db.query<{ id: number }, [number]>("SELECT id FROM refresh_tokens WHERE rowid = ?");
  const revokeEmail = db.query<unknown, [string]>(
    "UPDATE refresh_tokens SET revoked = 1 WHERE email = ? AND revoked = 0",
  );
  const revokeId = db.query<unknown, [number]>(
    "UPDATE refresh_tokens SET revoked = 1 WHERE id = ? AND revoked = 0",
  );
  const STATUS = `CASE WHEN revoked != 0 THEN 'revoked' WHEN unixepoch(expires_at) <= unixepoch('now') THEN 'expired' ELSE 'active' END`;
  const list = db.query<RefreshTokenRow, []>(
    `SELECT id, email, division, expires_at, revoked, created_at, last_used_at, ${STATUS} AS status
     FROM refresh_tokens ORDER BY email, id`,
  );
  const listFor = db.query<RefreshTokenRow, [string]>(
    `SELECT id, email, division, expires_at, revoked, created_at, last_used_at, ${STATUS} AS status
     FROM refresh_tokens WHERE email = ? ORDER BY id`,
  );
  const byId = db.query<RefreshTokenRow, [number]>(
    `SELECT id, email, division, expires_at, revoked, created_at, last_used_at, ${STATUS} AS status
     FROM refresh_tokens WHERE id = ?`,
  );

  /** Inserts a new refresh token; the caller has checked `provisioningProblem`. */
  function issue(rawEmail: string, division: string | null, days: number, now: number): IssuedToken {
    const email = normaliseEmail(rawEmail);
    const token = newRefreshToken();
    const expiresAt = toSqlTime(now + days * DAY_SECS * 1000);
    // RETURNING gives the rowid; the id column is filled by the insert trigger.
    const row = insertRefresh.get(token, email, division, expiresAt, toSqlTime(now))!;
    return { id: idOfRow.get(row.id)!.id, token, email, expiresAt };
  }

  return {
    /** A new access token for a valid refresh token, rolling its expiry forward; null if refused. */
    exchange(refreshToken: string, now: number): AccessGrant | null {
      return db
        .transaction((): AccessGrant | null => {
          const row = findRefresh.get(refreshToken);
          if (!row) return null;
          const accessToken = randomBytes(32).toString("base64url");
          const expiresMs = now + settings.accessTokenExpirySecs * 1000;
          purgeExpired.run(row.id);
          insertAccess.run(sha256Hex(accessToken), row.id, toSqlTime(expiresMs), toSqlTime(now));
          rollRefresh.run(
            toSqlTime(now + settings.refreshTokenRollingDays * DAY_SECS * 1000),
            toSqlTime(now),
            row.id,
          );
          return { accessToken, expiresAt: toRfc3339(expiresMs) };
        })
        .immediate();
    },

    /** Who holds this access token, or null when it is unknown, expired, or its refresh token is not valid. */
    authenticate(accessToken: string, now: number): Identity | null {
      return findAccess.get(sha256Hex(accessToken), toSqlTime(now));
    },

    activeAccessTokens(): number {
      return countActive.get()!.n;
    },

    issue(email: string, division: string | null, days: number, now: number): IssuedToken {
      return db.transaction(() => issue(email, division, days, now)).immediate();
    },

    /** Revokes every active refresh token of the person; returns how many. */
    revokeEmail(email: string): number {
      return revokeEmail.run(normaliseEmail(email)).changes;
    },

    /**
     * Issues a new token for the person and revokes every other active one, in one transaction.
     * With `division` undefined the new token keeps the division of the person's latest token.
     */
    replace(
      email: string,
      division: string | null | undefined,
      days: number,
      now: number,
    ): { issued: IssuedToken; revoked: number } {
      return db
        .transaction(() => {
          const kept =
            division === undefined ? (listFor.all(normaliseEmail(email)).at(-1)?.division ?? null) : division;
          const revoked = revokeEmail.run(normaliseEmail(email)).changes;
          return { issued: issue(email, kept, days, now), revoked };
        })
        .immediate();
    },

    revoke(id: number): boolean {
      return revokeId.run(id).changes > 0;
    },

    /** Revokes one token and issues its replacement in one transaction; null if there is no such token. */
    reissue(id: number, days: number, now: number): IssuedToken | null {
      return db
        .transaction((): IssuedToken | null => {
          const old = byId.get(id);
          if (!old) return null;
          revokeId.run(id);
          return issue(old.email, old.division, days, now);
        })
        .immediate();
    },

    list(email?: string): RefreshTokenRow[] {
      return email === undefined ? list.all() : listFor.all(normaliseEmail(email));
    },

    /** The person's tokens that still work (revoked and expired ones left out). */
    active(email: string): RefreshTokenRow[] {
      return listFor.all(normaliseEmail(email)).filter((row) => row.status === "active");
    },

    /** How many of the person's other tokens, beside token `id`, still work: a second is rarely meant. */
    othersActive(email: string, id: number): number {
      return this.active(email).filter((row) => row.id !== id).length;
    },

    get(id: number): RefreshTokenRow | null {
      return byId.get(id);
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
