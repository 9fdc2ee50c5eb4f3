// Where the reporter keeps its state, and the two ways it changes files safely:
// atomic replacement (write, fsync, rename) and a lock file with stale-lock recovery.

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export type Env = Record<string, string | undefined>;

/** Claude Code's configuration folder: CLAUDE_CONFIG_DIR when set, else ~/.claude. */
export function claudeConfigDir(env: Env): string {
  return env.CLAUDE_CONFIG_DIR || join(homeDir(env), ".claude");
}

export function homeDir(env: Env): string {
  return env.HOME || homedir();
}

export interface StatePaths {
  dir: string;
  config: string;
  state: string;
  /** Folder of per-day files of counted responses (seen.ts). */
  seen: string;
  stateLock: string;
  sender: string;
  senderLock: string;
  accessToken: string;
  deviceKey: string;
  revokedKey: string;
  outbox: string;
  /** Hook inputs kept for a later hook (spool.ts). */
  spool: string;
  /** The last history backfill that ran to its end, and the lock of a running one (backfill.ts). */
  backfill: string;
  backfillLock: string;
  journal: string;
  activityLog: string;
  errorsLog: string;
}

export function statePaths(env: Env): StatePaths {
  const dir = join(claudeConfigDir(env), "ccflux");
  return {
    dir,
    config: join(dir, "config.json"),
    state: join(dir, "state.json"),
    seen: join(dir, "seen"),
    stateLock: join(dir, "state.lock"),
    sender: join(dir, "sender.json"),
    senderLock: join(dir, "sender.lock"),
    accessToken: join(dir, "access-token.json"),
    deviceKey: join(dir, "device-key"),
    revokedKey: join(dir, "device-key.revoked"),
    outbox: join(dir, "outbox"),
    spool: join(dir, "spool"),
    backfill: join(dir, "backfill.json"),
    backfillLock: join(dir, "backfill.lock"),
    journal: join(dir, "journal.tsv"),
    activityLog: join(dir, "activity.log"),
    errorsLog: join(dir, "errors.log"),
  };
}

export function ensureStateDir(paths: StatePaths): void {
  mkdirSync(paths.outbox, { recursive: true, mode: 0o700 });
}

/** Replaces a file so that readers see the old or the new content, never half of either. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** `<name>.<pid>.tmp`, as writeFileAtomic names its temporary file. */
const TEMPORARY = /\.(\d+)\.tmp$/;
/** A write takes milliseconds: an older temporary file belongs to no write in progress. */
const TEMPORARY_STALE_MS = 60_000;

/**
 * Removes the temporary files that a process killed mid-write (a hook past its timeout) left in the
 * folder: those whose writer is gone, or that are older than any write takes.
 */
export function removeStaleTemporaries(dir: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(TEMPORARY.exec(name)?.[1] ?? 0);
    if (pid === 0 || pid === process.pid) continue;
    const path = join(dir, name);
    try {
      if (isAlive(pid) && now - statSync(path).mtimeMs < TEMPORARY_STALE_MS) continue;
      unlinkSync(path);
    } catch {}
  }
}

/** Parsed JSON of a file, or undefined when it is missing or unreadable (state is then rebuilt). */
export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed process nobody reaped (a container's init may not) still answers signals: on Linux,
  // its state in /proc says it is a zombie.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  waitMs: number;
  /** A lock older than this is taken over even if its holder still runs (hung); 0: never. */
  staleAfterMs: number;
}

/**
 * Takes the lock, or returns null when another live process holds it past `waitMs`.
 * The lock file names its holder's pid, so a lock left by a crashed process is recovered at once.
 */
export function acquireLock(path: string, { waitMs, staleAfterMs }: LockOptions): (() => void) | null {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          // Only remove the lock if it is still ours (a stale-lock takeover may have replaced it).
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
        } catch {}
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (isStale(path, staleAfterMs)) {
      try {
        unlinkSync(path);
      } catch {}
      continue;
    }
    if (Date.now() >= deadline) return null;
    Bun.sleepSync(5);
  }
}

/** Marks a held lock as in use now, so a holder that works long is not taken for a hung one. */
export function touchLock(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {}
}

function isStale(path: string, staleAfterMs: number): boolean {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    const age = Date.now() - statSync(path).mtimeMs;
    // No pid: its holder is writing it this instant, or crashed before it could (stale after a second).
    if (!(pid > 0)) return age > 1000;
    if (!isAlive(pid)) return true;
    return staleAfterMs > 0 && age > staleAfterMs;
  } catch {
    // Gone between our attempts: not stale, just retry.
    return false;
  }
}
