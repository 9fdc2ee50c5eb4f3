// A sliding log per token: a request passes when fewer than `limit` passed in the last 60 s.
// Exact over any 60 s (a fixed window would let 2× through at its edge). Memory is bounded:
// at most `maxKeys` tokens are tracked (the least recently seen go first) and each holds at most
// `limit` instants, all of them from the last minute.

const WINDOW_MS = 60_000;

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole seconds until a request would pass; 0 when allowed. */
  retryAfterSecs: number;
}

function refusal(oldest: number, now: number): RateLimitDecision {
  return { allowed: false, retryAfterSecs: Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000)) };
}

/** Instants of passed requests, oldest first; `head` skips expired ones without shifting. */
interface Log {
  times: number[];
  head: number;
}

export class RateLimiter {
  private readonly logs = new Map<string, Log>();

  constructor(
    private readonly limit: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Records the request when it passes. The key is a digest of the token, never the token. */
  check(key: string, now: number): RateLimitDecision {
    let log = this.logs.get(key);
    if (log) {
      this.logs.delete(key); // re-inserted below: Map order doubles as least-recently-seen order
      while (log.head < log.times.length && log.times[log.head]! <= now - WINDOW_MS) log.head++;
      if (log.head > 64 && log.head * 2 > log.times.length) {
        log.times = log.times.slice(log.head);
        log.head = 0;
      }
    } else {
      log = { times: [], head: 0 };
      if (this.logs.size >= this.maxKeys) this.logs.delete(this.logs.keys().next().value!);
    }
    this.logs.set(key, log);
    if (log.times.length - log.head >= this.limit) return refusal(log.times[log.head]!, now);
    log.times.push(now);
    return { allowed: true, retryAfterSecs: 0 };
  }

  /** The decision `check` would make now, recording nothing (for counting only failures). */
  peek(key: string, now: number): RateLimitDecision {
    const log = this.logs.get(key);
    if (!log) return { allowed: true, retryAfterSecs: 0 };
    let head = log.head;
    while (head < log.times.length && log.times[head]! <= now - WINDOW_MS) head++;
    return log.times.length - head >= this.limit
      ? refusal(log.times[head]!, now)
      : { allowed: true, retryAfterSecs: 0 };
  }

  get size(): number {
    return this.logs.size;
  }
}
