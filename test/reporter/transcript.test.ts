import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ledger } from "../../src/reporter/ledger.ts";
import { type ResponseUsage, scanChunk } from "../../src/reporter/transcript.ts";
import {
  advisorIteration,
  apiErrorLine,
  assistant,
  expectedTotals,
  FIXTURES,
  FIXTURES_MISSING,
  HAVE_FIXTURES,
  jsonl,
  type ModelCounts,
  progressCopy,
  transientLimitLine,
  usageLimitLine,
  userLine,
} from "./helpers.ts";
import { addCounts, countsOf } from "./session.ts";

type Totals = ModelCounts;

/** Totals of a whole file read at once. */
function countWhole(bytes: Uint8Array): Totals {
  const totals: Totals = {};
  for (const response of scanChunk(bytes, false).responses.values())
    addCounts(totals, response.model, response.usage);
  return totals;
}

/** Totals of a file read in pieces cut at the given byte positions, through the ledger. */
function countInPieces(bytes: Uint8Array, cuts: number[], ledger = new Ledger()): Totals {
  const totals: Totals = {};
  let offset = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end <= offset) continue;
    const scan = scanChunk(bytes.subarray(offset, end), false);
    for (const response of scan.responses.values()) {
      const contribution = ledger.take(response);
      if (contribution) addCounts(totals, response.model, contribution.delta);
    }
    offset += scan.consumed;
  }
  return totals;
}

describe("the counting rule on the shared real transcripts", () => {
  if (!HAVE_FIXTURES) {
    test.skip(FIXTURES_MISSING, () => {});
    return;
  }
  const expected = expectedTotals();
  test("the fixture list holds all ten transcripts", () => {
    expect(Object.keys(expected)).toHaveLength(10);
  });
  for (const [file, totals] of Object.entries(expected)) {
    const bytes = () => new Uint8Array(readFileSync(join(FIXTURES, file)));
    test(`${file}: read at once, totals equal expected-totals.json`, () => {
      expect(countsOf(countWhole(bytes()))).toEqual(totals);
    });
    test(`${file}: read in 37 random pieces, each message counted once with its final usage`, () => {
      const data = bytes();
      // A fixed seed keeps a failure reproducible.
      let seed = data.length;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const cuts = Array.from({ length: 36 }, () => Math.floor(random() * data.length)).sort((a, b) => a - b);
      expect(countsOf(countInPieces(data, cuts))).toEqual(totals);
    });
  }
  test("reading a file line by line gives the same totals as reading it at once", () => {
    const data = new Uint8Array(readFileSync(join(FIXTURES, "fasthooks/sample_main_transcript.jsonl")));
    const cuts: number[] = [];
    for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) cuts.push(i + 1);
    expect(countInPieces(data, cuts)).toEqual(countWhole(data));
  });
});

const encode = (text: string) => new TextEncoder().encode(text);

describe("hand-made edge cases", () => {
  test("streaming snapshots: the line with the largest output counts, the later one on a tie", () => {
    const text = jsonl(
      assistant({ id: "m1", output: 3, input: 7 }),
      assistant({ id: "m1", output: 90, input: 7 }),
      assistant({ id: "m1", output: 40, input: 7 }),
      assistant({ id: "m2", output: 8, cacheRead: 1 }),
      assistant({ id: "m2", output: 8, cacheRead: 2 }),
    );
    const scan = scanChunk(encode(text), false);
    expect(
      [...scan.responses.values()].map((r) => [r.key.split("\u0000")[0], r.usage.output_tokens]),
    ).toEqual([
      ["m1", 90],
      ["m2", 8],
    ]);
    expect(scan.responses.get("m2\u0000req_m2")?.usage.cache_read_tokens).toBe(2);
  });

  test("a half-written last line is not consumed, and is counted once when complete", () => {
    const full = assistant({ id: "m1", output: 50 });
    const first = `${jsonl(assistant({ id: "m0", output: 1 }))}${full.slice(0, 40)}`;
    const scan = scanChunk(encode(first), false);
    expect(scan.consumed).toBe(jsonl(assistant({ id: "m0", output: 1 })).length);
    expect([...scan.responses.keys()]).toEqual(["m0\u0000req_m0"]);
    const rest = `${full.slice(0, 40)}${full.slice(40)}\n`;
    const next = scanChunk(encode(rest), false);
    expect(next.responses.get("m1\u0000req_m1")?.usage.output_tokens).toBe(50);
    expect(next.consumed).toBe(encode(rest).length);
  });

  test("a message whose lines straddle two reads is counted once, with its final usage", () => {
    const ledger = new Ledger();
    const first = scanChunk(
      encode(jsonl(assistant({ id: "m1", output: 10, input: 4, cacheWrite: 30 }))),
      false,
    );
    const second = scanChunk(
      encode(jsonl(assistant({ id: "m1", output: 25, input: 4, cacheWrite: 30 }))),
      false,
    );
    const deltas = [...first.responses.values(), ...second.responses.values()].map((r) => ledger.take(r));
    expect(deltas[0]).toMatchObject({
      isNew: true,
      delta: { output_tokens: 10, input_tokens: 4, cache_write_tokens: 30 },
    });
    // Only the growth is new; the input and cache writes were already counted.
    expect(deltas[1]).toMatchObject({
      isNew: false,
      delta: { output_tokens: 15, input_tokens: 0, cache_write_tokens: 0 },
    });
    // An earlier snapshot arriving afterwards adds nothing.
    const stale = scanChunk(encode(jsonl(assistant({ id: "m1", output: 12 }))), false);
    expect(ledger.take([...stale.responses.values()][0] as ResponseUsage)).toBeNull();
  });

  test("lines that are not UTF-8 or not JSON are skipped and reading goes on", () => {
    const good = jsonl(assistant({ id: "m1", output: 7 }));
    const badUtf8 = Buffer.concat([
      Buffer.from('{"type":"assistant","usage":"\xff'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}\n'),
    ]);
    const notJson = Buffer.from('{"type":"assistant","message":{"usage": {\n');
    const bytes = Buffer.concat([
      badUtf8,
      notJson,
      Buffer.from(good),
      Buffer.from(jsonl(assistant({ id: "m2" }))),
    ]);
    const scan = scanChunk(new Uint8Array(bytes), false);
    expect(scan.skipped).toBe(2);
    expect([...scan.responses.keys()]).toEqual(["m1\u0000req_m1", "m2\u0000req_m2"]);
    expect(scan.consumed).toBe(bytes.length);
  });

  test("<synthetic> is not a model, and progress and toolUseResult copies never count", () => {
    const real = assistant({ id: "m1", output: 5 });
    const text = jsonl(
      assistant({ id: "m0", model: "<synthetic>", output: 999 }),
      progressCopy(assistant({ id: "sub1", output: 500 })),
      JSON.stringify({
        type: "user",
        toolUseResult: { usage: { input_tokens: 1, output_tokens: 77 } },
        message: {},
      }),
      userLine(),
      real,
    );
    const scan = scanChunk(encode(text), false);
    expect([...scan.responses.keys()]).toEqual(["m1\u0000req_m1"]);
  });

  test("sidechain lines and sub-agent files are the sub-agent part; the cache split and version are kept", () => {
    const text = jsonl(
      assistant({ id: "m1", sidechain: true, split: [15, 5], cacheWrite: 20, version: "1.0.98" }),
      assistant({ id: "m2" }),
    );
    const main = [...scanChunk(encode(text), false).responses.values()];
    expect(main.map((r) => r.subagent)).toEqual([true, false]);
    expect(main[0]).toMatchObject({
      hasCacheSplit: true,
      claudeCodeVersion: "1.0.98",
      usage: { cache_write_5m_tokens: 15, cache_write_1h_tokens: 5 },
    });
    expect(main[1]?.hasCacheSplit).toBe(false);
    const inAgentFile = [...scanChunk(encode(jsonl(assistant({ id: "m3" }))), true).responses.values()];
    expect(inAgentFile[0]?.subagent).toBe(true);
  });

  test("the same response in two files (a forked session) is counted once", () => {
    const ledger = new Ledger();
    const history = jsonl(assistant({ id: "m1", output: 9 }), assistant({ id: "m2", output: 4 }));
    const original = countInPieces(encode(history), [], ledger);
    const fork = countInPieces(encode(history + jsonl(assistant({ id: "m3", output: 6 }))), [], ledger);
    expect(original["claude-opus-4-6"]?.output_tokens).toBe(13);
    expect(fork["claude-opus-4-6"]?.output_tokens).toBe(6);
  });

  test("the ledger stays bounded, forgetting the least recently touched responses first", () => {
    const ledger = new Ledger("", 3);
    const response = (id: string) =>
      [...scanChunk(encode(jsonl(assistant({ id }))), false).responses.values()][0] as ResponseUsage;
    for (const id of ["a", "b", "c"]) ledger.take(response(id));
    ledger.take({ ...response("a"), usage: { ...response("a").usage, output_tokens: 6 } });
    ledger.take(response("d"));
    expect(ledger.size).toBe(3);
    // "b" was the oldest untouched entry: it was forgotten and counts as new again; "a" was kept.
    expect(ledger.take(response("b"))?.isNew).toBe(true);
    expect(ledger.take(response("a"))).toBeNull();
    // The stored form round-trips.
    const copy = new Ledger(ledger.toJSON(), 3);
    expect(copy.take(response("a"))).toBeNull();
  });
});

describe("usage-limit lines", () => {
  const limitsOf = (text: string, inSubagentFile = false) => scanChunk(encode(text), inSubagentFile).limits;

  test("the synthetic usage-limit line is a limit hit with its type, reset and overage status", () => {
    const hits = limitsOf(
      jsonl(
        assistant({ id: "m1" }),
        usageLimitLine({
          uuid: "u-1",
          timestamp: "2026-05-11T03:04:05.678Z",
          limitType: "seven_day_opus",
          resetsAt: 1_778_500_000,
          overageStatus: "allowed_warning",
        }),
      ),
    );
    expect(hits).toEqual([
      {
        key: "limit\u0000u-1",
        timestamp: "2026-05-11T03:04:05.678Z",
        limitType: "seven_day_opus",
        resetsAt: 1_778_500_000_000,
        overageStatus: "allowed_warning",
      },
    ]);
  });

  test("transient 429s, 'Request rejected (429)', credit refusals, org pauses and sub-agents are not limit hits", () => {
    const credits = apiErrorLine({
      fields: {
        error: "rate_limit",
        apiError: "model_requires_usage_credits",
        apiErrorParams: {
          rate_limit_info: { status: "rejected", rateLimitType: "seven_day_overage_included" },
        },
      },
    });
    const rejected = apiErrorLine({
      text: "API Error: Request rejected (429) · this may be a temporary capacity issue.",
      fields: { apiErrorStatus: 429, error: "rate_limit", apiErrorIsTransient: false },
    });
    const text = jsonl(
      transientLimitLine(),
      rejected,
      credits,
      usageLimitLine({ info: { dailyCapPaused: true } }),
      usageLimitLine({ sidechain: true }),
      usageLimitLine({ info: { status: "allowed_warning" } }),
    );
    expect(limitsOf(text)).toEqual([]);
    expect(limitsOf(jsonl(usageLimitLine()), true)).toEqual([]);
  });

  test("a limit line with broken parts keeps what is sound; a broken line is skipped alone", () => {
    const odd = usageLimitLine({ uuid: "u-odd", limitType: "Five Hours!", info: { resetsAt: "8am" } });
    const notJson = '{"type":"assistant","isApiErrorMessage":true,"apiError":"usage_limit_reached",\n';
    const paramsNotObject = apiErrorLine({
      fields: { error: "rate_limit", apiError: "usage_limit_reached", apiErrorParams: "rejected" },
    });
    const noUuid = JSON.stringify({ ...JSON.parse(usageLimitLine()), uuid: 7 });
    const scan = scanChunk(encode(jsonl(odd) + notJson + jsonl(paramsNotObject, noUuid)), false);
    expect(scan.limits).toEqual([
      {
        key: "limit\u0000u-odd",
        timestamp: expect.any(String),
        limitType: "",
        resetsAt: null,
        overageStatus: "rejected",
      },
    ]);
    expect(scan.skipped).toBe(1);
  });
});

describe("what Claude Code 2.1 adds to usage", () => {
  const one = (line: string) => [...scanChunk(encode(jsonl(line)), false).responses.values()];

  test("advisor iterations count under their own model; other iterations are in the top level or unbilled", () => {
    const line = assistant({
      id: "m1",
      model: "claude-sonnet-4-6",
      input: 10,
      output: 20,
      cacheRead: 30,
      cacheWrite: 0,
      iterations: [
        { type: "message", input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 30 },
        advisorIteration("claude-opus-4-6", 1_000, 200, 3_000, 40),
        { type: "fallback_message", model: "claude-haiku-4-5", input_tokens: 9, output_tokens: 9 },
        { type: "compaction", input_tokens: 5, output_tokens: 5 },
      ],
    });
    const totals: ModelCounts = {};
    for (const response of one(line)) addCounts(totals, response.model, response.usage);
    expect(countsOf(totals)).toEqual({
      "claude-sonnet-4-6": {
        input_tokens: 10,
        output_tokens: 20,
        cache_read_tokens: 30,
        cache_write_tokens: 0,
      },
      "claude-opus-4-6": {
        input_tokens: 1_000,
        output_tokens: 200,
        cache_read_tokens: 3_000,
        cache_write_tokens: 40,
      },
    });
  });

  test("an advisor call is counted once over streaming snapshots and split reads", () => {
    const early = assistant({ id: "m1", output: 1 });
    const final = assistant({ id: "m1", output: 9, iterations: [advisorIteration("claude-advisor", 50, 7)] });
    const data = encode(jsonl(early, final, final));
    const totals = countInPieces(data, [early.length + 1, early.length + final.length + 2]);
    expect(totals["claude-opus-4-6"]).toMatchObject({ input_tokens: 10, output_tokens: 9 });
    expect(totals["claude-advisor"]).toMatchObject({ input_tokens: 50, output_tokens: 7 });
  });

  test("broken iterations are skipped alone; the response itself still counts", () => {
    const line = assistant({
      id: "m1",
      output: 3,
      iterations: [null, "advisor", { type: "advisor_message" }, { type: "advisor_message", model: 7 }],
    });
    expect(one(line).map((r) => [r.model, r.usage.output_tokens])).toEqual([["claude-opus-4-6", 3]]);
  });

  test("the 5m/1h split is clamped as Claude Code clamps it: 1h ≤ total, 5m ≤ total − 1h", () => {
    const split = (cacheWrite: number, fiveMinute: number, oneHour: number) => {
      const usage = one(assistant({ id: "m", cacheWrite, split: [fiveMinute, oneHour] }))[0]?.usage;
      return [usage?.cache_write_5m_tokens, usage?.cache_write_1h_tokens];
    };
    expect(split(100, 30, 70)).toEqual([30, 70]);
    expect(split(100, 50, 80)).toEqual([20, 80]);
    expect(split(100, 40, 150)).toEqual([0, 100]);
    expect(split(0, 10, 10)).toEqual([0, 0]);
  });
});
