import { expect, test } from "bun:test";
import { RateLimiter } from "../../src/receiver/rate-limit.ts";

test("passes `limit` requests in any 60 s and refuses the next, with the seconds until one frees", () => {
  const limiter = new RateLimiter(3);
  expect(limiter.check("k", 0).allowed).toBe(true);
  expect(limiter.check("k", 10_000).allowed).toBe(true);
  expect(limiter.check("k", 20_000).allowed).toBe(true);
  expect(limiter.check("k", 30_000)).toEqual({ allowed: false, retryAfterSecs: 30 });
  expect(limiter.check("k", 59_999).allowed).toBe(false);
  expect(limiter.check("k", 60_000).allowed).toBe(true); // the request at 0 left the window
  expect(limiter.check("k", 60_001).allowed).toBe(false);
});

test("is a sliding window: no burst of 2× across a minute boundary", () => {
  const limiter = new RateLimiter(30);
  let passed = 0;
  for (let i = 0; i < 30; i++) if (limiter.check("k", 59_000 + i).allowed) passed++;
  for (let i = 0; i < 30; i++) if (limiter.check("k", 61_000 + i).allowed) passed++;
  expect(passed).toBe(30);
});

test("refused requests do not use up the budget", () => {
  const limiter = new RateLimiter(1);
  expect(limiter.check("k", 0).allowed).toBe(true);
  for (let t = 1; t < 60_000; t += 1000) expect(limiter.check("k", t).allowed).toBe(false);
  expect(limiter.check("k", 60_000).allowed).toBe(true);
});

test("keys are independent", () => {
  const limiter = new RateLimiter(1);
  expect(limiter.check("a", 0).allowed).toBe(true);
  expect(limiter.check("b", 0).allowed).toBe(true);
  expect(limiter.check("a", 1).allowed).toBe(false);
});

test("a flood of distinct keys never tracks more than maxKeys; the least recently seen go first", () => {
  const limiter = new RateLimiter(1, 100);
  expect(limiter.check("kept", 0).allowed).toBe(true);
  for (let i = 0; i < 10_000; i++) {
    limiter.check(`random-${i}`, 1);
    if (i % 50 === 0) limiter.check("kept", 2); // seen again: stays tracked, stays limited
  }
  expect(limiter.size).toBe(100);
  expect(limiter.check("kept", 3).allowed).toBe(false);
});

test("a long-running busy key keeps only the last minute", () => {
  const limiter = new RateLimiter(1_000_000);
  for (let t = 0; t < 600_000; t += 5) limiter.check("busy", t);
  // 12,000 passed in the last 60 s; the other 108,000 instants are gone.
  const internal = (limiter as unknown as { logs: Map<string, { times: number[]; head: number }> }).logs.get(
    "busy",
  )!;
  expect(internal.times.length - internal.head).toBe(12_000);
  expect(internal.times.length).toBeLessThan(24_100);
});

test("peek tells what check would decide, and records nothing", () => {
  const limiter = new RateLimiter(2);
  expect(limiter.peek("k", 0)).toEqual({ allowed: true, retryAfterSecs: 0 });
  for (let i = 0; i < 10; i++) limiter.peek("k", i);
  expect(limiter.check("k", 10).allowed).toBe(true);
  expect(limiter.check("k", 20).allowed).toBe(true);
  expect(limiter.peek("k", 30)).toEqual({ allowed: false, retryAfterSecs: 60 });
  expect(limiter.peek("k", 60_010).allowed).toBe(true); // the check at 10 left the window
  expect(limiter.check("k", 60_010).allowed).toBe(true);
});
