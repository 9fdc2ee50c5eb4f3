import { Database } from "bun:sqlite";
import { accessSync, closeSync, constants, fchmodSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { currentUser, userName } from "../os-user.ts";
import { MIGRATIONS } from "./migrations.ts";

export type { Database };

/** How long a write waits for an admin's sqlite3 lock before the request answers 503. */
export const BUSY_TIMEOUT_MS = 1000;

export class DatabaseSetupError extends Error {}

/** The file was migrated by a newer receiver: this one must not touch it (see EXIT_STATUS). */
export class SchemaTooNewError extends DatabaseSetupError {}

/**
 * Opens and migrates the database file. With `create`, missing folders and the file are made
 * (first start); without it a missing file is an error (a running receiver never silently
 * starts over on an empty database).
 */
export function openDatabase(path: string, create = true): Database {
  const folder = dirname(path);
  if (create) {
    try {
      mkdirSync(folder, { recursive: true });
    } catch (error) {
      throw new DatabaseSetupError(
        `DATABASE_PATH=${path}: the folder ${folder} cannot be created (${(error as NodeJS.ErrnoException).code}); create it with: install -d -o "$(id -un)" ${folder}`,
      );
    }
  }
  const problem = accessProblem(path);
  if (problem) throw new DatabaseSetupError(problem);
  let db: Database;
  try {
    if (create) createPrivateFile(path);
    db = new Database(path, { create, readwrite: true, strict: true });
    configure(db);
    migrate(db);
  } catch (error) {
    if (error instanceof DatabaseSetupError) throw error;
    throw new DatabaseSetupError(
      `DATABASE_PATH=${path}: cannot open the database (${(error as Error).message}); check that the file is a ccflux SQLite database and that this user may read and write it and its folder`,
    );
  }
  return db;
}

/**
 * One line naming what of the database this user cannot write, and the command that fixes it;
 * null when the folder and every file of the database that exists are writable. The usual cause:
 * the receiver or sqlite3 run once as root left root's files beside the service's.
 */
export function accessProblem(path: string): string | null {
  const folder = dirname(path);
  // Runs before every group commit: one access() per file, no more.
  const blocked = [folder, path, `${path}-wal`, `${path}-shm`].filter((file, i) => {
    try {
      accessSync(file, i === 0 ? constants.W_OK : constants.R_OK | constants.W_OK);
      return false;
    } catch (error) {
      // A missing folder or file is not this check's business: creating or refusing it is.
      return (error as NodeJS.ErrnoException).code !== "ENOENT";
    }
  });
  if (blocked.length === 0) return null;
  const uid = process.getuid?.() ?? -1;
  const me = currentUser();
  const owners = blocked.map((file) => statSync(file).uid);
  const owned = owners.every((owner) => owner === uid);
  const fix = owned ? `chmod u+rw ${blocked.join(" ")}` : `chown ${me}: ${blocked.join(" ")}`;
  const whose = owned ? "its mode" : `owned by ${[...new Set(owners.map(userName))].join(", ")}`;
  return `DATABASE_PATH=${path}: not writable by user ${me} (${blocked.join(", ")}: ${whose}); fix with: ${fix}`;
}

/**
 * Creates `path` empty with mode 0600 unless it exists. The file holds refresh tokens in plain
 * text, so it must never take the caller's umask; SQLite gives its -wal and -shm the same mode.
 * Returns false when the file was already there.
 */
export function createPrivateFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    fchmodSync(fd, 0o600); // a umask cannot widen a mode, but say it outright
  } finally {
    closeSync(fd);
  }
  return true;
}

export function configure(db: Database): void {
  db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  // Checkpoint every ~16 MiB of WAL rather than 4 MiB: fewer fsyncs per report under load.
  db.run("PRAGMA wal_autocheckpoint = 4000");
  db.run("PRAGMA foreign_keys = ON");
}

export function schemaVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Takes the file forward from whatever version it is at; each step is one transaction. */
export function migrate(db: Database, migrations: readonly string[] = MIGRATIONS): void {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new SchemaTooNewError(
      `DATABASE_PATH: the database is at schema version ${current}, newer than this receiver knows (${migrations.length}); run the newer receiver or restore a backup`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.run(migrations[version]!);
      db.run(`PRAGMA user_version = ${version + 1}`);
    }).immediate();
  }
}
