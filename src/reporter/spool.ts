// The spool: hook inputs the plugin's launcher kept while this binary was not downloaded yet (the
// first session after an install or upgrade). The launcher writes `<unix seconds>-<pid>.json` (the
// hook's stdin, renamed into place whole); the next hook that runs the binary counts them, under the
// state lock, and removes them.

import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { StatePaths } from "./files.ts";

/** Kept inputs handled per hook run, so one hook's work stays bounded; the rest wait for the next. */
export const SPOOL_BATCH = 50;

export interface Spooled {
  path: string;
  text: string;
}

const NAME = /^(\d{1,12})-(\d{1,10})\.json$/;

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
