// `ccflux-receiver users|devices|backup`: administration of the database from the same binary,
// for servers without sqlite3. Safe beside a running receiver (SQLite's WAL and busy timeout).
import { existsSync } from "node:fs";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import type { Config } from "../config.ts";
import { type Database, openDatabase } from "../db/database.ts";
import { createKeyService } from "../keys/service.ts";
import { createTokenService, DEFAULT_TOKEN_DAYS, provisioningProblem } from "../tokens/service.ts";

export class UsageError extends Error {}
export class CommandError extends Error {}

export const ADMIN_HELP = {
  users: `Usage:
  ccflux-receiver users add EMAIL [--division D] [--days N]   issue a refresh token (printed once)
  ccflux-receiver users list [--json]                          list refresh tokens (never the tokens)
  ccflux-receiver users revoke EMAIL                           revoke every active token of EMAIL

The database is DATABASE_PATH (default ccflux.db). --days defaults to ${DEFAULT_TOKEN_DAYS}.`,
  devices: `Usage:
  ccflux-receiver devices list [EMAIL] [--json]   list device keys, of everyone or of EMAIL
  ccflux-receiver devices revoke PUBLIC_KEY       revoke one device key; the user's other devices keep working`,
  backup: `Usage:
  ccflux-receiver backup FILE   write a consistent copy of the database to FILE (safe while serving)`,
};

type Out = (line: string) => void;

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(args: string[], options: ParseArgsOptionsConfig, help: string): Parsed {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    }) as Parsed;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`);
  }
}

/** Parses the arguments, answers --help, and otherwise runs `body` on the open database. */
function withDatabase(
  config: Config,
  args: string[],
  options: ParseArgsOptionsConfig,
  help: string,
  out: Out,
  body: (parsed: Parsed, db: Database) => void,
): void {
  const parsed = parse(args, options, help);
  if (parsed.values.help) {
    out(help);
    return;
  }
  const db = openDatabase(config.databasePath);
  try {
    body(parsed, db);
  } finally {
    db.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function usersCommand(config: Config, args: string[], out: Out): void {
  const help = ADMIN_HELP.users;
  const options: ParseArgsOptionsConfig = {
    division: { type: "string" },
    days: { type: "string" },
    json: { type: "boolean" },
  };
  withDatabase(config, args, options, help, out, ({ values, positionals }, db) => {
    const [action, email, ...extra] = positionals;
    if (extra.length || !action) throw new UsageError(help);
    const tokens = createTokenService(db, config);
    if (action === "add" && email) {
      const days = values.days === undefined ? DEFAULT_TOKEN_DAYS : Number(values.days);
      const division = (values.division as string | undefined) ?? null;
      const problem = provisioningProblem(email, division, days);
      if (problem) throw new UsageError(`users add: ${problem}`);
      const issued = tokens.issue(email, division, days, Date.now());
      out(`Refresh token for ${email} (shown once; it expires ${issued.expiresAt} UTC unless used):`);
      out(issued.token);
      if (config.baseUrl) out(`Report endpoint: ${config.baseUrl}/report`);
      else out("Report endpoint: set BASE_URL to print it here (your public receiver URL + /report).");
    } else if (action === "list" && !email) {
      const rows = tokens.list();
      if (values.json) {
        out(JSON.stringify(rows.map(({ revoked: _, ...row }) => row)));
        return;
      }
      if (!rows.length) {
        out("No refresh tokens yet. Add one with: ccflux-receiver users add EMAIL");
        return;
      }
      out(
        table([
          ["ID", "EMAIL", "DIVISION", "STATUS", "EXPIRES (UTC)", "LAST USED (UTC)"],
          ...rows.map((r) => [
            String(r.id),
            r.email,
            r.division ?? "",
            r.status,
            r.expires_at,
            r.last_used_at ?? "never",
          ]),
        ]),
      );
    } else if (action === "revoke" && email) {
      const n = tokens.revokeEmail(email);
      if (!n)
        throw new CommandError(
          `users revoke: ${email} has no active refresh token (see: ccflux-receiver users list)`,
        );
      out(
        `Revoked ${n} refresh token${n === 1 ? "" : "s"} of ${email}; their devices stop reporting on the next turn.`,
      );
    } else {
      throw new UsageError(help);
    }
  });
}

export function devicesCommand(config: Config, args: string[], out: Out): void {
  const help = ADMIN_HELP.devices;
  withDatabase(config, args, { json: { type: "boolean" } }, help, out, ({ values, positionals }, db) => {
    const [action, arg, ...extra] = positionals;
    if (extra.length || !action) throw new UsageError(help);
    const keys = createKeyService(db);
    if (action === "list") {
      const rows = keys.list(arg);
      if (values.json) {
        out(JSON.stringify(rows.map((r) => ({ ...r, revoked: r.revoked !== 0 }))));
        return;
      }
      if (!rows.length) {
        out(arg ? `No device keys for ${arg}.` : "No device keys registered yet.");
        return;
      }
      out(
        table([
          ["PUBLIC KEY", "EMAIL", "DEVICE", "STATUS", "REGISTERED (UTC)", "LAST SEEN (UTC)"],
          ...rows.map((r) => [
            r.public_key,
            r.email,
            r.device_id ?? "",
            r.revoked ? "revoked" : "active",
            r.registered_at ?? "",
            r.last_seen_at ?? "never",
          ]),
        ]),
      );
    } else if (action === "revoke" && arg) {
      if (!keys.revoke(arg))
        throw new CommandError(
          `devices revoke: no active device key ${arg} (see: ccflux-receiver devices list)`,
        );
      out("Revoked; that device stops reporting on its next turn. The user's other devices keep working.");
    } else {
      throw new UsageError(help);
    }
  });
}

export function backupCommand(config: Config, args: string[], out: Out): void {
  const help = ADMIN_HELP.backup;
  withDatabase(config, args, {}, help, out, ({ positionals }, db) => {
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError(help);
    if (existsSync(file)) throw new CommandError(`backup: ${file} already exists; choose a new file name`);
    try {
      // VACUUM INTO reads one snapshot, so the copy is consistent while the receiver writes.
      db.run("VACUUM INTO ?", [file]);
    } catch (error) {
      throw new CommandError(`backup: cannot write ${file} (${(error as Error).message})`);
    }
    out(`Backed up ${config.databasePath} to ${file}.`);
  });
}
