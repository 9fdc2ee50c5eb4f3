// A handler that throws must not take the receiver down: 500 with a JSON body, one log line, and
// the next request is served. The failure is injected into a real app on a real database.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/receiver/app.ts";
import { loadConfig } from "../../src/receiver/config.ts";
import type { ReceiverContext } from "../../src/receiver/context.ts";
import { Store } from "../../src/receiver/db/store.ts";
import { createLogger } from "../../src/receiver/log.ts";
import { Metrics } from "../../src/receiver/metrics.ts";
import { RateLimiter } from "../../src/receiver/rate-limit.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a failing handler answers 500 with a JSON body and one log line; the app goes on", async () => {
  const config = loadConfig({ DATABASE_PATH: join(dir, "ccflux.db") });
  const lines: string[] = [];
  const store = Store.open(config);
  const ctx: ReceiverContext = {
    config,
    store,
    log: createLogger({ write: (line) => lines.push(line), flush: () => {} }),
    metrics: new Metrics(),
    limiter: new RateLimiter(30),
    personLimiter: new RateLimiter(60),
  };
  const app = createApp(ctx);
  const tokens = store.services().tokens;
  const exchange = tokens.exchange;
  tokens.exchange = () => {
    throw new TypeError("injected failure");
  };
  const response = await app.handle(
    new Request("http://localhost/token", { method: "POST", headers: { Authorization: "Bearer rtok_x" } }),
  );
  expect(response.status).toBe(500);
  expect(response.headers.get("x-ccflux-error")).toBe("internal");
  expect(await response.json()).toMatchObject({ error: "internal" });
  expect(lines.filter((line) => line.includes("request failed"))).toHaveLength(1);
  expect(lines.join("")).toContain("error=TypeError");
  expect(lines.join("")).not.toContain("rtok_x");

  tokens.exchange = exchange;
  const health = await app.handle(new Request("http://localhost/health"));
  expect(health.status).toBe(200);
  store.close();
});
