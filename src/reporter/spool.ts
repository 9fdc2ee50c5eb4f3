// The spool: hook inputs kept for a later hook to count. The plugin's launcher keeps them while this
// binary is not downloaded yet (the first session after an install or upgrade); a hook keeps its own
// when its time budget ran out before the transcript's end (a session's last hook has no next one).
// Each is `<unix seconds>-<pid>.json`, the hook's JSON, renamed into place whole; the next hook
// that runs the binary counts them, under the state lock, and removes them.

import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { type StatePaths, writeFileAtomic } from "./files.ts";

/** Kept inputs handled per hook run, so one hook's work stays bounded; the rest wait for the next. */
export const SPOOL_BATCH = 50;

export interface Spooled {
  path: string;
  text: string;
}

/** `<seconds>-<pid>.json` from the launcher, `<seconds>-<pid>-<n>.json` from a hook. */
const NAME = /^(\d{1,12})-(\d{1,10})(?:-\d{1,6})?\.json$/;

function spooledNames(paths: StatePaths): string[] {
  try {
    return readdirSync(paths.spool).filter((name) => NAME.test(name));
  } catch {
    return [];
  }
}

export function hasSpool(paths: StatePaths): boolean {
  return spooledNames(paths).length > 0;
}

/** The oldest kept inputs, in the order their hooks ran. */
export function readSpool(paths: StatePaths): Spooled[] {
  const order = (name: string) => (NAME.exec(name) ?? []).slice(1, 3).map(Number);
  const names = spooledNames(paths).sort((a, b) => {
    const [ta = 0, pa = 0] = order(a);
    const [tb = 0, pb = 0] = order(b);
    return ta - tb || pa - pb;
  });
  const spooled: Spooled[] = [];
  for (const name of names.slice(0, SPOOL_BATCH)) {
    const path = join(paths.spool, name);
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // Unreadable: it goes with the rest, as counting it can never succeed.
    }
    spooled.push({ path, text });
  }
  return spooled;
}

export function removeSpooled(spooled: Spooled[]): void {
  for (const { path } of spooled) {
    try {
      unlinkSync(path);
    } catch {}
  }
}

/** Kept inputs at most (the launcher stops at 200); beyond that, only SessionStart's catch-up finds the rest. */
export const SPOOL_LIMIT = 1_000;

/** Keeps a hook input whose transcript is not read to the end, for the next hook to go on with. */
export function keepForLater(paths: StatePaths, input: object, now: number): void {
  mkdirSync(paths.spool, { recursive: true, mode: 0o700 });
  const kept = spooledNames(paths).length;
  if (kept >= SPOOL_LIMIT) return;
  const name = `${Math.floor(now / 1000)}-${process.pid}-${kept}.json`;
  writeFileAtomic(join(paths.spool, name), JSON.stringify(input));
}
