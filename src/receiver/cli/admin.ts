// `ccflux-receiver users|devices|backup`: administration of the database from the same binary,
// for servers without sqlite3. Safe beside a running receiver (SQLite's WAL and busy timeout).
import { existsSync, statSync, unlinkSync } from "node:fs";
import { resolve } from "node:path";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import type { Config } from "../config.ts";
import { createPrivateFile, type Database, openDatabase } from "../db/database.ts";
import { createKeyService, type KeyService } from "../keys/service.ts";
import {
  createTokenService,
  DEFAULT_TOKEN_DAYS,
  provisioningProblem,
  type TokenService,
} from "../tokens/service.ts";

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

/**
 * What a command does to the database: `read` and `write` need an existing one (reading or
 * revoking on a file that is not there would only create an empty one beside the real one);
 * `create` may make a new, empty one, and says so.
 */
export type DatabaseAccess = "read" | "write" | "create";

/**
 * Names the database the command uses, on stderr (`note`), and checks that it may be used as
 * `access` asks; returns its absolute path. A mistyped or missing DATABASE_PATH shows at once.
 */
export function commandDatabase(config: Config, access: DatabaseAccess, note: Out): string {
  const path = resolve(config.databasePath);
  const missing = !existsSync(path) || statSync(path).size === 0;
  if (missing && access !== "create") {
    throw new CommandError(
      `no database at ${path}; set DATABASE_PATH to the service's database (such as DATABASE_PATH=/var/lib/ccflux/ccflux.db) and run the command as the service's user`,
    );
  }
  note(
    missing
      ? `database ${path} (a new, empty database: none was there; if the service uses another file, set DATABASE_PATH to it)`
      : `database ${path}`,
  );
  return path;
}

/** A checked command: what it needs of the database, and what it does there. */
interface Plan {
  access: DatabaseAccess;
  run(db: Database): void;
}

/**
 * Parses the arguments, answers --help, and otherwise runs the plan on the open database. `plan`
 * checks every argument first, so bad input changes nothing, not even by creating a file.
 */
function withDatabase(
  config: Config,
  args: string[],
  options: ParseArgsOptionsConfig,
  help: string,
  io: { out: Out; note: Out },
  plan: (parsed: Parsed) => Plan,
): void {
  const parsed = parse(args, options, help);
  if (parsed.values.help) {
    io.out(help);
    return;
  }
  const { access, run } = plan(parsed);
  const db = openDatabase(commandDatabase(config, access, io.note));
  try {
    run(db);
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

export function usersCommand(config: Config, args: string[], out: Out, note: Out): void {
  const help = ADMIN_HELP.users;
  const options: ParseArgsOptionsConfig = {
    division: { type: "string" },
    days: { type: "string" },
    json: { type: "boolean" },
  };
  withDatabase(config, args, options, help, { out, note }, ({ values, positionals }): Plan => {
    const [action, email, ...extra] = positionals;
    if (extra.length || !action) throw new UsageError(help);
    if (action === "add" && email) {
      const days = values.days === undefined ? DEFAULT_TOKEN_DAYS : Number(values.days);
      const division = (values.division as string | undefined) ?? null;
      const problem = provisioningProblem(email, division, days);
      if (problem) throw new UsageError(`users add: ${problem}`);
      return {
        access: "create",
        run(db) {
          const issued = createTokenService(db, config).issue(email, division, days, Date.now());
          out(`Refresh token for ${email} (shown once; it expires ${issued.expiresAt} UTC unless used):`);
          out(issued.token);
          if (config.baseUrl) out(`Report endpoint: ${config.baseUrl}/report`);
          else out("Report endpoint: set BASE_URL to print it here (your public receiver URL + /report).");
        },
      };
    }
    if (action === "list" && !email) {
      return {
        access: "read",
        run: (db) => listUsers(createTokenService(db, config), values.json === true, out),
      };
    }
    if (action === "revoke" && email) {
      return {
        access: "write",
        run(db) {
          const n = createTokenService(db, config).revokeEmail(email);
          if (!n)
            throw new CommandError(
              `users revoke: ${email} has no active refresh token (see: ccflux-receiver users list)`,
            );
          out(
            `Revoked ${n} refresh token${n === 1 ? "" : "s"} of ${email}; their devices stop reporting on the next turn.`,
          );
        },
      };
    }
    throw new UsageError(help);
  });
}

function listUsers(tokens: TokenService, json: boolean, out: Out): void {
  const rows = tokens.list();
  if (json) {
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
}

function listDevices(keys: KeyService, email: string | undefined, json: boolean, out: Out): void {
  const rows = keys.list(email);
  if (json) {
    out(JSON.stringify(rows.map((r) => ({ ...r, revoked: r.revoked !== 0 }))));
    return;
  }
  if (!rows.length) {
    out(email ? `No device keys for ${email}.` : "No device keys registered yet.");
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
}

export function devicesCommand(config: Config, args: string[], out: Out, note: Out): void {
  const help = ADMIN_HELP.devices;
  const options: ParseArgsOptionsConfig = { json: { type: "boolean" } };
  withDatabase(config, args, options, help, { out, note }, ({ values, positionals }): Plan => {
    const [action, arg, ...extra] = positionals;
    if (extra.length || !action) throw new UsageError(help);
    if (action === "list") {
      return {
        access: "read",
        run: (db) => listDevices(createKeyService(db), arg, values.json === true, out),
      };
    }
    if (action === "revoke" && arg) {
      return {
        access: "write",
        run(db) {
          if (!createKeyService(db).revoke(arg))
            throw new CommandError(
              `devices revoke: no active device key ${arg} (see: ccflux-receiver devices list)`,
            );
          out(
            "Revoked; that device stops reporting on its next turn. The user's other devices keep working.",
          );
        },
      };
    }
    throw new UsageError(help);
  });
}

export function backupCommand(config: Config, args: string[], out: Out, note: Out): void {
  const help = ADMIN_HELP.backup;
  withDatabase(config, args, {}, help, { out, note }, ({ positionals }): Plan => {
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError(help);
    return {
      access: "read",
      run(db) {
        // The copy holds every refresh token: it is made 0600 before a byte is written to it,
        // and made with "wx", which also refuses to overwrite an existing file.
        let created: boolean;
        try {
          created = createPrivateFile(file);
        } catch (error) {
          throw new CommandError(`backup: cannot write ${file} (${(error as NodeJS.ErrnoException).code})`);
        }
        if (!created) throw new CommandError(`backup: ${file} already exists; choose a new file name`);
        try {
          // VACUUM INTO reads one snapshot, so the copy is consistent while the receiver writes.
          db.run("VACUUM INTO ?", [file]);
        } catch (error) {
          unlinkSync(file);
          throw new CommandError(`backup: cannot write ${file} (${(error as Error).message})`);
        }
        out(`Backed up ${config.databasePath} to ${file}.`);
      },
    };
  });
}
