// The on-disk outbox: one file per frozen report, named by a sequence number so a listing sorts in
// the order the hooks wrote them. Hooks only add files and the sender only removes them, so neither
// rewrites a file the other reads.

import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { isObject, writeFileAtomic } from "./files.ts";
import type { Logger } from "./log.ts";

export const OUTBOX_LIMIT = 10_000;

export type OutboxKind = "report" | "limit-event";

export interface OutboxEntry {
  name: string;
  kind: OutboxKind;
  /** The exact body bytes to send and sign, frozen when the turn ended. */
  body: string;
}

const ENTRY_NAME = /^\d{12}\.json$/;

export function listOutbox(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => ENTRY_NAME.test(name))
      .sort();
  } catch {
    return [];
  }
}

/** Adds entries after the newest one; past the limit the oldest go, with a log line. */
export function appendOutbox(
  dir: string,
  entries: { kind: OutboxKind; body: string }[],
  log: Logger,
  limit = OUTBOX_LIMIT,
): void {
  if (entries.length === 0) return;
  const names = listOutbox(dir);
  const newest = names[names.length - 1];
  let next = newest ? Number.parseInt(newest, 10) + 1 : 1;
  for (const entry of entries) {
    const name = `${String(next++).padStart(12, "0")}.json`;
    writeFileAtomic(join(dir, name), JSON.stringify(entry));
    names.push(name);
  }
  const excess = names.length - limit;
  if (excess > 0) {
    for (const name of names.slice(0, excess)) removeOutboxEntry(dir, name);
    log.error(
      "outbox full: dropped the oldest reports; check that the receiver is reachable with: ccflux doctor",
      {
        dropped: excess,
        limit,
      },
    );
  }
}

/** Null when the file vanished (sent meanwhile) or is not an entry (it is then removed). */
export function readOutboxEntry(dir: string, name: string): OutboxEntry | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, name), "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") removeOutboxEntry(dir, name);
    return null;
  }
  if (
    isObject(parsed) &&
    (parsed.kind === "report" || parsed.kind === "limit-event") &&
    typeof parsed.body === "string"
  ) {
    return { name, kind: parsed.kind, body: parsed.body };
  }
  removeOutboxEntry(dir, name);
  return null;
}

export function removeOutboxEntry(dir: string, name: string): void {
  try {
    unlinkSync(join(dir, name));
  } catch {}
}

export function clearOutbox(dir: string): number {
  const names = listOutbox(dir);
  for (const name of names) removeOutboxEntry(dir, name);
  return names.length;
}
