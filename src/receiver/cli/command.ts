// What every admin command shares: argument parsing, the database it names and opens, and the
// audit log entry that says who ran a change and where.
import { existsSync, readlinkSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import type { AuditAction } from "../admin/service.ts";
import { createAdminService } from "../admin/service.ts";
import type { Config } from "../config.ts";
import { type Database, openDatabase } from "../db/database.ts";
import { currentUser } from "../os-user.ts";

export class UsageError extends Error {}
export class CommandError extends Error {}

export type Out = (line: string) => void;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: ParseArgsOptionsConfig, help: string): Parsed {
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
export interface Plan {
  access: DatabaseAccess;
  run(db: Database): void;
}

/**
 * Parses the arguments, answers --help, and otherwise runs the plan on the open database. `plan`
 * checks every argument first, so bad input changes nothing, not even by creating a file.
 */
export function withDatabase(
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

/** The terminal on standard input, such as /dev/pts/2, or "" when there is none (a script, cron). */
function terminal(): string {
  try {
    const target = readlinkSync("/proc/self/fd/0");
    return /^\/dev\/(pts\/|tty)/.test(target) ? target : "";
  } catch {
    return "";
  }
}

/**
 * The audit log's "by" and "from" for a command: the OS user (and who ran sudo, which otherwise
 * hides the person behind `sudo -u ccflux`), and the machine and terminal.
 */
export function operator(env: Record<string, string | undefined> = process.env): {
  actor: string;
  address: string;
} {
  const user = currentUser();
  const sudoBy = env.SUDO_USER && env.SUDO_USER !== user ? ` (sudo by ${env.SUDO_USER})` : "";
  const tty = terminal();
  return { actor: `cli:${user}${sudoBy}`, address: `cli on ${hostname()}${tty ? ` ${tty}` : ""}` };
}

/** Writes one audit entry for a change a command made (in the caller's transaction, if any). */
export function auditCommand(db: Database, action: AuditAction, subject: string, detail: string): void {
  // Only the audit log is used: the admin token that keys sessions plays no part in it.
  createAdminService(db, undefined).audit({ action, ...operator(), subject, detail }, Date.now());
}

export function table(rows: string[][]): string {
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
