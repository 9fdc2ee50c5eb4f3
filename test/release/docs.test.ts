// docs/configuration.md against the code: variables and defaults, endpoints (asked of a running
// receiver), error codes and statuses (read from the receiver's source), reporter state files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { SignatureErrors } from "../../src/protocol/errors.ts";
import { CONFIG_VARIABLES } from "../../src/receiver/config.ts";
import { statePaths } from "../../src/reporter/files.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

const ROOT = join(import.meta.dir, "../..");
const REFERENCE = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");

/** The rows of the first table under the `## heading`, as arrays of cells. */
function tableUnder(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const section = markdown.slice(start + heading.length + 5).split(/\n## /)[0]!;
  const rows = section
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  return rows.slice(2); // header and separator
}

function code(cell: string): string {
  const match = /^`([^`]*)`$/.exec(cell);
  if (!match) throw new Error(`expected a single \`code\` cell, got: ${cell}`);
  return match[1]!;
}

function sourceFiles(dir: string): string[] {
  return [...new Bun.Glob("**/*.ts").scanSync({ cwd: join(ROOT, dir) })].map((f) => join(ROOT, dir, f));
}

describe("configuration.md: environment variables", () => {
  const rows = tableUnder(REFERENCE, "Receiver environment variables");

  test("documents every variable the receiver reads, in the code's order, and nothing else", () => {
    expect(rows.map((row) => code(row[0]!))).toEqual(CONFIG_VARIABLES.map((v) => v.name));
  });

  test("gives each variable the code's default", () => {
    const documented = Object.fromEntries(rows.map((row) => [code(row[0]!), row[1]!]));
    for (const variable of CONFIG_VARIABLES) {
      const expected = variable.fallback === "" ? "unset" : `\`${variable.fallback}\``;
      expect(`${variable.name}: ${documented[variable.name]}`).toBe(`${variable.name}: ${expected}`);
    }
  });

  test("describes each variable", () => {
    for (const row of rows) expect(row[2]!.length).toBeGreaterThan(20);
  });
});

describe("configuration.md: endpoints", () => {
  const rows = tableUnder(REFERENCE, "Receiver endpoints");
  const documented = rows.map((row) => `${code(row[0]!)} ${code(row[1]!)}`);
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.stop();
    receiver.cleanup();
  });

  test("documents every API route the receiver's controllers declare, and nothing else", () => {
    const declared = new Set<string>();
    for (const file of sourceFiles("src/receiver")) {
      for (const match of readFileSync(file, "utf8").matchAll(
        /\.(get|post|put|patch|delete)\(\s*"(\/[^"]*)"/g,
      )) {
        // The admin dashboard has its own page of documentation.
        if (!match[2]!.startsWith("/admin")) declared.add(`${match[1]!.toUpperCase()} ${match[2]}`);
      }
    }
    expect([...declared].sort()).toEqual([...documented].sort());
  });

  test("every documented endpoint answers on a running receiver", async () => {
    for (const endpoint of documented) {
      const [method, path] = endpoint.split(" ");
      const response = await fetch(`${receiver.url}${path}`, { method });
      expect(`${endpoint} ${response.status}`).not.toBe(`${endpoint} 404`);
    }
    // The check itself can fail: an unknown path is a 404.
    expect((await fetch(`${receiver.url}/no-such-endpoint`)).status).toBe(404);
  });

  test("token-bearing endpoints answer 401 unauthorized without a token", async () => {
    for (const row of rows.filter((r) => r[2]!.startsWith("`Bearer"))) {
      const response = await fetch(`${receiver.url}${code(row[1]!)}`, { method: code(row[0]!) });
      expect(response.status).toBe(401);
      expect(response.headers.get("X-CCFLUX-Error")).toBe("unauthorized");
    }
  });

  test("every metric named is in GET /metrics; the replication ones only with LITESTREAM_METRICS_URL", async () => {
    const metrics = await (await fetch(`${receiver.url}/metrics`)).text();
    const replicationSection = REFERENCE.slice(
      REFERENCE.indexOf("\n### Replication\n"),
      REFERENCE.indexOf("\n## Receiver endpoints\n"),
    );
    const replicationNamed = new Set(
      [...replicationSection.matchAll(/`(ccflux_[a-z_]+)`/g)].map((m) => m[1]!),
    );
    const named = [...REFERENCE.matchAll(/`(ccflux_[a-z_]+)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThanOrEqual(7);
    expect(replicationNamed.size).toBe(2);
    for (const name of named) {
      if (replicationNamed.has(name)) expect(metrics).not.toContain(`\n${name}`);
      else expect(metrics).toContain(`\n${name}`);
    }
    const watching = await startReceiver({ env: { LITESTREAM_METRICS_URL: "http://127.0.0.1:9/metrics" } });
    try {
      const withReplication = await (await fetch(`${watching.url}/metrics`)).text();
      for (const name of replicationNamed) expect(withReplication).toContain(`\n${name}`);
    } finally {
      await watching.stop();
      watching.cleanup();
    }
  });

  test("GET /health answers the documented body", async () => {
    const response = await fetch(`${receiver.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"status":"ok","db":"ok"}');
    expect(REFERENCE).toContain('`200 {"status":"ok","db":"ok"}`');
  });
});

describe("configuration.md: error codes", () => {
  test("lists exactly the (code, status) pairs the receiver sends", () => {
    const sent = new Set<string>(SignatureErrors.map((name) => `${name} 403`));
    for (const file of sourceFiles("src/receiver")) {
      for (const match of readFileSync(file, "utf8").matchAll(/apiError\(\s*(\d{3}),\s*"([a-z-]+)"/g)) {
        sent.add(`${match[2]} ${match[1]}`);
      }
    }
    const documented = tableUnder(REFERENCE, "Error codes").map((row) => `${code(row[0]!)} ${row[1]}`);
    expect(documented.length).toBe(new Set(documented).size);
    expect([...documented].sort()).toEqual([...sent].sort());
  });
});

describe("configuration.md: reporter state files", () => {
  const FOLDERS = new Set(["outbox", "seen", "spool"]);
  test("names every file and folder the reporter keeps, and nothing else", () => {
    const paths = statePaths({ HOME: "/home/someone" });
    const kept = Object.entries(paths)
      .filter(([key]) => key !== "dir")
      .map(([key, path]) => (FOLDERS.has(key) ? `${basename(path)}/` : basename(path)));
    const documented = tableUnder(REFERENCE, "Reporter state files").map((row) => code(row[0]!));
    expect([...documented].sort()).toEqual([...kept].sort());
  });

  test("says where the folder is, as the reporter computes it", () => {
    expect(statePaths({ HOME: "/home/someone" }).dir).toBe("/home/someone/.claude/ccflux");
    expect(statePaths({ CLAUDE_CONFIG_DIR: "/cfg" }).dir).toBe("/cfg/ccflux");
    expect(REFERENCE).toContain("`$CLAUDE_CONFIG_DIR/ccflux`");
    expect(REFERENCE).toContain("`~/.claude/ccflux`");
  });
});

describe("configuration.md: command line", () => {
  test("every documented command is in the receiver's help", () => {
    const help = (args: string[]) =>
      Bun.spawnSync([process.execPath, join(ROOT, "src/receiver/main.ts"), ...args]).stdout.toString();
    const main = help(["--help"]);
    const texts = [
      main,
      help(["users", "--help"]),
      help(["devices", "--help"]),
      help(["demo-data", "--help"]),
    ].join("\n");
    for (const row of tableUnder(REFERENCE, "Receiver command line")) {
      for (const usage of row[0]!.split(", ")) {
        // The command's words, up to its first argument (EMAIL, FILE, [--json], …).
        const all = code(usage).split(" ");
        const firstArgument = all.findIndex((word) => !/^[a-z-]+$/.test(word));
        const words = firstArgument < 0 ? all : all.slice(0, firstArgument);
        expect(texts).toContain(words.join(" "));
      }
    }
  });

  test("documents every command the receiver's help lists", () => {
    const main = Bun.spawnSync([
      process.execPath,
      join(ROOT, "src/receiver/main.ts"),
      "--help",
    ]).stdout.toString();
    const commands = [...main.matchAll(/^ {2}ccflux-receiver ([a-z][a-z-]*) /gm)].map((m) => m[1]!);
    expect(commands).toContain("users");
    const documented = tableUnder(REFERENCE, "Receiver command line").map((row) => row[0]!);
    for (const command of commands) {
      expect(documented.some((cell) => cell.startsWith(`\`ccflux-receiver ${command} `))).toBe(true);
    }
  });
});

describe("server-setup.md", () => {
  const setup = readFileSync(join(ROOT, "docs/server-setup.md"), "utf8");

  test.each([
    "ccflux-receiver.service",
    "ccflux-receiver.env.example",
    "nginx.conf",
    "Caddyfile",
    "litestream.yml",
    "litestream.env.example",
    "ccflux-litestream.service",
  ])("shows release/%s exactly as shipped", (name) => {
    expect(setup).toContain(`\n${readFileSync(join(ROOT, "release", name), "utf8").trimEnd()}\n\`\`\``);
  });

  test("prints the same startup block as the receiver", async () => {
    const documented = /```\n(ccflux-receiver config:\n[\s\S]*?listening on [^\n]+)\n```/.exec(setup)?.[1];
    expect(documented).toBeDefined();
    const receiver = await startReceiver({ env: { ADMIN_TOKEN: "x".repeat(64) } });
    try {
      const printed = receiver
        .output()
        .slice(0, receiver.output().indexOf("\n", receiver.output().indexOf("listening on")));
      const expected = documented!
        .replace("/var/lib/ccflux/ccflux.db", receiver.dbPath)
        .replaceAll("127.0.0.1:8080", `127.0.0.1:${receiver.port}`)
        .replace(`LISTEN_ADDR = 127.0.0.1:${receiver.port}`, "LISTEN_ADDR = 127.0.0.1:0");
      expect(printed).toBe(expected);
    } finally {
      await receiver.stop();
      receiver.cleanup();
    }
  });

  test("names the assets the release publishes", async () => {
    const { PROGRAMS, RELEASE_TARGETS, assetName, PLUGIN_ZIP, CHECKSUMS, COMPRESSED } = await import(
      "../../release/build.ts"
    );
    for (const program of PROGRAMS) {
      for (const target of RELEASE_TARGETS[program.name])
        expect(setup).toContain(`\`${assetName(program.name, target)}\``);
    }
    expect(setup).toContain(`\`ccflux-<os>-<cpu>${COMPRESSED}\``);
    expect(setup).toContain(`\`${PLUGIN_ZIP}\``);
    expect(setup).toContain(`\`${CHECKSUMS}\``);
  });

  test("downloads, from the release, every deploy file it installs, and only published assets", async () => {
    const { PROGRAMS, RELEASE_TARGETS, assetName, PLUGIN_ZIP, CHECKSUMS, DEPLOY_FILES } = await import(
      "../../release/build.ts"
    );
    const published = new Set<string>([
      ...PROGRAMS.flatMap((p) => RELEASE_TARGETS[p.name].map((t) => assetName(p.name, t))),
      PLUGIN_ZIP,
      CHECKSUMS,
      ...DEPLOY_FILES,
    ]);
    const downloaded = [
      ...setup.matchAll(
        /^for asset in ([^;]+); do\n\s+wget "https:\/\/github\.com\/Psy-Fer\/ccflux\/releases\/latest\/download\/\$asset"$/gm,
      ),
    ].flatMap((m) => m[1]!.split(" "));
    for (const name of DEPLOY_FILES) expect(downloaded).toContain(name);
    for (const name of downloaded) expect(published.has(name)).toBe(true);
    expect(downloaded).toContain(CHECKSUMS);
  });

  test("backup, as shown, copies a live database and refuses to overwrite", async () => {
    const receiver = await startReceiver();
    try {
      receiver.sql(
        "INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('rtok_x', 'a@example.org', datetime('now', '+1 day'));",
      );
      const backup = join(receiver.dir, "backup.db");
      const run = () =>
        Bun.spawnSync([process.execPath, join(ROOT, "src/receiver/main.ts"), "backup", backup], {
          env: { ...process.env, DATABASE_PATH: receiver.dbPath },
        });
      expect(run().exitCode).toBe(0);
      expect(
        Bun.spawnSync(["sqlite3", backup, "SELECT email FROM refresh_tokens"]).stdout.toString().trim(),
      ).toBe("a@example.org");
      expect(run().exitCode).toBe(1);
    } finally {
      await receiver.stop();
      receiver.cleanup();
    }
  });
});

describe("protocol.md", () => {
  const protocol = readFileSync(join(ROOT, "docs/protocol.md"), "utf8");

  test("names every body field the receiver reads, and every signature error code", () => {
    const fields = new Set<string>();
    for (const file of ["src/protocol/report.ts", "src/protocol/delivery.ts"]) {
      const source = readFileSync(join(ROOT, file), "utf8");
      // Every field read off a body (`value.length` is JavaScript's, not a field).
      for (const match of source.matchAll(/\b(?:b|body|value)\.([a-z][a-z0-9_]*)\b/g))
        if (match[1] !== "length") fields.add(match[1]!);
      for (const match of source.matchAll(/"((?:cache_write|limit|overage)_[a-z0-9_]+|requests)"/g))
        fields.add(match[1]!);
    }
    expect(fields.size).toBeGreaterThan(15);
    for (const field of fields)
      expect(`${field}: ${protocol.includes(`\`${field}\``)}`).toBe(`${field}: true`);
    for (const code of SignatureErrors) expect(protocol).toContain(`\`${code}\``);
  });

  test("is where the docs send readers for the protocol: no reference to a PROTOCOL.md left", () => {
    for (const file of ["README.md", ...readdirSync(join(ROOT, "docs")).map((name) => `docs/${name}`)]) {
      expect(`${file}: ${readFileSync(join(ROOT, file), "utf8").includes("PROTOCOL.md")}`).toBe(
        `${file}: false`,
      );
    }
    expect(readFileSync(join(ROOT, "docs/configuration.md"), "utf8")).toContain("(protocol.md)");
    expect(protocol).toContain("## 4. Protocol version 2");
  });
});
