import { afterEach, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SEEN_DAYS, SeenResponses } from "../../src/reporter/seen.ts";
import { type ResponseUsage, scanChunk } from "../../src/reporter/transcript.ts";
import { assistant, jsonl, tempDir } from "./helpers.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-12-02T06:00:00Z");
let folder: ReturnType<typeof tempDir>;
afterEach(() => folder?.remove());

function response(id: string, timestamp: string, requestId?: string): ResponseUsage {
  const line = jsonl(assistant({ id, timestamp, requestId }));
  return [...scanChunk(new TextEncoder().encode(line), false).responses.values()][0] as ResponseUsage;
}

test("counted message ids are kept per UTC day of the response and found again under another requestId", () => {
  folder = tempDir();
  const dir = join(folder.dir, "seen");
  const first = new SeenResponses(dir, NOW);
  expect(first.claim(response("msg_a", "2026-12-01T23:59:00Z"))).toBe(false);
  expect(first.claim(response("msg_b", "2026-12-02T05:00:00Z"))).toBe(false);
  expect(first.claim(response("msg_b", "2026-12-02T05:00:00Z"))).toBe(true);
  // The same instant written with an offset is the same UTC day.
  expect(first.claim(response("msg_b", "2026-12-02T07:00:00+02:00", "req_x"))).toBe(true);
  first.save();
  expect(readdirSync(dir).sort()).toEqual(["2026-12-01.bin", "2026-12-02.bin"]);
  // 8 bytes per distinct id.
  expect(statSync(join(dir, "2026-12-02.bin")).size).toBe(8);
  const later = new SeenResponses(dir, NOW + DAY);
  expect(later.claim(response("msg_b", "2026-12-02T05:00:00Z", "req_other"))).toBe(true);
  expect(later.claim(response("msg_a", "2026-12-01T23:59:00Z", "req_other"))).toBe(true);
  expect(later.claim(response("msg_c", "2026-12-02T05:00:00Z"))).toBe(false);
  // Another day's file is not searched: the copy keeps its response's own timestamp.
  expect(later.claim(response("msg_b", "2026-11-02T05:00:00Z"))).toBe(false);
});

test("stays bounded: days older than SEEN_DAYS are deleted, undated and far-future responses never filed", () => {
  folder = tempDir();
  const dir = join(folder.dir, "seen");
  mkdirSync(dir, { recursive: true });
  const old = new Date(NOW - (SEEN_DAYS + 1) * DAY).toISOString().slice(0, 10);
  const kept = new Date(NOW - (SEEN_DAYS - 1) * DAY).toISOString().slice(0, 10);
  for (const day of [old, kept]) writeFileSync(join(dir, `${day}.bin`), new Uint8Array(8));
  writeFileSync(join(dir, "notes.txt"), "not ours");
  const seen = new SeenResponses(dir, NOW);
  seen.claim(response("msg_undated", ""));
  seen.claim(response("msg_future", "2030-01-01T00:00:00Z"));
  seen.claim(response("msg_ancient", `${old}T12:00:00Z`));
  seen.save();
  // Nothing filed, so nothing written (and no pruning either: that comes with the next write).
  expect(readdirSync(dir).sort()).toEqual([`${old}.bin`, `${kept}.bin`, "notes.txt"].sort());
  seen.claim(response("msg_now", "2026-12-02T05:00:00Z"));
  seen.save();
  expect(existsSync(join(dir, `${old}.bin`))).toBe(false);
  expect(readdirSync(dir).sort()).toEqual([`${kept}.bin`, "2026-12-02.bin", "notes.txt"].sort());
  expect(seen.claim(response("msg_undated", ""))).toBe(false);
});

test("a day file cut mid-record (a crash while appending) loses only that record", () => {
  folder = tempDir();
  const dir = join(folder.dir, "seen");
  const first = new SeenResponses(dir, NOW);
  first.claim(response("msg_a", "2026-12-02T05:00:00Z"));
  first.save();
  appendFileSync(join(dir, "2026-12-02.bin"), "abc");
  const second = new SeenResponses(dir, NOW);
  expect(second.claim(response("msg_a", "2026-12-02T05:00:00Z"))).toBe(true);
  second.claim(response("msg_b", "2026-12-02T05:00:00Z"));
  second.save();
  expect(statSync(join(dir, "2026-12-02.bin")).size).toBe(16);
  const third = new SeenResponses(dir, NOW);
  for (const id of ["msg_a", "msg_b"]) expect(third.claim(response(id, "2026-12-02T05:00:00Z"))).toBe(true);
});
