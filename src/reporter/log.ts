// activity.log and errors.log: `time level message key=value …`, each capped at 64 KB.
// The reporter never writes to the user's terminal; these lines say what to do instead.
// Never log a token, a key, a path, a prompt or code: callers pass only counts, codes and hosts.

import { appendFileSync, readFileSync, statSync } from "node:fs";
import { toRfc3339 } from "../protocol/index.ts";
import { type StatePaths, writeFileAtomic } from "./files.ts";

export const LOG_CAP_BYTES = 64 * 1024;

export type Fields = Record<string, string | number | boolean>;

function formatLine(level: string, message: string, fields: Fields): string {
  const pairs = Object.entries(fields).map(([key, value]) => {
    const text = String(value);
    return `${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  });
  return `${[toRfc3339(Date.now()), level, message, ...pairs].join(" ")}\n`;
}

function appendCapped(path: string, line: string): void {
  try {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {}
    if (size + line.length > LOG_CAP_BYTES) {
      // Keep the newer half, cut at a line boundary, so the file stays readable and bounded.
      const old = readFileSync(path, "utf8");
      const tail = old.slice(old.length - LOG_CAP_BYTES / 2);
      writeFileAtomic(path, tail.slice(tail.indexOf("\n") + 1) + line);
    } else {
      appendFileSync(path, line, { mode: 0o600 });
    }
  } catch {
    // Logging must never break a hook or the sender.
  }
}

export interface Logger {
  info(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

/** info goes to activity.log; error goes to errors.log and, so the story is whole, activity.log. */
export function logger(paths: StatePaths): Logger {
  return {
    info(message, fields = {}) {
      appendCapped(paths.activityLog, formatLine("info", message, fields));
    },
    error(message, fields = {}) {
      const line = formatLine("error", message, fields);
      appendCapped(paths.errorsLog, line);
      appendCapped(paths.activityLog, line);
    },
  };
}

/** The last line of a log, for `ccflux status`. */
export function lastLine(path: string): string | null {
  try {
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    return lines[lines.length - 1] || null;
  } catch {
    return null;
  }
}
