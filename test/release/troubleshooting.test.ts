// Every message the reporter can write to its logs is explained in docs/troubleshooting.md.
// Messages are read from the reporter's source, so a new one without an explanation fails here.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const DOC = readFileSync(join(ROOT, "docs/troubleshooting.md"), "utf8");
// commands.ts is `ccflux status` and `ccflux doctor`: terminal output, not log lines.
const SOURCES = [
  "answers.ts",
  "backfill.ts",
  "client.ts",
  "config.ts",
  "hook.ts",
  "main.ts",
  "outbox.ts",
  "sender.ts",
];

/** The string or template literal starting at `start`, with each `${…}` replaced by `…`. */
function literalAt(source: string, start: number): string {
  const quote = source[start]!;
  let text = "";
  let i = start + 1;
  while (source[i] !== quote) {
    if (source[i] === "\\") {
      text += source[i + 1];
      i += 2;
    } else if (quote === "`" && source.startsWith("${", i)) {
      // Skip the expression, nested templates and braces included.
      let depth = 1;
      i += 2;
      while (depth > 0) {
        const c = source[i]!;
        if (c === "`") i = skipTemplate(source, i);
        else if (c === '"' || c === "'") i = source.indexOf(c, i + 1);
        else if (c === "{") depth++;
        else if (c === "}") depth--;
        i++;
      }
      text += "…";
    } else {
      text += source[i++];
    }
  }
  return text;
}

/** The index of the backtick that closes the template literal opened at `start`. */
function skipTemplate(source: string, start: number): number {
  let i = start + 1;
  while (source[i] !== "`") {
    if (source[i] === "\\") i += 2;
    else if (source.startsWith("${", i)) {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        const c = source[i]!;
        if (c === "`") i = skipTemplate(source, i);
        else if (c === "{") depth++;
        else if (c === "}") depth--;
        i++;
      }
    } else i++;
  }
  return i;
}

/** Messages: what log calls write, failure reasons, endpoint problems, and the fixed answers per status. */
function reporterMessages(): string[] {
  const found = new Set<string>();
  // [where a message starts, the fewest words that make it a message rather than a value]
  const positions: [RegExp, number][] = [
    [/\.(?:info|error)\(\s*(?=["`])/g, 1],
    [/\breason:\s*(?=["`])/g, 1],
    [/\bmessage:\s*(?=["`])/g, 1],
    [/\bconst reason = (?=["`])/g, 1],
    [/^\s*\d{3}: (?=["`])/gm, 1],
    // Keyed tables of messages (an error code → its line).
    [/^\s*"[a-z][a-z-]*":\s*(?=["`])/gm, 4],
    [/\?\?\s*(?=["`])/g, 4],
    // Short returns are values, not messages (e.g. "timed out", a failure's detail).
    [/\breturn (?=["`])/g, 4],
  ];
  for (const file of SOURCES) {
    const source = readFileSync(join(ROOT, "src/reporter", file), "utf8");
    for (const [pattern, fewestWords] of positions) {
      for (const match of source.matchAll(pattern)) {
        const message = literalAt(source, match.index + match[0].length);
        if (message.split(" ").length >= fewestWords) found.add(message);
      }
    }
  }
  return [...found];
}

test("finds the reporter's messages (the extraction itself works)", () => {
  const messages = reporterMessages();
  expect(messages.length).toBeGreaterThanOrEqual(15);
  expect(messages).toContain(
    "refresh token rejected (401): ask IT for a new token, then update it in Claude Code's plugin settings",
  );
  expect(messages).toContain("…: receiver not reachable (…); will retry");
});

test.each(reporterMessages())("explains: %s", (message) => {
  // A message's fixed parts, in order, inside one backticked cell of the document.
  const cells = [...DOC.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/<what>/g, "…"));
  const pieces = message.split("…").filter((piece) => piece.trim().length > 0);
  const explained = cells.some((cell) => {
    let at = 0;
    for (const piece of pieces) {
      at = cell.indexOf(piece, at);
      if (at < 0) return false;
      at += piece.length;
    }
    return true;
  });
  expect(explained).toBe(true);
});
