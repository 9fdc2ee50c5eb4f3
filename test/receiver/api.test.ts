// Every status and X-CCFLUX-Error code of docs/protocol.md §3, the order of the checks, and the v2 extras
// (delivery numbers among them: v1 answers unchanged, delivery_held kept beside the key).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TIMESTAMP_TOLERANCE_SECS, toRfc3339, toSqlTime } from "../../src/protocol/index.ts";
import { MAX_DEVICE_KEYS_PER_PERSON } from "../../src/receiver/keys/service.ts";
import { MAX_LIMIT_EVENTS_PER_DAY } from "../../src/receiver/reports/limit-event-cap.ts";
import { MAX_MODELS_PER_USER } from "../../src/receiver/reports/model-names.ts";
import { EVENT_HORIZON_DAYS, RESET_HORIZON_DAYS } from "../../src/receiver/reports/service.ts";
import {
  Client,
  type Device,
  guideInsert,
  guideToken,
  newDevice,
  report,
  signHeaders,
} from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

/** A recent UTC day, so fixed event times stay within the receiver's horizon (EVENT_HORIZON_DAYS). */
const RECENT = new Date(Date.now() - 5 * 86_400_000).toISOString().slice(0, 10);

let receiver: TestReceiver;
let client: Client;

/** A fresh user with an access token and a registered device (its own rate-limit budget). */
async function user(email = `u${crypto.randomUUID().slice(0, 8)}@example.org`) {
  const token = guideToken();
  receiver.sql(guideInsert(token, email));
  const access = await client.exchange(token);
  const device = newDevice();
  expect((await client.registerKey(access, device)).status).toBe(200);
  return { email, token, access, device };
}

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("x-ccflux-error")).toBe(code);
  const body = (await response.json()) as { error: string; message: string };
  expect(body.error).toBe(code);
  expect(body.message.length).toBeGreaterThan(10);
}

beforeAll(async () => {
  receiver = await startReceiver();
  client = new Client(receiver.url);
});
afterAll(async () => {
  await receiver.stop();
  receiver.cleanup();
});

describe("authorization", () => {
  test("no bearer, an unknown one, or another scheme: 401", async () => {
    await expectError(await client.post("/token", null), 401, "unauthorized");
    await expectError(await client.post("/token", "rtok_unknown"), 401, "unauthorized");
    await expectError(
      await client.post("/report", "not-a-token", JSON.stringify(report())),
      401,
      "unauthorized",
    );
    const basic = await fetch(`${receiver.url}/token`, {
      method: "POST",
      headers: { Authorization: "Basic abc" },
    });
    await expectError(basic, 401, "unauthorized");
  });

  test("the Bearer scheme is matched case-insensitively", async () => {
    const token = guideToken();
    receiver.sql(guideInsert(token, "case@example.org"));
    for (const scheme of ["bearer", "BEARER", "Bearer"]) {
      const response = await fetch(`${receiver.url}/token`, {
        method: "POST",
        headers: { Authorization: `${scheme} ${token}` },
      });
      expect(response.status).toBe(200);
    }
  });

  test("a time an admin typed in ISO form with a Z still compares correctly", async () => {
    const token = guideToken();
    const future = new Date(Date.now() + 86_400_000).toISOString();
    receiver.sql(
      `INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('${token}', 'iso@example.org', '${future}');`,
    );
    expect((await client.post("/token", token)).status).toBe(200);
    const past = guideToken();
    receiver.sql(
      `INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('${past}', 'iso@example.org', '2020-01-01T00:00:00Z');`,
    );
    expect((await client.post("/token", past)).status).toBe(401);
  });
});

describe("POST /register-key", () => {
  test("refuses a key that is not base64 of 32 bytes, and a device id over 255 characters", async () => {
    const { access, device } = await user();
    for (const key of [
      "",
      "abc",
      Buffer.alloc(31).toString("base64"),
      Buffer.alloc(33).toString("base64"),
      `${device.publicKey.slice(0, 43)}`,
      42,
    ]) {
      const response = await client.post(
        "/register-key",
        access,
        JSON.stringify({ public_key: key, device_id: "x" }),
      );
      await expectError(response, 400, "invalid-body");
    }
    const long = await client.post(
      "/register-key",
      access,
      JSON.stringify({ public_key: newDevice().publicKey, device_id: "d".repeat(256) }),
    );
    await expectError(long, 400, "invalid-body");
    const ok = await client.post(
      "/register-key",
      access,
      JSON.stringify({ public_key: newDevice().publicKey, device_id: "d".repeat(255) }),
    );
    expect(ok.status).toBe(200);
  });

  test("a key registered to another user: 409, and the row is left alone", async () => {
    const owner = await user("owner@example.org");
    const other = await user();
    await expectError(await client.registerKey(other.access, owner.device, "thief"), 409, "key-conflict");
    expect(
      receiver.sql(
        `SELECT email, device_id FROM device_keys WHERE public_key = '${owner.device.publicKey}';`,
      ),
    ).toBe("owner@example.org|laptop");
  });

  test("re-registering by the same user refreshes device_id and last_seen_at", async () => {
    const { access, device } = await user();
    receiver.sql(
      `UPDATE device_keys SET last_seen_at = '2020-01-01 00:00:00' WHERE public_key = '${device.publicKey}';`,
    );
    expect((await client.registerKey(access, device, "renamed")).status).toBe(200);
    expect(
      receiver.sql(
        `SELECT device_id, last_seen_at > '2026' FROM device_keys WHERE public_key = '${device.publicKey}';`,
      ),
    ).toBe("renamed|1");
  });

  test("needs no signature even when one is required", async () => {
    const strict = await startReceiver({ env: { REQUIRE_SIGNATURES: "yes" } });
    try {
      const token = guideToken();
      strict.sql(guideInsert(token, "new@example.org"));
      const c = new Client(strict.url);
      expect((await c.registerKey(await c.exchange(token), newDevice())).status).toBe(200);
    } finally {
      await strict.stop();
      strict.cleanup();
    }
  });
});

describe("POST /report validation", () => {
  const usage = { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 };
  const invalid: [string, unknown][] = [
    ["schema_version 3", report({ schema_version: 3 as 1 })],
    ["empty session_id", report({ session_id: "" })],
    ["session_id of 65 characters", report({ session_id: "s".repeat(65) })],
    ["negative turn_index", report({ turn_index: -1 })],
    ["fractional turn_index", report({ turn_index: 1.5 })],
    ["turn_index as a string", { ...report(), turn_index: "1" }],
    [
      "21 models",
      report({ models: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`m${i}`, usage])) }),
    ],
    ["empty model name", report({ models: { "": usage } })],
    ["model name of 129 characters", report({ models: { ["m".repeat(129)]: usage } })],
    ["a count over 10^10", report({ models: { m: { ...usage, output_tokens: 10_000_000_001 } } })],
    ["a negative count", report({ models: { m: { ...usage, input_tokens: -5 } } })],
    [
      "a missing count",
      report({ models: { m: { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3 } as typeof usage } }),
    ],
    ["models as an array", { ...report(), models: [usage] }],
    ["plugin_version of 65 characters", report({ plugin_version: "v".repeat(65) })],
    ["a JSON array", [report()]],
    ["null", null],
  ];
  for (const [name, body] of invalid) {
    test(`refuses ${name} with 400 and stores nothing`, async () => {
      const { access, device, email } = await user();
      await expectError(await client.send(access, body, device), 400, "invalid-body");
      expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}';`)).toBe("0");
    });
  }

  test("refuses a body that is not JSON or not UTF-8", async () => {
    const { access } = await user();
    await expectError(await client.post("/report", access, "{not json"), 400, "invalid-body");
    await expectError(
      await client.post("/report", access, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
      400,
      "invalid-body",
    );
  });

  test("accepts counts at their limits and ignores unknown fields", async () => {
    const { access, device } = await user("ok-limits@example.org");
    const body = {
      ...report({
        session_id: "s".repeat(64),
        models: { ["m".repeat(128)]: { ...usage, output_tokens: 10_000_000_000 } },
      }),
      extra_field: { nested: [1, 2, 3] },
    };
    expect((await client.send(access, body, device)).status).toBe(200);
    expect(
      receiver.sql("SELECT output_tokens FROM usage_events WHERE email = 'ok-limits@example.org';"),
    ).toBe("10000000000");
  });

  test("uses the receive time when timestamp_utc is empty, unparseable, far in the future or past the horizon", async () => {
    const { access, device, email } = await user();
    const future = toRfc3339(Date.now() + 3_600_000);
    const beyond = toRfc3339(Date.now() - (EVENT_HORIZON_DAYS + 1) * 86_400_000);
    const times = ["", "yesterday", future, "0000-01-01T00:00:00Z", "1000-01-01T00:00:00Z", beyond];
    for (const [i, timestamp] of times.entries()) {
      expect(
        (await client.send(access, report({ turn_index: i, timestamp_utc: timestamp }), device)).status,
      ).toBe(200);
    }
    const skew = receiver.sql(
      `SELECT max(abs(unixepoch(event_at) - unixepoch(received_at))) FROM usage_events WHERE email = '${email}';`,
    );
    expect(Number(skew)).toBeLessThanOrEqual(1);
    expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}';`)).toBe(
      String(times.length),
    );
    // A past time within the horizon is kept as the turn's time.
    const past = Math.floor((Date.now() - (EVENT_HORIZON_DAYS - 1) * 86_400_000) / 1000) * 1000;
    expect(
      (await client.send(access, report({ turn_index: 9, timestamp_utc: toRfc3339(past) }), device)).status,
    ).toBe(200);
    expect(
      receiver.sql(`SELECT event_at FROM usage_events WHERE email = '${email}' AND turn_index = 9;`),
    ).toBe(toSqlTime(past));
  });
  test("session_start_utc is kept only within the same bounds as event times, otherwise stored as unknown", async () => {
    const { access, device, email } = await user();
    const within = Math.floor((Date.now() - (EVENT_HORIZON_DAYS - 1) * 86_400_000) / 1000) * 1000;
    const starts = [
      toRfc3339(within),
      "0000-01-01T00:00:00Z",
      toRfc3339(Date.now() - (EVENT_HORIZON_DAYS + 1) * 86_400_000),
      toRfc3339(Date.now() + 3_600_000),
      "not a time",
    ];
    for (const [i, session_start_utc] of starts.entries()) {
      expect((await client.send(access, report({ turn_index: i, session_start_utc }), device)).status).toBe(
        200,
      );
    }
    expect(
      receiver.sql(
        `SELECT turn_index || ':' || ifnull(session_start_at, 'null') FROM usage_events WHERE email = '${email}' ORDER BY turn_index;`,
      ),
    ).toBe([`0:${toSqlTime(within)}`, "1:null", "2:null", "3:null", "4:null"].join("\n"));
  });
});

describe("distinct model names", () => {
  const usage = { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 };
  const models = (from: number, to: number) =>
    Object.fromEntries(Array.from({ length: to - from }, (_, i) => [`flood-${from + i}`, usage]));

  test(`a user's ${MAX_MODELS_PER_USER + 1}th model name: 400 too-many-models, nothing of that report stored`, async () => {
    const { access, device, email } = await user();
    expect((await client.send(access, report({ turn_index: 0, models: models(0, 20) }), device)).status).toBe(
      200,
    );
    expect(
      (await client.send(access, report({ turn_index: 1, models: models(20, 32) }), device)).status,
    ).toBe(200);
    const refused = report({ turn_index: 2, models: { ...models(0, 5), "flood-32": usage } });
    await expectError(await client.send(access, refused, device), 400, "too-many-models");
    expect(
      receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}' AND turn_index = 2;`),
    ).toBe("0");
    // Names the user already has keep working.
    expect((await client.send(access, report({ turn_index: 3, models: models(0, 20) }), device)).status).toBe(
      200,
    );
  });
});

describe("per-person bounds", () => {
  test(`at most ${MAX_DEVICE_KEYS_PER_PERSON} active device keys: the next is 403 too-many-devices`, async () => {
    const { access, device, email } = await user();
    for (let i = 1; i < MAX_DEVICE_KEYS_PER_PERSON; i++) {
      expect((await client.registerKey(access, newDevice(), `host-${i}`)).status).toBe(200);
    }
    const extra = newDevice();
    await expectError(await client.registerKey(access, extra, "one-too-many"), 403, "too-many-devices");
    expect(receiver.sql(`SELECT count(*) FROM device_keys WHERE email = '${email}';`)).toBe(
      String(MAX_DEVICE_KEYS_PER_PERSON),
    );
    // A key already registered still re-registers; a revoked one makes room.
    expect((await client.registerKey(access, device, "renamed")).status).toBe(200);
    receiver.sql(`UPDATE device_keys SET revoked = 1 WHERE email = '${email}' AND device_id = 'host-1';`);
    expect((await client.registerKey(access, extra, "replacement")).status).toBe(200);
  });

  test(`at most ${MAX_LIMIT_EVENTS_PER_DAY} new limit events in 24 hours: the next is 429 too-many-limit-events`, async () => {
    const { access, device, email } = await user();
    // All but one of the day's budget, as if sent over the last hours.
    receiver.sql(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${MAX_LIMIT_EVENTS_PER_DAY - 1})
       INSERT INTO limit_events (email, session_id, timestamp_utc, event_at, kind, received_at)
       SELECT '${email}', 'earlier', 'earlier-' || i, datetime('now', '-1 hour'), 'rate_limit', datetime('now', '-1 hour') FROM n;`,
    );
    const event = (n: number) => ({
      schema_version: 2,
      session_id: "today",
      timestamp_utc: toRfc3339(Date.now() - n * 1000),
      kind: "rate_limit",
    });
    expect((await client.send(access, event(1), device, "/limit-event")).status).toBe(200);
    const refused = await client.send(access, event(2), device, "/limit-event");
    expect(refused.headers.get("retry-after")).toBe("3600");
    await expectError(refused, 429, "too-many-limit-events");
    // A retry of a stored event is still answered as stored.
    const again = await client.send(access, event(1), device, "/limit-event");
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: "already-stored" });
    expect(receiver.sql(`SELECT count(*) FROM limit_events WHERE email = '${email}';`)).toBe(
      String(MAX_LIMIT_EVENTS_PER_DAY),
    );
    // Events older than a day do not count.
    receiver.sql(
      `UPDATE limit_events SET received_at = datetime('now', '-25 hours') WHERE email = '${email}';`,
    );
    expect((await client.send(access, event(3), device, "/limit-event")).status).toBe(200);
  });
});

describe("POST /report signatures", () => {
  async function signed(device: Device, body = JSON.stringify(report())) {
    return { body, headers: signHeaders(body, device) };
  }

  test("timestamp-missing: a signature without a timestamp", async () => {
    const { access, device } = await user();
    const { body, headers } = await signed(device);
    const response = await client.post("/report", access, body, {
      "X-CCFLUX-Signature": headers["X-CCFLUX-Signature"]!,
    });
    await expectError(response, 403, "timestamp-missing");
  });

  test("timestamp-stale: more than 300 s either way; 299 s is fine", async () => {
    const { access, device } = await user();
    const body = JSON.stringify(report());
    // The header has whole seconds, and the receiver reads its clock when the request arrives. Each
    // timestamp is rounded away from the 300 s line; where the time the request takes moves it
    // towards the line (-299 s, +301 s), an attempt counts only if its round trip was shorter than
    // the 1 s margin, so a slow machine retries instead of failing.
    const cases: [offsetMs: number, status: number][] = [
      [-301_000, 403],
      [301_000, 403],
      [-299_000, 200],
      [299_000, 200],
    ];
    for (const [offset, status] of cases) {
      const stale = status === 403;
      const towardsLine = offset > 0 === stale;
      const away = towardsLine ? Math.ceil : Math.floor;
      const margin = Math.abs(Math.abs(offset) - TIMESTAMP_TOLERANCE_SECS * 1000);
      let attempts = 0;
      for (;;) {
        attempts++;
        const sent = Date.now();
        const signedAt = away((sent + offset) / 1000) * 1000;
        const response = await client.post(
          "/report",
          access,
          body,
          signHeaders(body, device, toRfc3339(signedAt)),
        );
        if (!towardsLine || Date.now() - sent < margin) {
          if (stale) await expectError(response, 403, "timestamp-stale");
          else expect(response.status).toBe(200);
          break;
        }
        await response.body?.cancel();
        if (attempts === 20)
          throw new Error(`every round trip of ${offset / 1000} s took ${margin} ms or more`);
      }
    }
  });

  test("signature-invalid: malformed header, bad base64, wrong lengths, wrong signature", async () => {
    const { access, device } = await user();
    const { body, headers } = await signed(device);
    const [, sig, pub] = headers["X-CCFLUX-Signature"]!.split(" ");
    const broken = [
      "garbage",
      `rsa ${sig} ${pub}`,
      `ed25519 ${sig}`,
      `ed25519 !!!${sig!.slice(3)} ${pub}`,
      `ed25519 ${Buffer.alloc(63).toString("base64")} ${pub}`,
      `ed25519 ${sig} ${Buffer.alloc(31).toString("base64")}`,
      `ed25519 ${Buffer.alloc(64).toString("base64")} ${pub}`,
    ];
    for (const header of broken) {
      const response = await client.post("/report", access, body, {
        ...headers,
        "X-CCFLUX-Signature": header,
      });
      await expectError(response, 403, "signature-invalid");
    }
    const badTime = await client.post("/report", access, body, { ...headers, "X-CCFLUX-Timestamp": "soon" });
    await expectError(badTime, 403, "signature-invalid");
  });

  test("key-not-registered: an unknown key, or another user's key", async () => {
    const { access } = await user();
    await expectError(await client.send(access, report(), newDevice()), 403, "key-not-registered");
    const other = await user();
    await expectError(await client.send(access, report(), other.device), 403, "key-not-registered");
  });

  test("a replayed report within 5 minutes stores nothing new", async () => {
    const { access, device, email } = await user();
    const { body, headers } = await signed(device, JSON.stringify(report({ session_id: "replay" })));
    for (let i = 0; i < 3; i++)
      expect((await client.post("/report", access, body, headers)).status).toBe(200);
    expect(
      receiver.sql(`SELECT count(*), sum(input_tokens) FROM usage_events WHERE email = '${email}';`),
    ).toBe("1|10");
    expect(receiver.sql(`SELECT turns FROM usage_hourly WHERE email = '${email}';`)).toBe("1");
  });
});

describe("order of checks", () => {
  test("413 comes before everything, even without a bearer", async () => {
    const big = "x".repeat(64 * 1024 + 1);
    await expectError(await client.post("/report", null, big), 413, "body-too-large");
    await expectError(await client.post("/register-key", "bogus", big), 413, "body-too-large");
    const { access } = await user();
    await expectError(await client.post("/report", access, big), 413, "body-too-large");
  });

  test("401 for a bad access token comes before 400 for a bad body", async () => {
    await expectError(await client.post("/report", "bogus", "{not json"), 401, "unauthorized");
  });

  test("400 for a bad body comes before 403 for a bad signature", async () => {
    const { access } = await user();
    const response = await client.post("/report", access, "{}", { "X-CCFLUX-Signature": "garbage" });
    await expectError(response, 400, "invalid-body");
  });
});

describe("rate limit", () => {
  test("RATE_LIMIT_PER_MINUTE requests pass over 60 s, the next gets 429 with Retry-After, even with a bogus token", async () => {
    const bogus = `bogus-${crypto.randomUUID()}`;
    for (let i = 0; i < 30; i++) expect((await client.post("/report", bogus, "{}")).status).toBe(401);
    const limited = await client.post("/report", bogus, "{}");
    await expectError(limited, 429, "rate-limited");
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  test("/token, /register-key and /report share one budget per token", async () => {
    const { access, device } = await user();
    // The user's registration used one request of the access token's budget.
    for (let i = 0; i < 14; i++) expect((await client.registerKey(access, device)).status).toBe(200);
    for (let i = 0; i < 15; i++)
      expect((await client.send(access, report({ turn_index: i }), device)).status).toBe(200);
    await expectError(await client.send(access, report({ turn_index: 99 }), device), 429, "rate-limited");
  });

  test("a person's access tokens share one budget of twice RATE_LIMIT_PER_MINUTE: minting more gains nothing", async () => {
    const { access, device, token } = await user();
    const tokens = [access];
    for (let i = 0; i < 4; i++) tokens.push(await client.exchange(token));
    const statuses: number[] = [];
    let limited: Response | undefined;
    // The registration used one request; each token below stays far under its own 30.
    for (let i = 0; i < 2 * 30; i++) {
      const response = await client.send(tokens[i % tokens.length]!, report({ turn_index: i }), device);
      statuses.push(response.status);
      if (response.status === 429) limited = response;
      else await response.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 200).length).toBe(2 * 30 - 1);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await limited!.clone().json()) as { message: string };
    expect(body.message).toContain("this person's access tokens together");
    await expectError(limited!, 429, "rate-limited");
  });

  test("rejections are counted in /metrics", async () => {
    const text = await (await fetch(`${receiver.url}/metrics`)).text();
    expect(text).toMatch(/^ccflux_reports_rate_limited_total [1-9]/m);
    expect(text).toMatch(/^ccflux_reports_auth_rejected_total [1-9]/m);
    expect(text).toMatch(/^ccflux_reports_sig_rejected_total [1-9]/m);
    expect(text).toMatch(/^ccflux_reports_accepted_total [1-9]/m);
    expect(text).toMatch(/^ccflux_token_exchanges_total [1-9]/m);
    expect(text).toMatch(/^ccflux_key_registrations_total [1-9]/m);
    expect(text).toMatch(/^ccflux_active_access_tokens [1-9]/m);
    expect(text).toMatch(/^ccflux_http_requests_total\{route="\/report",status="4xx"\} [1-9]/m);
    expect(text).toMatch(/^ccflux_http_request_duration_seconds_count [1-9]/m);
  });
});

describe("protocol v2", () => {
  test("stores the cache-write split, request counts, sub-agent share and Claude Code version", async () => {
    const { access, device, email } = await user();
    const body = report({
      schema_version: 2,
      claude_code_version: "2.1.39",
      models: {
        "claude-opus-4-6": {
          input_tokens: 100,
          output_tokens: 200,
          cache_read_tokens: 300,
          cache_write_tokens: 400,
          cache_write_5m_tokens: 150,
          cache_write_1h_tokens: 250,
          requests: 3,
          subagent: { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4 },
        },
      },
    });
    expect((await client.send(access, body, device)).status).toBe(200);
    expect(
      receiver.sql(
        `SELECT cache_write_5m_tokens, cache_write_1h_tokens, requests, subagent_input_tokens, subagent_output_tokens, subagent_cache_read_tokens, subagent_cache_write_tokens, claude_code_version FROM usage_events WHERE email = '${email}';`,
      ),
    ).toBe("150|250|3|1|2|3|4|2.1.39");
    expect(
      receiver.sql(`SELECT requests, subagent_cache_write_tokens FROM usage_daily WHERE email = '${email}';`),
    ).toBe("3|4");
  });

  test("POST /limit-event is stored once per (user, session, timestamp)", async () => {
    const { access, device, email } = await user();
    const event = {
      schema_version: 2,
      session_id: "limited",
      timestamp_utc: `${RECENT}T01:00:00Z`,
      kind: "rate_limit",
      resets_at: `${RECENT}T05:00:00Z`,
    };
    expect((await client.send(access, event, device, "/limit-event")).status).toBe(200);
    expect((await client.send(access, event, device, "/limit-event")).status).toBe(200);
    expect(
      receiver.sql(`SELECT count(*), event_at, resets_at, kind FROM limit_events WHERE email = '${email}';`),
    ).toBe(`1|${RECENT} 01:00:00|${RECENT} 05:00:00|rate_limit`);
    // Out-of-bounds times are kept as the event's key but placed at the receive time, as for reports.
    for (const timestamp_utc of ["0000-01-01T00:00:00Z", toRfc3339(Date.now() + 86_400_000)]) {
      expect((await client.send(access, { ...event, timestamp_utc }, device, "/limit-event")).status).toBe(
        200,
      );
    }
    expect(
      receiver.sql(
        `SELECT max(abs(unixepoch(event_at) - unixepoch(received_at))) FROM limit_events WHERE email = '${email}' AND timestamp_utc != '${event.timestamp_utc}';`,
      ),
    ).toMatch(/^[01]$/);
    // resets_at is kept only from the event's time to RESET_HORIZON_DAYS after it, otherwise unknown.
    const at = Date.parse(`${RECENT}T02:00:00Z`);
    const resets = [
      [at + RESET_HORIZON_DAYS * 86_400_000, toSqlTime(at + RESET_HORIZON_DAYS * 86_400_000)],
      [at + (RESET_HORIZON_DAYS * 24 + 1) * 3_600_000, "null"],
      [at - 60_000, "null"],
      [Date.parse("0000-01-01T00:00:00Z"), "null"],
      [Date.parse("9999-12-31T00:00:00Z"), "null"],
    ] as const;
    for (const [i, [reset]] of resets.entries()) {
      const bounded = {
        ...event,
        session_id: `resets-${i}`,
        timestamp_utc: toRfc3339(at),
        resets_at: toRfc3339(reset),
      };
      expect((await client.send(access, bounded, device, "/limit-event")).status).toBe(200);
    }
    expect(
      receiver.sql(
        `SELECT ifnull(resets_at, 'null') FROM limit_events WHERE email = '${email}' AND session_id LIKE 'resets-%' ORDER BY session_id;`,
      ),
    ).toBe(resets.map(([, stored]) => stored).join("\n"));
    await expectError(
      await client.send(access, { ...event, timestamp_utc: "later" }, device, "/limit-event"),
      400,
      "invalid-body",
    );
    await expectError(
      await client.send(access, { ...event, schema_version: 1 }, device, "/limit-event"),
      400,
      "invalid-body",
    );
  });

  test("POST /report with a v2 hours split puts each hour's tokens in its own hour; a split that does not add up is refused", async () => {
    const { access, device, email } = await user();
    const end = Date.parse(`${RECENT}T10:20:00Z`);
    const usage = { input_tokens: 10, output_tokens: 20, cache_read_tokens: 300, cache_write_tokens: 40 };
    const hours = {
      [`${RECENT}T09:00:00Z`]: {
        input_tokens: 4,
        output_tokens: 5,
        cache_read_tokens: 100,
        cache_write_tokens: 40,
      },
      [`${RECENT}T10:00:00Z`]: {
        input_tokens: 6,
        output_tokens: 15,
        cache_read_tokens: 200,
        cache_write_tokens: 0,
      },
    };
    const split = report({
      schema_version: 2,
      session_id: "split",
      timestamp_utc: toRfc3339(end),
      models: { "claude-opus-4-6": { ...usage, hours } },
    });
    expect((await client.send(access, split, device)).status).toBe(200);
    expect(
      receiver.sql(
        `SELECT hour, input_tokens, output_tokens, turns FROM usage_hourly WHERE email = '${email}' ORDER BY hour;`,
      ),
    ).toBe(`${RECENT} 09:00:00|4|5|0\n${RECENT} 10:00:00|6|15|1`);
    const wrong = {
      ...hours,
      [`${RECENT}T10:00:00Z`]: { ...hours[`${RECENT}T10:00:00Z`]!, output_tokens: 14 },
    };
    await expectError(
      await client.send(
        access,
        { ...split, turn_index: 1, models: { "claude-opus-4-6": { ...usage, hours: wrong } } },
        device,
      ),
      400,
      "invalid-body",
    );
  });

  test("POST /limit-event stores the limit type and overage status; a bad one is refused", async () => {
    const { access, device, email } = await user();
    const event = {
      schema_version: 2,
      session_id: "limited",
      timestamp_utc: `${RECENT}T02:00:00Z`,
      kind: "rate_limit",
      resets_at: "2026-12-01T00:00:00Z",
      limit_type: "seven_day_opus",
      overage_status: "rejected",
    };
    expect((await client.send(access, event, device, "/limit-event")).status).toBe(200);
    // A reporter from before these fields: stored with NULLs.
    const {
      limit_type: _,
      overage_status: __,
      ...older
    } = { ...event, timestamp_utc: `${RECENT}T03:00:00Z` };
    expect((await client.send(access, older, device, "/limit-event")).status).toBe(200);
    expect(
      receiver.sql(
        `SELECT event_at, coalesce(limit_type, '-'), coalesce(overage_status, '-') FROM limit_events WHERE email = '${email}' ORDER BY event_at;`,
      ),
    ).toBe(`${RECENT} 02:00:00|seven_day_opus|rejected\n${RECENT} 03:00:00|-|-`);
    await expectError(
      await client.send(access, { ...event, limit_type: "Five Hours; DROP" }, device, "/limit-event"),
      400,
      "invalid-body",
    );
  });
});

test("API answers are never cached: /token's access token, and every other answer, carry Cache-Control: no-store", async () => {
  const { token, access } = await user();
  const exchanged = await client.post("/token", token);
  expect(exchanged.status).toBe(200);
  expect(exchanged.headers.get("cache-control")).toBe("no-store");
  const refused = await client.post("/token", "rtok_unknown");
  expect(refused.headers.get("cache-control")).toBe("no-store");
  const reported = await client.send(access, report({ session_id: "no-store" }));
  expect(reported.headers.get("cache-control")).toBe("no-store");
  expect((await fetch(`${receiver.url}/health`)).headers.get("cache-control")).toBe("no-store");
});

/** A v2 report for turn `turn` with delivery numbers. */
function numbered(turn: number, seq: number, from = 1) {
  return {
    ...report({ schema_version: 2, session_id: "heal", turn_index: turn }),
    delivery_seq: seq,
    delivery_journal_from: from,
  };
}

describe("delivery numbers", () => {
  test("a v1 report, or a v2 one without numbers, gets the same answer as before", async () => {
    const { access, device } = await user();
    const v1 = await client.send(access, report({ session_id: "v1" }), device);
    expect(await v1.json()).toEqual({ status: "stored", stored: 1 });
    const v2 = await client.send(access, report({ schema_version: 2, session_id: "v2" }), device);
    expect(await v2.json()).toEqual({ status: "stored", stored: 1 });
    // Unsigned (REQUIRE_SIGNATURES off): no device, so no numbers, even when sent.
    const unsigned = await client.send(access, numbered(0, 1));
    expect(await unsigned.json()).toEqual({ status: "stored", stored: 1 });
  });

  test("delivery_held follows the unbroken run; one ahead of it leaves it until the gap is filled", async () => {
    const { access, device, email } = await user();
    const held = async (turn: number, seq: number, from = 1) => {
      const response = await client.send(access, numbered(turn, seq, from), device);
      expect(response.status).toBe(200);
      return ((await response.json()) as { delivery_held: number }).delivery_held;
    };
    expect(await held(0, 1)).toBe(1);
    expect(await held(1, 2)).toBe(2);
    expect(await held(1, 2)).toBe(2); // a retry
    const gaps = async () =>
      Number(
        /\nccflux_delivery_gaps_total (\d+)/.exec(await (await fetch(`${receiver.url}/metrics`)).text())?.[1],
      );
    const gapsBefore = await gaps();
    expect(await held(3, 4)).toBe(2); // 3 is missing
    expect(await gaps()).toBe(gapsBefore + 1);
    expect(await held(2, 3)).toBe(3); // 3 fills the gap; 4 must come again to count
    expect(await held(3, 4)).toBe(4);
    expect(await gaps()).toBe(gapsBefore + 1); // filling the gap is no gap
    // The reporter can no longer send anything below 10: all of it counts as held.
    expect(await held(9, 10, 10)).toBe(10);
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("10");
    // Every turn stored once, whatever came twice.
    expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}';`)).toBe("5");
  });

  test("a report refused at the model-name cap is not held", async () => {
    const { access, device, email } = await user();
    const models = (from: number, count: number) =>
      Object.fromEntries(
        Array.from({ length: count }, (_, i) => [
          `model-${from + i}`,
          { input_tokens: 1, output_tokens: 1, cache_read_tokens: 1, cache_write_tokens: 1 },
        ]),
      );
    const first = await client.send(access, { ...numbered(0, 1), models: models(0, 20) }, device);
    expect(((await first.json()) as { delivery_held: number }).delivery_held).toBe(1);
    const refused = await client.send(access, { ...numbered(1, 2), models: models(20, 13) }, device);
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-ccflux-error")).toBe("too-many-models");
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("1");
  });

  test("limit events share the device's numbers", async () => {
    const { access, device } = await user();
    expect((await (await client.send(access, numbered(0, 1), device)).json()).delivery_held).toBe(1);
    const event = {
      schema_version: 2,
      session_id: "heal",
      timestamp_utc: `${RECENT}T01:00:00Z`,
      kind: "rate_limit",
      delivery_seq: 2,
      delivery_journal_from: 1,
    };
    const response = await client.send(access, event, device, "/limit-event");
    expect(await response.json()).toEqual({ status: "stored", delivery_held: 2 });
  });

  test("bad numbers: 400 and nothing stored", async () => {
    const { access, device, email } = await user();
    for (const bad of [
      { delivery_seq: 0 },
      { delivery_seq: -1 },
      { delivery_seq: 1.5 },
      { delivery_seq: "1" },
      { delivery_seq: 2 ** 53 },
      { delivery_seq: 3, delivery_journal_from: 4 },
      { delivery_seq: 3, delivery_journal_from: 0 },
      { delivery_seq: 3, delivery_journal_from: "1" },
    ]) {
      const response = await client.send(access, { ...report({ schema_version: 2 }), ...bad }, device);
      expect(response.status).toBe(400);
      expect(response.headers.get("x-ccflux-error")).toBe("invalid-body");
      expect(((await response.json()) as { message: string }).message).toMatch(/delivery_/);
    }
    expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE email = '${email}';`)).toBe("0");
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("0");
  });

  test("a copy of the database answers its own, older delivery_held", async () => {
    const { access, device, email } = await user();
    for (let seq = 1; seq <= 3; seq++) await client.send(access, numbered(seq, seq), device);
    const copy = join(receiver.dir, "copy.db");
    receiver.sql(`.backup '${copy}'`);
    for (let seq = 4; seq <= 6; seq++) await client.send(access, numbered(seq, seq), device);
    expect(receiver.sql(`SELECT delivery_held FROM device_keys WHERE email = '${email}';`)).toBe("6");

    // The copy restored as docs/server-setup.md says: it holds 3, and says so.
    await receiver.stop();
    rmSync(`${receiver.dbPath}-wal`, { force: true });
    rmSync(`${receiver.dbPath}-shm`, { force: true });
    copyFileSync(copy, receiver.dbPath);
    receiver = await receiver.restart();
    client = new Client(receiver.url);
    const after = await client.send(access, numbered(7, 7), device);
    expect(await after.json()).toEqual({ status: "stored", stored: 1, delivery_held: 3 });
  });
});

test("an unknown path answers 404 with a JSON error", async () => {
  await expectError(await fetch(`${receiver.url}/nope`), 404, "not-found");
});
