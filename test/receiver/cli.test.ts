// The receiver binary's own administration, for servers without sqlite3, and its start-up errors.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/protocol/version.ts";
import { Client, newDevice } from "../support/client.ts";
import { sqlite3, startReceiver } from "../support/receiver.ts";

const MAIN = join(import.meta.dir, "../../src/receiver/main.ts");
const dir = mkdtempSync(join(tmpdir(), "ccflux-cli-"));
const dbPath = join(dir, "admin", "ccflux.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: dbPath, ...env },
  });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

test("--version and --help print and exit 0", () => {
  expect(cli(["--version"])).toMatchObject({ code: 0, out: `ccflux-receiver ${VERSION}\n` });
  const help = cli(["--help"]);
  expect(help.code).toBe(0);
  for (const word of ["users", "devices", "backup", "DATABASE_PATH", "REQUIRE_SIGNATURES", "BASE_URL"])
    expect(help.out).toContain(word);
});

test("an invalid setting stops the start with one line naming it, exit 2", () => {
  const result = cli([], { RATE_LIMIT_PER_MINUTE: "fast" });
  expect(result.code).toBe(2);
  expect(result.err.trim()).toBe(
    "ccflux-receiver: RATE_LIMIT_PER_MINUTE=fast: expected a whole number from 1 to 1000000000",
  );
  expect(cli(["frobnicate"]).code).toBe(2);
});

test("a port already in use: one clear line, exit 1", async () => {
  const running = await startReceiver();
  try {
    const result = cli([], {
      LISTEN_ADDR: `127.0.0.1:${running.port}`,
      DATABASE_PATH: join(dir, "other.db"),
    });
    expect(result.code).toBe(1);
    expect(result.err).toContain(`LISTEN_ADDR=127.0.0.1:${running.port}: the address is already in use`);
  } finally {
    await running.stop();
    running.cleanup();
  }
});

describe("users and devices", () => {
  test("users add prints the token once (with the endpoint when BASE_URL is set) and it works", async () => {
    const added = cli(["users", "add", "jsmith@example.org", "--division", "engineering", "--days", "30"], {
      BASE_URL: "https://ccflux.example.org/",
    });
    expect(added.code).toBe(0);
    const token = /rtok_[0-9a-f]{64}/.exec(added.out)?.[0];
    expect(token).toBeDefined();
    expect(added.out).toContain("Report endpoint: https://ccflux.example.org/report");
    expect(
      sqlite3(
        dbPath,
        "SELECT email, division, round(julianday(expires_at) - julianday('now')) FROM refresh_tokens;",
      ),
    ).toBe("jsmith@example.org|engineering|30.0");

    const receiver = await startReceiver({ dir: join(dir, "admin") });
    try {
      const client = new Client(receiver.url);
      const access = await client.exchange(token!);
      const device = newDevice();
      expect((await client.registerKey(access, device, "laptop")).status).toBe(200);

      const list = cli(["users", "list"]);
      expect(list.code).toBe(0);
      expect(list.out).toContain("jsmith@example.org");
      expect(list.out).toContain("active");
      expect(list.out).not.toContain(token!);
      const json = JSON.parse(cli(["users", "list", "--json"]).out) as { email: string; status: string }[];
      expect(json).toEqual([expect.objectContaining({ email: "jsmith@example.org", status: "active" })]);

      const devices = JSON.parse(cli(["devices", "list", "jsmith@example.org", "--json"]).out) as {
        public_key: string;
        revoked: boolean;
      }[];
      expect(devices).toEqual([expect.objectContaining({ public_key: device.publicKey, revoked: false })]);
      const revokedDevice = cli(["devices", "revoke", device.publicKey]);
      expect(revokedDevice.code).toBe(0);
      const refused = await client.send(
        access,
        { schema_version: 1, session_id: "s", turn_index: 0, timestamp_utc: "", models: {} },
        device,
      );
      expect(refused.headers.get("x-ccflux-error")).toBe("key-revoked");
      expect(cli(["devices", "revoke", device.publicKey]).code).toBe(1);

      expect(cli(["users", "revoke", "jsmith@example.org"]).code).toBe(0);
      expect((await client.post("/token", token!)).status).toBe(401);
      expect(cli(["users", "list"]).out).toContain("revoked");
      expect(cli(["users", "revoke", "jsmith@example.org"]).code).toBe(1);
    } finally {
      await receiver.stop();
    }
  });

  test("bad arguments: a clear message and exit 2", () => {
    for (const args of [
      ["users"],
      ["users", "add"],
      ["users", "add", "not-an-email"],
      ["users", "add", "a@example.org", "--days", "0"],
      ["users", "add", "a@example.org", "--colour", "red"],
      ["devices", "explode"],
      ["backup"],
    ]) {
      const result = cli(args);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(/^ccflux-receiver: /);
    }
    expect(cli(["users", "--help"])).toMatchObject({ code: 0 });
  });

  test("backup writes a consistent copy while the receiver serves, and refuses to overwrite", async () => {
    const receiver = await startReceiver({ dir: join(dir, "admin") });
    try {
      const copy = join(dir, "backup.db");
      expect(cli(["backup", copy]).code).toBe(0);
      expect(existsSync(copy)).toBe(true);
      expect(sqlite3(copy, "PRAGMA integrity_check;")).toBe("ok");
      expect(sqlite3(copy, "SELECT email FROM refresh_tokens;")).toBe("jsmith@example.org");
      expect(cli(["backup", copy]).code).toBe(1);
    } finally {
      await receiver.stop();
    }
  });
});
