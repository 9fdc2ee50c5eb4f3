// Graceful stop: SIGTERM while signed reports are flowing. Requests whose bytes were already
// written to the receiver's socket when the signal went must each get a whole HTTP answer (no
// reset, no silence), what they were told was stored must be stored, and the process must exit 0
// within 5 s.
import { afterAll, expect, test } from "bun:test";
import { createConnection } from "node:net";
import { toRfc3339 } from "../../src/protocol/index.ts";
import { signHeaders } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { checkDatabase, Load, provision, rng, rowKey, type User } from "./support.ts";

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  receiver?.cleanup();
});

/** A signed /report as raw HTTP/1.1 bytes. */
function rawReport(port: number, user: User, session: string, turn: number): string {
  const body = JSON.stringify({
    schema_version: 1,
    session_id: session,
    user_email: user.email,
    turn_index: turn,
    timestamp_utc: toRfc3339(Date.now()),
    models: {
      "claude-sonnet-4-5": { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 },
    },
  });
  const headers = signHeaders(body, user.device);
  return [
    "POST /report HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Content-Type: application/json",
    `Authorization: Bearer ${user.accessToken}`,
    `X-CCFLUX-Timestamp: ${headers["X-CCFLUX-Timestamp"]}`,
    `X-CCFLUX-Signature: ${headers["X-CCFLUX-Signature"]}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n");
}

interface Outcome {
  status: number | null;
  error: string | null;
}

/**
 * Opens a connection and writes the request up to `cut` bytes, resolving `written` once they are
 * flushed; `finish()` writes the rest (a request still arriving when the signal comes).
 */
function inFlight(
  port: number,
  request: string,
  cut = request.length,
): { written: Promise<void>; answer: Promise<Outcome>; finish: () => void } {
  let finish: () => void = () => {};
  let onWritten: () => void = () => {};
  const written = new Promise<void>((resolve) => {
    onWritten = resolve;
  });
  const answer = new Promise<Outcome>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => {
      socket.write(request.slice(0, cut), () => onWritten());
      finish = () => {
        if (cut < request.length) socket.write(request.slice(cut));
      };
    });
    let data = "";
    socket.on("data", (chunk) => {
      data += chunk.toString();
      const head = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n/.exec(data);
      const length = /content-length: (\d+)/i.exec(data);
      if (head && length && data.length >= head[0].length + Number(length[1])) {
        socket.destroy();
        resolve({ status: Number(head[1]), error: null });
      }
    });
    socket.on("error", (error) =>
      resolve({ status: null, error: (error as NodeJS.ErrnoException).code ?? "error" }),
    );
    socket.on("close", () => resolve({ status: null, error: `closed after ${data.length} bytes` }));
  });
  return { written, answer, finish: () => finish() };
}

test("SIGTERM under load: requests already sent are answered, exit 0 within 5 s", async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: { REQUIRE_SIGNATURES: "1", RATE_LIMIT_PER_MINUTE: "100000", TIER_INFERENCE_INTERVAL_SECS: "3600" },
  });
  const users = await provision(receiver, 20);
  const load = new Load(receiver.url, users, rng(6002), 8);
  load.start();
  await Bun.sleep(1500);
  expect(load.acked.size).toBeGreaterThan(100);

  // 32 requests on their own connections: half wholly written before the signal, half with only
  // their headers and part of the body written, the rest following 100 ms after the signal.
  const requests = users
    .flatMap((user, i) => [0, 1].map((turn) => ({ user, session: `graceful-${i}`, turn })))
    .slice(0, 32);
  const flights = requests.map((r, i) => {
    const raw = rawReport(receiver!.port, r.user, r.session, r.turn);
    return inFlight(receiver!.port, raw, i % 2 === 0 ? raw.length : raw.length - 40);
  });
  await Promise.all(flights.map((f) => f.written));
  const signalled = performance.now();
  receiver.proc.kill("SIGTERM");
  await Bun.sleep(100);
  for (const f of flights) f.finish();
  const code = await receiver.proc.exited;
  const seconds = (performance.now() - signalled) / 1000;
  const outcomes = await Promise.all(flights.map((f) => f.answer));
  await load.stop();

  expect(code).toBe(0);
  expect(seconds).toBeLessThan(5);
  expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
  // What was acknowledged, on any connection, is in the file once.
  for (const r of requests)
    load.acked.set(rowKey(r.user.email, r.session, r.turn, "claude-sonnet-4-5"), {
      input_tokens: 1,
      output_tokens: 2,
      cache_read_tokens: 3,
      cache_write_tokens: 4,
    });
  expect(checkDatabase(receiver, load.acked).slice(0, 20)).toEqual([]);
  expect(receiver.output()).toMatch(/stopped/);
  console.log(
    `graceful stop: exit ${code} after ${seconds.toFixed(2)} s; background load ${JSON.stringify(Object.fromEntries(load.statuses))}`,
  );
}, 60_000);
