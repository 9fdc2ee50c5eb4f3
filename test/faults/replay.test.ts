// Replay after five minutes: a report (or limit event) signed with a timestamp more than 300 s
// from the receiver's clock is refused as timestamp-stale and stores nothing, whichever way the
// clock is off. (A captured report re-sent within five minutes is covered in api.test.ts.)
import { afterAll, expect, test } from "bun:test";
import { toRfc3339 } from "../../src/protocol/index.ts";
import { Client, report } from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";
import { provision } from "./support.ts";

let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
});

/** The header holds whole seconds: round away from now, so truncation never moves a time towards the 300 s line. */
function signedAt(offsetSeconds: number): string {
  const at = Date.now() + offsetSeconds * 1000;
  return toRfc3339((offsetSeconds < 0 ? Math.floor(at / 1000) : Math.ceil(at / 1000)) * 1000);
}

test("a signature 301 s old or ahead is timestamp-stale and stores nothing; 290 s is accepted", async () => {
  receiver = await startReceiver({ env: { REQUIRE_SIGNATURES: "1" } });
  const [user] = await provision(receiver, 1);
  const client = new Client(receiver.url);
  const body = report({ session_id: "replay", turn_index: 0 });
  for (const offset of [-301, 301, -3600, -86_400 * 400]) {
    const response = await client.send(user!.accessToken, body, user!.device, "/report", signedAt(offset));
    expect(response.status).toBe(403);
    expect(response.headers.get("X-CCFLUX-Error")).toBe("timestamp-stale");
    const event = {
      schema_version: 2,
      session_id: "replay",
      timestamp_utc: toRfc3339(Date.now()),
      kind: "rate_limit",
    };
    const limit = await client.send(user!.accessToken, event, user!.device, "/limit-event", signedAt(offset));
    expect(limit.status).toBe(403);
    expect(limit.headers.get("X-CCFLUX-Error")).toBe("timestamp-stale");
  }
  expect(
    receiver.sql("SELECT (SELECT count(*) FROM usage_events) + (SELECT count(*) FROM limit_events);"),
  ).toBe("0");
  // The boundary is real: the same captured report inside the window is stored.
  const fresh = await client.send(
    user!.accessToken,
    body,
    user!.device,
    "/report",
    toRfc3339(Date.now() - 290_000),
  );
  expect(fresh.status).toBe(200);
  expect(receiver.sql("SELECT count(*) FROM usage_events;")).toBe("1");
});
