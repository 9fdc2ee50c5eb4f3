import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILT_IN_PRICES } from "../../src/receiver/analytics/prices.ts";
import { ConfigError, configWarnings, describeConfig, loadConfig } from "../../src/receiver/config.ts";

describe("loadConfig", () => {
  test("defaults match the guide", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databasePath: "ccflux.db",
      listen: { hostname: "127.0.0.1", port: 8080 },
      accessTokenExpirySecs: 28800,
      refreshTokenRollingDays: 90,
      rateLimitPerMinute: 30,
      bodyLimitKb: 64,
      requireSignatures: false,
      adminToken: undefined,
      cookieSecure: false,
      baseUrl: undefined,
      trustProxy: false,
      tierInferenceIntervalSecs: 600,
    });
  });

  test("booleans take 1/true/yes/on and 0/false/no/off in any case", () => {
    for (const word of ["1", "true", "YES", "On"])
      expect(loadConfig({ REQUIRE_SIGNATURES: word }).requireSignatures).toBe(true);
    for (const word of ["0", "False", "no", "OFF"])
      expect(loadConfig({ COOKIE_SECURE: word }).cookieSecure).toBe(false);
  });

  test("an empty variable means unset (systemd's Environment=NAME=)", () => {
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: "", ADMIN_TOKEN: "" })).toMatchObject({
      rateLimitPerMinute: 30,
      adminToken: undefined,
    });
  });

  test("listen addresses: IPv4, names, bracketed IPv6", () => {
    expect(loadConfig({ LISTEN_ADDR: "0.0.0.0:9000" }).listen).toEqual({ hostname: "0.0.0.0", port: 9000 });
    expect(loadConfig({ LISTEN_ADDR: "localhost:80" }).listen).toEqual({ hostname: "localhost", port: 80 });
    expect(loadConfig({ LISTEN_ADDR: "[::1]:8080" }).listen).toEqual({ hostname: "::1", port: 8080 });
  });

  test("BASE_URL is normalised without a trailing slash", () => {
    expect(loadConfig({ BASE_URL: "https://ccflux.example.org/" }).baseUrl).toBe(
      "https://ccflux.example.org",
    );
  });

  const invalid: [string, string, RegExp][] = [
    ["RATE_LIMIT_PER_MINUTE", "lots", /RATE_LIMIT_PER_MINUTE=lots: expected a whole number/],
    ["RATE_LIMIT_PER_MINUTE", "0", /from 1 to/],
    ["ACCESS_TOKEN_EXPIRY_SECS", "-5", /ACCESS_TOKEN_EXPIRY_SECS=-5/],
    ["BODY_LIMIT_KB", "1.5", /BODY_LIMIT_KB=1.5/],
    ["REFRESH_TOKEN_ROLLING_DAYS", "1e3", /REFRESH_TOKEN_ROLLING_DAYS/],
    ["REQUIRE_SIGNATURES", "maybe", /REQUIRE_SIGNATURES=maybe: expected one of 1\/true\/yes\/on/],
    ["LISTEN_ADDR", "8080", /LISTEN_ADDR=8080: expected host:port/],
    ["LISTEN_ADDR", "127.0.0.1:70000", /LISTEN_ADDR/],
    ["LISTEN_ADDR", "[::1:8080", /LISTEN_ADDR/],
    ["BASE_URL", "ccflux.example.org", /BASE_URL=ccflux.example.org: expected the public URL/],
    ["BASE_URL", "ftp://ccflux.example.org", /expected an http/],
  ];
  for (const [name, value, message] of invalid) {
    test(`${name}=${value} is refused with a message naming it`, () => {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(message);
    });
  }
});

test("PRICES_FILE: unset is the built-in table; a good file is read; a missing or bad one stops the start in one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "ccflux-prices-"));
  try {
    expect(loadConfig({}).prices).toBe(BUILT_IN_PRICES);
    expect(describeConfig(loadConfig({}))).toContain(`PRICES_FILE = built-in (${BUILT_IN_PRICES.takenOn})`);
    const good = join(dir, "prices.json");
    writeFileSync(
      good,
      JSON.stringify({
        taken_on: "2027-02-01",
        models: { m: { input: 1, output: 2, cache_write_5m: 1, cache_write_1h: 2, cache_read: 0.1 } },
      }),
    );
    const config = loadConfig({ PRICES_FILE: good });
    expect(config.prices.takenOn).toBe("2027-02-01");
    expect(config.prices.models.m?.output).toBe(2);
    expect(describeConfig(config)).toContain(`PRICES_FILE = ${good} (2027-02-01)`);

    const missing = join(dir, "nope.json");
    expect(() => loadConfig({ PRICES_FILE: missing })).toThrow(ConfigError);
    expect(() => loadConfig({ PRICES_FILE: missing })).toThrow(
      `PRICES_FILE=${missing}: cannot read the file (ENOENT)`,
    );
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"taken_on": "yesterday", "models": {}}');
    expect(() => loadConfig({ PRICES_FILE: bad })).toThrow(
      `PRICES_FILE=${bad}: "taken_on" must be the day the prices were read, as YYYY-MM-DD`,
    );
    for (const path of [missing, bad]) {
      try {
        loadConfig({ PRICES_FILE: path });
      } catch (error) {
        expect((error as Error).message).not.toContain("\n");
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("describeConfig prints the guide's block and never a secret", () => {
  const text = describeConfig(
    loadConfig({ DATABASE_PATH: "/var/lib/ccflux/ccflux.db", ADMIN_TOKEN: "s3cret", COOKIE_SECURE: "1" }),
  );
  expect(text.split("\n").slice(0, 10)).toEqual([
    "ccflux-receiver config:",
    "DATABASE_PATH = /var/lib/ccflux/ccflux.db",
    "LISTEN_ADDR = 127.0.0.1:8080",
    "ACCESS_TOKEN_EXPIRY_SECS = 28800",
    "REFRESH_TOKEN_ROLLING_DAYS = 90",
    "RATE_LIMIT_PER_MINUTE = 30",
    "BODY_LIMIT_KB = 64",
    "REQUIRE_SIGNATURES = false",
    "ADMIN_TOKEN = set",
    "COOKIE_SECURE = true",
  ]);
  expect(text).not.toContain("s3cret");
  expect(describeConfig(loadConfig({}))).toContain("ADMIN_TOKEN = unset");
});

test("the guide's placeholder or a short admin token, and an insecure cookie off loopback, are warned about", () => {
  expect(configWarnings(loadConfig({ ADMIN_TOKEN: "your-strong-admin-token-here" }))[0]).toContain(
    "the setup guide's placeholder",
  );
  expect(configWarnings(loadConfig({ ADMIN_TOKEN: "short" }))[0]).toContain("shorter than 16 characters");
  expect(configWarnings(loadConfig({ ADMIN_TOKEN: "a".repeat(64) }))).toEqual([]);
  expect(
    configWarnings(loadConfig({ ADMIN_TOKEN: "a".repeat(64), LISTEN_ADDR: "0.0.0.0:8080" }))[0],
  ).toContain("COOKIE_SECURE is off");
  expect(
    configWarnings(
      loadConfig({ ADMIN_TOKEN: "a".repeat(64), LISTEN_ADDR: "0.0.0.0:8080", COOKIE_SECURE: "1" }),
    ),
  ).toEqual([]);
});
