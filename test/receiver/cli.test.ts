// The receiver binary's own administration, for servers without sqlite3, and its start-up errors.

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/protocol/version.ts";
import { MIGRATIONS } from "../../src/receiver/db/migrations.ts";
import { EXIT_STATUS } from "../../src/receiver/exit-status.ts";
import { Client, newDevice } from "../support/client.ts";
import { sqlite3, startReceiver } from "../support/receiver.ts";

const MAIN = join(import.meta.dir, "../../src/receiver/main.ts");
// Each CLI run is a Bun start (~0.2 s alone, seconds on a loaded machine); a test runs many.
const MANY_RUNS_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), "ccflux-cli-"));
const dbPath = join(dir, "admin", "ccflux.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; a variable set to undefined in `env` is left out of its environment. */
function cli(args: string[], env: Record<string, string | undefined> = {}, cwd = dir, umask = "022") {
  // The caller's umask is what a file made without an explicit mode would get.
  const result = Bun.spawnSync(
    ["sh", "-c", `umask ${umask}; exec "$@"`, "sh", process.execPath, MAIN, ...args],
    {
      cwd,
      env: Object.fromEntries(
        Object.entries({ PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: dbPath, ...env }).filter(
          ([, value]) => value !== undefined,
        ),
      ) as Record<string, string>,
    },
  );
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

test("a database from a newer receiver: one line, and the exit status the unit does not restart on", () => {
  const newer = join(dir, "newer.db");
  expect(cli(["users", "add", "n@example.org"], { DATABASE_PATH: newer }).code).toBe(0);
  sqlite3(newer, `PRAGMA user_version = ${MIGRATIONS.length + 1};`);
  const result = cli([], { DATABASE_PATH: newer, LISTEN_ADDR: "127.0.0.1:0" });
  expect(result.code).toBe(EXIT_STATUS.schemaTooNew);
  expect(result.err.trim().split("\n")).toEqual([expect.stringMatching(/newer than this receiver knows/)]);
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

test("users import FILE: everyone in the CSV gets a token, printed once; a bad file adds nobody", () => {
  const file = join(dir, "people.csv");
  // A database of its own: the tests below count the shared one's users.
  const own = { DATABASE_PATH: join(dir, "import", "ccflux.db") };
  writeFileSync(file, "email,division,days\nImport.One@Example.org,eng,30\nimport.two@example.org,,\n");
  const done = cli(["users", "import", file], { ...own, BASE_URL: "https://ccflux.example.org" });
  expect(done.code).toBe(0);
  const lines = done.out.trim().split("\r\n");
  expect(lines[0]).toBe("email,division,expires_at,refresh_token,report_url");
  expect(lines[1]).toMatch(
    /^import\.one@example\.org,eng,\S+ \S+,rtok_[0-9a-f]{64},https:\/\/ccflux\.example\.org\/report$/,
  );
  expect(done.err).toContain("Added 2 of 2 people");
  const again = cli(["users", "import", file], own);
  expect(again.code).toBe(0);
  expect(again.err).toContain(
    "Left as they were (an active token already): import.one@example.org, import.two@example.org.",
  );
  writeFileSync(file, "import.three@example.org\nnot-an-email\n");
  const bad = cli(["users", "import", file], own);
  expect(bad.code).toBe(1);
  expect(bad.err).toContain('line 2: "not-an-email" is not an email address');
  expect(cli(["users", "list"], own).out).not.toContain("import.three@example.org");
  expect(cli(["users", "import", join(dir, "missing.csv")], own).err).toContain("cannot read");
  expect(
    sqlite3(
      own.DATABASE_PATH,
      "SELECT count(*) FROM admin_audit WHERE action = 'provision' AND detail LIKE '%import of%';",
    ),
  ).toBe("2");
});

describe("users and devices", () => {
  test(
    "users add prints the token once (with the endpoint when BASE_URL is set) and it works",
    async () => {
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
    },
    MANY_RUNS_MS,
  );

  test(
    "bad arguments: a clear message and exit 2",
    () => {
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
    },
    MANY_RUNS_MS,
  );

  test(
    "backup writes a consistent copy while the receiver serves, and refuses to overwrite",
    async () => {
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
    },
    MANY_RUNS_MS,
  );
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("files that hold secrets", () => {
  test(
    "a database the CLI creates, its -wal and -shm, and a backup are 0600 whatever the umask",
    () => {
      const folder = mkdtempSync(join(dir, "modes-"));
      const path = join(folder, "ccflux.db");
      expect(cli(["users", "add", "modes@example.org"], { DATABASE_PATH: path }, folder, "000").code).toBe(0);
      expect(modeOf(path)).toBe(0o600);
      // A reader holding the file open keeps the WAL and shared-memory files in place to look at.
      const reader = new Database(path, { readonly: true });
      try {
        reader.query("SELECT count(*) FROM refresh_tokens").get();
        expect(cli(["users", "add", "more@example.org"], { DATABASE_PATH: path }, folder, "000").code).toBe(
          0,
        );
        for (const suffix of ["-wal", "-shm"]) {
          expect(existsSync(`${path}${suffix}`)).toBe(true);
          expect(modeOf(`${path}${suffix}`)).toBe(0o600);
        }
      } finally {
        reader.close();
      }
      const copy = join(folder, "backup.db");
      expect(cli(["backup", copy], { DATABASE_PATH: path }, folder, "000").code).toBe(0);
      expect(modeOf(copy)).toBe(0o600);
      expect(sqlite3(copy, "SELECT count(*) FROM refresh_tokens;")).toBe("2");
    },
    MANY_RUNS_MS,
  );

  test("a database the server creates is 0600 too", async () => {
    const folder = mkdtempSync(join(dir, "server-modes-"));
    const receiver = await startReceiver({ dir: folder, wrap: ["sh", "-c", 'umask 000; exec "$@"', "sh"] });
    try {
      expect(modeOf(receiver.dbPath)).toBe(0o600);
      for (const suffix of ["-wal", "-shm"]) expect(modeOf(`${receiver.dbPath}${suffix}`)).toBe(0o600);
    } finally {
      await receiver.stop();
    }
  });
});

describe("the database a command uses", () => {
  test("every command names it on stderr, as an absolute path", () => {
    const listed = cli(["users", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.err).toBe(`ccflux-receiver: database ${dbPath}\n`);
    const relative = cli(["devices", "list"], { DATABASE_PATH: "admin/ccflux.db" });
    expect(relative.err).toBe(`ccflux-receiver: database ${dbPath}\n`);
  });

  test(
    "read-only commands never create a database: a clear error, exit 1, and no file",
    () => {
      const folder = mkdtempSync(join(dir, "empty-"));
      for (const args of [
        ["users", "list"],
        ["devices", "list"],
        ["backup", join(folder, "copy.db")],
      ]) {
        const result = cli(args, { DATABASE_PATH: undefined }, folder);
        expect(result.code).toBe(1);
        expect(result.err).toContain(`ccflux-receiver: no database at ${join(folder, "ccflux.db")}`);
        expect(result.err).toContain("DATABASE_PATH");
        expect(readdirSync(folder)).toEqual([]);
      }
      // Revoking on a missing database has nothing to revoke, and creates nothing either.
      for (const args of [
        ["users", "revoke", "a@example.org"],
        ["devices", "revoke", "key"],
      ]) {
        expect(cli(args, { DATABASE_PATH: undefined }, folder).code).toBe(1);
        expect(readdirSync(folder)).toEqual([]);
      }
      // Bad input is refused before the database is looked at.
      expect(cli(["users", "add", "not-an-email"], { DATABASE_PATH: undefined }, folder).code).toBe(2);
      expect(readdirSync(folder)).toEqual([]);
    },
    MANY_RUNS_MS,
  );

  test(
    "a write that creates a new, empty database says so",
    () => {
      const folder = mkdtempSync(join(dir, "new-"));
      const first = cli(["users", "add", "first@example.org"], { DATABASE_PATH: undefined }, folder);
      expect(first.code).toBe(0);
      expect(first.err).toContain(`ccflux-receiver: database ${join(folder, "ccflux.db")}`);
      expect(first.err).toMatch(/new, empty database/);
      const second = cli(["users", "add", "second@example.org"], { DATABASE_PATH: undefined }, folder);
      expect(second.err).toBe(`ccflux-receiver: database ${join(folder, "ccflux.db")}\n`);
    },
    MANY_RUNS_MS,
  );
});

describe("a lost laptop, one person, and who did it", () => {
  const folder = mkdtempSync(join(dir, "people-"));
  const path = join(folder, "ccflux.db");
  const run = (args: string[]) => cli(args, { DATABASE_PATH: path }, folder);
  const tokenIn = (out: string) => /rtok_[0-9a-f]{64}/.exec(out)?.[0] ?? "";
  const osUser = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();

  test(
    "emails are trimmed and lower-cased; a second active token is warned about; --replace revokes the old",
    () => {
      const first = run(["users", "add", " DUP@Example.org "]);
      expect(first.code).toBe(0);
      expect(first.out).toContain("Refresh token for dup@example.org");
      const second = run(["users", "add", "dup@example.org"]);
      expect(second.code).toBe(0);
      expect(second.err).toContain(
        "warning: dup@example.org already has 1 active refresh token; both work now (to replace it instead, add --replace)",
      );
      expect(sqlite3(path, "SELECT DISTINCT email FROM refresh_tokens;")).toBe("dup@example.org");
      const replaced = run(["users", "add", "Dup@example.org", "--replace"]);
      expect(replaced.code).toBe(0);
      expect(replaced.err).not.toContain("warning");
      expect(replaced.out).toContain("Revoked the 2 other active refresh tokens of dup@example.org.");
      expect(sqlite3(path, "SELECT revoked FROM refresh_tokens ORDER BY id;")).toBe("1\n1\n0");
      expect(run(["users", "revoke", "DUP@EXAMPLE.ORG"]).code).toBe(0);
      expect(sqlite3(path, "SELECT count(*) FROM refresh_tokens WHERE revoked = 0;")).toBe("0");
    },
    MANY_RUNS_MS,
  );

  test(
    "a revoked device id cannot register a new key until devices allow; --reissue replaces the person's token",
    async () => {
      const token = tokenIn(run(["users", "add", "lost@example.org", "--division", "eng"]).out);
      const receiver = await startReceiver({ dir: folder });
      try {
        const client = new Client(receiver.url);
        const access = await client.exchange(token);
        const laptop = newDevice();
        expect((await client.registerKey(access, laptop, "lost-laptop")).status).toBe(200);
        expect(run(["devices", "revoke", laptop.publicKey]).code).toBe(0);

        // The laptop's reporter makes a fresh key under the same device id: refused, as revoked.
        const fresh = newDevice();
        const refused = await client.registerKey(access, fresh, "lost-laptop");
        expect(refused.status).toBe(403);
        expect(refused.headers.get("x-ccflux-error")).toBe("key-revoked");
        // The person's other devices, and new ones, are not affected.
        expect((await client.registerKey(access, newDevice(), "desk")).status).toBe(200);

        const allowed = run(["devices", "allow", laptop.publicKey]);
        expect(allowed.code).toBe(0);
        expect(allowed.out).toContain('lost@example.org\'s device "lost-laptop" may register a new key');
        expect((await client.registerKey(access, fresh, "lost-laptop")).status).toBe(200);
        expect(run(["devices", "allow", laptop.publicKey]).code).toBe(1);
        const listed = JSON.parse(run(["devices", "list", "lost@example.org", "--json"]).out) as {
          public_key: string;
          released_at: string | null;
        }[];
        expect(listed.find((d) => d.public_key === laptop.publicKey)?.released_at).toMatch(/^\d{4}-/);

        const reissued = run(["devices", "revoke", fresh.publicKey, "--reissue"]);
        expect(reissued.code).toBe(0);
        const newToken = tokenIn(reissued.out);
        expect(newToken).not.toBe("");
        expect((await client.post("/token", token)).status).toBe(401);
        expect((await client.post("/token", newToken)).status).toBe(200);
        expect(sqlite3(path, `SELECT division FROM refresh_tokens WHERE token = '${newToken}';`)).toBe("eng");
      } finally {
        await receiver.stop();
      }
    },
    MANY_RUNS_MS,
  );

  test(
    "every write command is in the audit log, with the OS user and the machine it ran on",
    () => {
      const audit = sqlite3(
        path,
        "SELECT action, actor, address, subject FROM admin_audit ORDER BY id;",
      ).split("\n");
      const where = `cli on ${hostname()}`;
      const by = `cli:${osUser}`;
      expect(audit).toEqual([
        `provision|${by}|${where}|dup@example.org`,
        `provision|${by}|${where}|dup@example.org`,
        `provision|${by}|${where}|dup@example.org`,
        `revoke|${by}|${where}|dup@example.org`,
        `revoke|${by}|${where}|dup@example.org`,
        `provision|${by}|${where}|lost@example.org`,
        `device-revoke|${by}|${where}|lost@example.org`,
        `device-allow|${by}|${where}|lost@example.org`,
        `device-revoke|${by}|${where}|lost@example.org`,
        `reissue|${by}|${where}|lost@example.org`,
      ]);
      // Read-only commands leave no trace.
      run(["users", "list"]);
      expect(sqlite3(path, "SELECT count(*) FROM admin_audit;")).toBe(String(audit.length));
      // Under sudo the OS user is the service's; the person who ran sudo is named too.
      const bySudo = cli(
        ["users", "revoke", "lost@example.org"],
        { DATABASE_PATH: path, SUDO_USER: "alice" },
        folder,
      );
      expect(bySudo.code).toBe(0);
      expect(sqlite3(path, "SELECT actor FROM admin_audit ORDER BY id DESC LIMIT 1;")).toBe(
        `cli:${osUser} (sudo by alice)`,
      );
    },
    MANY_RUNS_MS,
  );
});
