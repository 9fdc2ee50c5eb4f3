// The open database and the services prepared on it. Each request asks for the current services:
// if the file was replaced or removed underneath us (a restore, a broken disk), the old handle is
// closed and the file reopened, so nothing is ever written to a file that is no longer at the path.
import { statSync } from "node:fs";
import type { Config } from "../config.ts";
import { createServices, type Services } from "../services.ts";
import { accessProblem, type Database, openDatabase } from "./database.ts";
import { WriteQueue } from "./write-queue.ts";

export class DatabaseUnavailableError extends Error {
  /** Why, in words fit for GET /health: no path, no user name. */
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** What GET /health says is wrong: `reason` for the answer, `detail` (with the fix) for the log. */
export interface ProbeProblem {
  reason: string;
  detail: string;
}

const NOT_WRITABLE = "the database file or its folder is not writable by the receiver's user";

const REOPEN_INTERVAL_MS = 1000;

interface Opened {
  db: Database;
  services: Services;
  inode: string;
}

function inodeOf(path: string): string | null {
  try {
    const stat = statSync(path);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return null;
  }
}

export class Store {
  private opened: Opened | null = null;
  private lastAttempt = 0;
  private lastError: DatabaseUnavailableError | null = null;
  // Each group commit first checks that the folder and file still take writes: an fd opened before
  // the disk went read-only (chmod, a remount) may still write, but the report must be refused
  // with 503, not stored where a restart cannot open it.
  private readonly writes = new WriteQueue<Services>(() => {
    const services = this.services();
    this.assertWritable();
    return services;
  });

  constructor(
    private readonly config: Config,
    db: Database,
  ) {
    this.opened = { db, services: createServices(db, config), inode: inodeOf(config.databasePath) ?? "" };
  }

  /** Opens the file for the first time, creating it; throws DatabaseSetupError with advice. */
  static open(config: Config): Store {
    return new Store(config, openDatabase(config.databasePath, true));
  }

  /** The services on the file now at DATABASE_PATH; throws DatabaseUnavailableError if there is none. */
  services(now = Date.now()): Services {
    const inode = inodeOf(this.config.databasePath);
    if (this.opened && inode === this.opened.inode) return this.opened.services;
    this.close();
    if (inode === null) {
      throw this.unavailable(
        new DatabaseUnavailableError("the database file is missing", "the database file is missing"),
      );
    }
    if (now - this.lastAttempt < REOPEN_INTERVAL_MS && this.lastError) throw this.lastError;
    this.lastAttempt = now;
    try {
      const db = openDatabase(this.config.databasePath, false);
      this.opened = { db, services: createServices(db, this.config), inode };
      return this.opened.services;
    } catch (error) {
      const message = (error as Error).message;
      const writable = accessProblem(this.config.databasePath) === null;
      throw this.unavailable(
        new DatabaseUnavailableError(
          message,
          writable
            ? "the database file cannot be opened: not a ccflux database, or from a newer receiver"
            : NOT_WRITABLE,
        ),
      );
    }
  }

  /**
   * Runs `job` in a transaction on the current file, sharing the commit with the other writes of
   * this turn of the event loop; resolves once committed. Rejects with DatabaseUnavailableError or
   * the SQLite error when the write could not be made.
   */
  write<T>(job: (services: Services) => T): Promise<T> {
    return this.writes.run(job);
  }

  /**
   * A real read and write, and a writable folder (SQLite creates its journal files there); null
   * when all is well, else what is wrong.
   */
  probe(): ProbeProblem | null {
    try {
      const services = this.services();
      this.assertWritable();
      services.health.probe(Date.now());
      return null;
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) return { reason: error.reason, detail: error.message };
      const busy = (error as { code?: string }).code?.startsWith("SQLITE_BUSY");
      const reason = busy
        ? "another process holds the database's write lock (such as a sqlite3 session with an open transaction)"
        : `the database refused a read or write (${(error as { code?: string }).code ?? "unknown error"})`;
      return {
        reason,
        detail: `DATABASE_PATH=${this.config.databasePath}: ${reason}: ${(error as Error).message}`,
      };
    }
  }

  /** Throws DatabaseUnavailableError unless the folder and the files are writable by this user. */
  private assertWritable(): void {
    const problem = accessProblem(this.config.databasePath);
    if (problem) throw new DatabaseUnavailableError(problem, NOT_WRITABLE);
  }

  close(): void {
    if (!this.opened) return;
    const { db } = this.opened;
    this.opened = null;
    try {
      db.close();
    } catch {
      // A handle on a vanished file may fail to checkpoint; it is being dropped either way.
    }
  }

  private unavailable(error: DatabaseUnavailableError): DatabaseUnavailableError {
    this.lastError = error;
    return error;
  }
}
