// Walks the setup guide (shared/seed/server-setup-guide.txt) against the real receiver, from
// source and as the compiled binary: provisioning, revocation and re-provisioning through the
// real sqlite3 CLI, token exchange, key registration and signed reports.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, guideInsert, guideToken, newDevice, report, signHeaders } from "../support/client.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

const GUIDE_BLOCK = `ccflux-receiver config:
DATABASE_PATH = {db}
LISTEN_ADDR = 127.0.0.1:0
ACCESS_TOKEN_EXPIRY_SECS = 28800
REFRESH_TOKEN_ROLLING_DAYS = 90
RATE_LIMIT_PER_MINUTE = 30
BODY_LIMIT_KB = 64
REQUIRE_SIGNATURES = false
ADMIN_TOKEN = set
COOKIE_SECURE = false`;

describe.each([
  ["source", false],
  ["compiled binary", true],
])("the setup guide, %s", (_name, binary) => {
  let receiver: TestReceiver;
  let client: Client;

  beforeAll(async () => {
    receiver = await startReceiver({ binary, env: { ADMIN_TOKEN: "a".repeat(64) } });
    client = new Client(receiver.url);
  });
  afterAll(async () => {
    await receiver.stop();
    receiver.cleanup();
  });

  test("prints the guide's configuration block, then the listening line, and never the admin token", () => {
    const out = receiver.output();
    expect(out).toContain(GUIDE_BLOCK.replace("{db}", receiver.dbPath));
    expect(out.indexOf("ccflux-receiver listening on 127.0.0.1:")).toBeGreaterThan(
      out.indexOf("COOKIE_SECURE = false"),
    );
    expect(out).not.toContain("a".repeat(64));
  });

  test("GET /health answers ok with JSON", async () => {
    const response = await fetch(`${receiver.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toEqual({ status: "ok", db: "ok" });
  });

  test("a user provisioned with the guide's INSERT reports signed usage that lands once", async () => {
    const token = guideToken();
    receiver.sql(guideInsert(token, "jsmith@example.org", "engineering"));
    const access = await client.exchange(token);
    const device = newDevice();
    expect((await client.registerKey(access, device, "jsmith-laptop")).status).toBe(200);

    const body = report({ session_id: "guide-1", turn_index: 3 });
    const first = await client.send(access, body, device);
    expect(first.status).toBe(200);
    // A retry of the same report is accepted and stores nothing twice.
    const again = await client.send(access, body, device);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "already-stored", stored: 0 });

    expect(
      receiver.sql(
        "SELECT email, device_id, public_key = '" +
          device.publicKey +
          "', input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM usage_events WHERE session_id = 'guide-1';",
      ),
    ).toBe("jsmith@example.org|jsmith-laptop|1|10|20|300|40");
    expect(
      receiver.sql("SELECT turns, input_tokens FROM usage_daily WHERE email = 'jsmith@example.org';"),
    ).toBe("1|10");
    expect(
      receiver.sql("SELECT turns, output_tokens FROM usage_hourly WHERE email = 'jsmith@example.org';"),
    ).toBe("1|20");
    expect(receiver.sql("SELECT count(*) FROM session_days WHERE email = 'jsmith@example.org';")).toBe("1");
  });

  test("the token exchange rolls the refresh token's expiry to now + 90 days", async () => {
    const token = guideToken();
    receiver.sql(guideInsert(token, "roll@example.org"));
    const response = await client.post("/token", token);
    const grant = (await response.json()) as { access_token: string; expires_at: string; token_type: string };
    expect(grant.token_type).toBe("Bearer");
    expect(grant.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const inHours = (Date.parse(grant.expires_at) - Date.now()) / 3_600_000;
    expect(inHours).toBeGreaterThan(7.9);
    expect(inHours).toBeLessThanOrEqual(8);
    const days = Number(
      receiver.sql(
        `SELECT round(julianday(expires_at) - julianday('now')) FROM refresh_tokens WHERE token = '${token}';`,
      ),
    );
    expect(days).toBe(90);
    // Only a hash of the access token is stored.
    expect(
      receiver.sql(`SELECT count(*) FROM access_tokens WHERE token_hash = '${grant.access_token}';`),
    ).toBe("0");
    expect(receiver.sql("SELECT count(*) FROM access_tokens;")).not.toBe("0");
  });

  test("revoking a user by the guide's UPDATE stops /token and every access token at once", async () => {
    const token = guideToken();
    receiver.sql(guideInsert(token, "leaver@example.org"));
    const access = await client.exchange(token);
    const device = newDevice();
    expect((await client.registerKey(access, device)).status).toBe(200);
    expect((await client.send(access, report({ session_id: "leaver" }), device)).status).toBe(200);

    receiver.sql("UPDATE refresh_tokens SET revoked = 1 WHERE email = 'leaver@example.org';");
    expect((await client.post("/token", token)).status).toBe(401);
    expect((await client.send(access, report({ session_id: "leaver", turn_index: 1 }), device)).status).toBe(
      401,
    );
    expect((await client.registerKey(access, newDevice())).status).toBe(401);
  });

  test("revoking one device by the guide's UPDATE silences it; the user's other device keeps working", async () => {
    const token = guideToken();
    receiver.sql(guideInsert(token, "twodevices@example.org"));
    const access = await client.exchange(token);
    const lost = newDevice();
    const kept = newDevice();
    await client.registerKey(access, lost, "lost-laptop");
    await client.registerKey(access, kept, "desktop");

    receiver.sql(`UPDATE device_keys SET revoked = 1 WHERE public_key = '${lost.publicKey}';`);
    const refused = await client.send(access, report({ session_id: "lost" }), lost);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("x-ccflux-error")).toBe("key-revoked");
    expect((await client.send(access, report({ session_id: "kept" }), kept)).status).toBe(200);
    // Registering the revoked key again does not bring it back.
    const reregister = await client.registerKey(access, lost);
    expect(reregister.status).toBe(403);
    expect(reregister.headers.get("x-ccflux-error")).toBe("key-revoked");
    // Nor does a fresh key made on the lost laptop (its device-key.revoked deleted): the guide's
    // UPDATE revokes the device id too, as the guide says it stops that laptop.
    const fresh = await client.registerKey(access, newDevice(), "lost-laptop");
    expect(fresh.status).toBe(403);
    expect(fresh.headers.get("x-ccflux-error")).toBe("key-revoked");
  });

  test("the guide's INSERT with a capitalised email is the same person as the lower-case one", async () => {
    const first = guideToken();
    const second = guideToken();
    receiver.sql(guideInsert(first, "Case.Person@Example.org"));
    receiver.sql(guideInsert(second, "case.person@example.org"));
    expect(receiver.sql("SELECT DISTINCT email FROM refresh_tokens WHERE email LIKE 'case.person%';")).toBe(
      "case.person@example.org",
    );
    for (const token of [first, second]) {
      const access = await client.exchange(token);
      expect((await client.send(access, report({ session_id: `case-${token.slice(-6)}` }))).status).toBe(200);
    }
    expect(receiver.sql("SELECT DISTINCT email FROM usage_events WHERE session_id LIKE 'case-%';")).toBe(
      "case.person@example.org",
    );
  });

  test("re-provisioning with the guide's DELETE and INSERT works even with foreign keys on", async () => {
    const old = guideToken();
    receiver.sql(guideInsert(old, "returner@example.org"));
    const oldAccess = await client.exchange(old);
    expect((await client.send(oldAccess, report({ session_id: "before" }))).status).toBe(200);
    receiver.sql("UPDATE refresh_tokens SET revoked = 1 WHERE email = 'returner@example.org';");

    const fresh = guideToken();
    receiver.sql(
      `PRAGMA foreign_keys = ON;
       DELETE FROM refresh_tokens WHERE email = 'returner@example.org' AND revoked = 1;
       ${guideInsert(fresh, "returner@example.org")}`,
    );
    expect((await client.send(oldAccess, report({ session_id: "stale" }))).status).toBe(401);
    const access = await client.exchange(fresh);
    expect((await client.send(access, report({ session_id: "after" }))).status).toBe(200);
    // Usage history is keyed by email and survives; the old rows lost only their token link.
    expect(
      receiver.sql(
        "SELECT session_id, refresh_token_id IS NULL FROM usage_events WHERE email = 'returner@example.org' ORDER BY id;",
      ),
    ).toBe("before|1\nafter|0");
    expect(receiver.sql("PRAGMA foreign_key_check;")).toBe("");
  });

  test("an access token works on its own after the refresh token expires only until then", async () => {
    const token = guideToken();
    receiver.sql(guideInsert(token, "expiring@example.org"));
    const access = await client.exchange(token);
    receiver.sql(
      `UPDATE refresh_tokens SET expires_at = datetime('now', '-1 minute') WHERE token = '${token}';`,
    );
    expect((await client.post("/token", token)).status).toBe(401);
    expect((await client.send(access, report())).status).toBe(401);
  });

  test("SIGTERM stops the receiver cleanly with exit code 0", async () => {
    const other = await startReceiver({ binary });
    const started = Date.now();
    expect(await other.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(other.output()).toContain("stopped");
    other.cleanup();
  });
});

describe("REQUIRE_SIGNATURES", () => {
  test("on: unsigned reports are refused with signature-required, signed ones and key registration work", async () => {
    const receiver = await startReceiver({ env: { REQUIRE_SIGNATURES: "1" } });
    try {
      expect(receiver.output()).toContain("REQUIRE_SIGNATURES = true");
      const client = new Client(receiver.url);
      const token = guideToken();
      receiver.sql(guideInsert(token, "strict@example.org"));
      const access = await client.exchange(token);
      const unsigned = await client.send(access, report());
      expect(unsigned.status).toBe(403);
      expect(unsigned.headers.get("x-ccflux-error")).toBe("signature-required");
      const device = newDevice();
      expect((await client.registerKey(access, device)).status).toBe(200);
      expect((await client.send(access, report(), device)).status).toBe(200);
      expect(receiver.sql("SELECT count(*) FROM usage_events;")).toBe("1");
    } finally {
      await receiver.stop();
      receiver.cleanup();
    }
  });

  test("off: an unsigned report is stored with an empty device id; a badly signed one is refused", async () => {
    const receiver = await startReceiver();
    try {
      const client = new Client(receiver.url);
      const token = guideToken();
      receiver.sql(guideInsert(token, "lenient@example.org"));
      const access = await client.exchange(token);
      expect((await client.send(access, report({ session_id: "unsigned" }))).status).toBe(200);
      expect(receiver.sql("SELECT device_id = '', public_key IS NULL FROM usage_events;")).toBe("1|1");
      const device = newDevice();
      await client.registerKey(access, device);
      const text = JSON.stringify(report({ session_id: "tampered" }));
      const headers = signHeaders(text, device);
      const tampered = await client.post("/report", access, text.replace("tampered", "tampere2"), headers);
      expect(tampered.status).toBe(403);
      expect(tampered.headers.get("x-ccflux-error")).toBe("signature-invalid");
      expect(receiver.sql("SELECT count(*) FROM usage_events;")).toBe("1");
    } finally {
      await receiver.stop();
      receiver.cleanup();
    }
  });
});
