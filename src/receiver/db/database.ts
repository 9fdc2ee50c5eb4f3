import { Database } from "bun:sqlite";
import { closeSync, fchmodSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.ts";

export type { Database };

/** How long a write waits for an admin's sqlite3 lock before the request answers 503. */
export const BUSY_TIMEOUT_MS = 1000;

export class DatabaseSetupError extends Error {}

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
    throw new DatabaseSetupError(
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
