// The deployment files in release/ against the setup guide, and each run through the real tool
// that will read it (systemd-analyze, nginx, caddy) where it is installed. In CI these tools must
// be there (.ci/run installs them): a missing one fails instead of skipping.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOGIN_ATTEMPTS_PER_MINUTE } from "../../src/receiver/admin/access.ts";
import { CONFIG_VARIABLES } from "../../src/receiver/config.ts";
import { EXIT_STATUS } from "../../src/receiver/exit-status.ts";
import { startReceiver, type TestReceiver } from "../support/receiver.ts";

const ROOT = join(import.meta.dir, "../..");
const RELEASE = join(ROOT, "release");
const GUIDE_PATH = join(ROOT, "../shared/seed/server-setup-guide.txt");

function tool(name: string): string | null {
  const path = Bun.which(name, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
  if (!path && process.env.CI) throw new Error(`${name} is not installed; .ci/run must install it`);
  return path;
}

type Unit = Map<string, string[]>; // "Section.Key" → values, in order

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const heading = /^\[(\w+)\]$/.exec(line);
    if (heading) {
      section = heading[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = `${section}.${line.slice(0, eq)}`;
    unit.set(key, [...(unit.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

// The unit the setup guide prints in Step 4, word for word. The guide itself lives in shared/ beside
// the repository, which GitHub's CI does not have; where it is present, the copy is checked against it.
const GUIDE_UNIT = `# /etc/systemd/system/ccflux-receiver.service
[Unit]
Description=ccflux receiver
After=network.target
[Service]
Type=simple
User=ccflux
WorkingDirectory=/var/lib/ccflux
Environment=DATABASE_PATH=/var/lib/ccflux/ccflux.db
Environment=LISTEN_ADDR=127.0.0.1:8080
Environment=ADMIN_TOKEN=your-strong-admin-token-here
Environment=COOKIE_SECURE=1
Environment=REQUIRE_SIGNATURES=false
ExecStart=/usr/local/bin/ccflux-receiver
Restart=on-failure
[Install]
WantedBy=multi-user.target`;

test.skipIf(!existsSync(GUIDE_PATH))("the copy of the guide's unit is the guide's", () => {
  const guide = readFileSync(GUIDE_PATH, "utf8");
  const start = guide.indexOf("# /etc/systemd/system/ccflux-receiver.service");
  const end = guide.indexOf("WantedBy=multi-user.target", start);
  expect(start).toBeGreaterThanOrEqual(0);
  expect(guide.slice(start, end + "WantedBy=multi-user.target".length)).toBe(GUIDE_UNIT);
});

/** systemd-analyze verify finds nothing to say and security rates the unit's exposure low. */
function analyzeUnit(name: string, text: string, program: string): void {
  const analyze = tool("systemd-analyze");
  if (!analyze) return;
  const dir = mkdtempSync(join(tmpdir(), "ccflux-unit-"));
  try {
    // verify insists that ExecStart exists; everything else is the shipped file.
    const fake = join(dir, "program");
    writeFileSync(fake, "#!/bin/sh\n");
    chmodSync(fake, 0o755);
    const file = join(dir, name);
    writeFileSync(file, text.replace(`ExecStart=${program}`, `ExecStart=${fake}`));
    const verify = Bun.spawnSync([analyze, "verify", file]);
    expect(verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);
    const security = Bun.spawnSync([analyze, "security", "--offline=yes", "--threshold=35", file]);
    const rating = /Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout.toString())?.[1];
    expect(Number(rating)).toBeLessThanOrEqual(3.5);
    expect(security.exitCode).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const UNIT_TEXT = readFileSync(join(RELEASE, "ccflux-receiver.service"), "utf8");
const unit = parseUnit(UNIT_TEXT);
const one = (key: string) => {
  const values = unit.get(key) ?? [];
  expect(`${key}: ${values.length}`).toBe(`${key}: 1`);
  return values[0]!;
};

describe("ccflux-receiver.service", () => {
  const guide = parseUnit(GUIDE_UNIT);

  test("keeps the guide's ExecStart, user, folder, type, restart, ordering and target", () => {
    for (const key of [
      "Unit.Description",
      "Unit.After",
      "Service.Type",
      "Service.User",
      "Service.WorkingDirectory",
      "Service.ExecStart",
      "Service.Restart",
      "Install.WantedBy",
    ]) {
      expect(`${key}=${unit.get(key)}`).toBe(`${key}=${guide.get(key)}`);
    }
    expect(one("Service.ExecStart")).toBe("/usr/local/bin/ccflux-receiver");
    expect(one("Service.Restart")).toBe("on-failure");
  });

  test("does not restart on the exit statuses a restart cannot cure", () => {
    expect(one("Service.RestartPreventExitStatus").split(" ").map(Number).sort()).toEqual(
      [EXIT_STATUS.usage, EXIT_STATUS.schemaTooNew].sort(),
    );
  });

  test("sets every Environment= of the guide but ADMIN_TOKEN, which moves to the private EnvironmentFile", () => {
    const ours = unit.get("Service.Environment") ?? [];
    const guides = guide.get("Service.Environment") ?? [];
    expect(guides.length).toBe(5);
    for (const line of guides) {
      if (line.startsWith("ADMIN_TOKEN=")) expect(ours.some((o) => o.startsWith("ADMIN_TOKEN"))).toBe(false);
      else expect(ours).toContain(line);
    }
    expect(one("Service.EnvironmentFile")).toBe("-/etc/ccflux/ccflux-receiver.env");
    const names = new Set(CONFIG_VARIABLES.map((v) => v.name));
    for (const line of ours) expect(names.has(line.slice(0, line.indexOf("=")))).toBe(true);
  });

  test("is hardened, and the database folder is the one writable path", () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ReadWritePaths: "/var/lib/ccflux",
      PrivateTmp: "yes",
      ProtectHome: "yes",
      PrivateDevices: "yes",
      RestrictSUIDSGID: "yes",
      CapabilityBoundingSet: "",
    };
    for (const [key, value] of Object.entries(expected))
      expect(`${key}=${one(`Service.${key}`)}`).toBe(`${key}=${value}`);
    const database = (unit.get("Service.Environment") ?? []).find((l) => l.startsWith("DATABASE_PATH="))!;
    expect(database).toBe("DATABASE_PATH=/var/lib/ccflux/ccflux.db");
    expect(one("Service.WorkingDirectory")).toBe(one("Service.ReadWritePaths"));
    // The JIT needs writable-then-executable memory: this setting would stop the receiver at start.
    expect(unit.has("Service.MemoryDenyWriteExecute")).toBe(false);
  });

  test("systemd-analyze verifies it without a warning and rates its exposure low", () => {
    analyzeUnit("ccflux-receiver.service", UNIT_TEXT, "/usr/local/bin/ccflux-receiver");
  });
});

describe("ccflux-receiver.env.example", () => {
  const text = readFileSync(join(RELEASE, "ccflux-receiver.env.example"), "utf8");
  const assignments = [...text.matchAll(/^#?([A-Z_]+)=(.*)$/gm)].map((m) => ({ name: m[1]!, value: m[2]! }));

  test("names only variables the receiver reads, and all of them", () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    for (const { name } of assignments) expect(names).toContain(name);
    expect(new Set(assignments.map((a) => a.name))).toEqual(new Set(names));
  });

  test("ships no admin token: the dashboard stays off until IT sets one", () => {
    expect(text).toMatch(/^ADMIN_TOKEN=$/m);
  });

  test("the receiver starts with it as given", async () => {
    const env: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match) env[match[1]!] = match[2]!;
    }
    const receiver = await startReceiver({ env });
    try {
      expect(receiver.output()).toContain("TRUST_PROXY = true");
      expect(receiver.output()).toContain("BASE_URL = https://ccflux.example.org");
    } finally {
      await receiver.stop();
      receiver.cleanup();
    }
  });
});

/** The receiver as the shipped env file runs it behind a proxy, with the dashboard on. */
const PROXIED_ENV = { TRUST_PROXY: "true", ADMIN_TOKEN: "a-long-admin-token-for-the-proxy-tests" };

/**
 * Wrong logins through the proxy, each forging a new address in every header a client might try:
 * the receiver must see, limit and audit the proxy's peer (127.0.0.1) every time.
 */
async function forgedAddressesDoNotCount(
  origin: string,
  receiver: TestReceiver,
  init: { headers?: Record<string, string>; tls?: { rejectUnauthorized: boolean } } = {},
): Promise<void> {
  const statuses: number[] = [];
  for (let i = 1; i <= LOGIN_ATTEMPTS_PER_MINUTE + 2; i++) {
    const response = await fetch(`${origin}/admin/login`, {
      method: "POST",
      headers: {
        ...init.headers,
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Real-IP": `203.0.113.${i}`,
        "X-Forwarded-For": `198.51.100.${i}`,
        Forwarded: `for=192.0.2.${i}`,
      },
      body: "token=wrong&next=%2Fadmin%2F",
      redirect: "manual",
      tls: init.tls,
    });
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  expect(statuses).toEqual([...Array<number>(LOGIN_ATTEMPTS_PER_MINUTE).fill(401), 429, 429]);
  expect(receiver.sql("SELECT DISTINCT address FROM admin_audit")).toBe("127.0.0.1");
  // The request log names the address too, and never a forged one.
  await Bun.sleep(100); // the log is flushed within 50 ms
  const requests = receiver
    .output()
    .split("\n")
    .filter((l) => l.includes(" request ") && l.includes("/admin"));
  expect(requests.length).toBeGreaterThanOrEqual(LOGIN_ATTEMPTS_PER_MINUTE + 2);
  for (const line of requests) expect(line).toContain(" address=127.0.0.1");
  expect(receiver.output()).not.toMatch(/203\.0\.113\.|198\.51\.100\.|192\.0\.2\./);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe("nginx.conf", () => {
  const nginx = tool("nginx");
  let dir: string;
  let receiver: TestReceiver;
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let httpsPort = 0;
  let httpPort = 0;

  beforeAll(async () => {
    if (!nginx) return;
    dir = mkdtempSync(join(tmpdir(), "ccflux-nginx-"));
    receiver = await startReceiver({ env: PROXIED_ENV });
    const openssl = Bun.spawnSync(
      // biome-ignore format: one option per pair reads better
      ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-days", "1", "-subj", "/CN=ccflux.example.org", "-keyout", join(dir, "privkey.pem"), "-out", join(dir, "fullchain.pem")],
    );
    if (openssl.exitCode !== 0) throw new Error(`openssl: ${openssl.stderr}`);
    httpsPort = await freePort();
    httpPort = await freePort();
    // The shipped server blocks as they are, but for what differs on a test machine: the
    // certificate, the ports, and where the receiver listens.
    const site = readFileSync(join(RELEASE, "nginx.conf"), "utf8")
      .replaceAll("/etc/letsencrypt/live/ccflux.example.org/", `${dir}/`)
      .replaceAll("listen 443 ssl;", `listen 127.0.0.1:${httpsPort} ssl;`)
      .replaceAll("listen 80;", `listen 127.0.0.1:${httpPort};`)
      .replace(/^\s*listen \[::\]:\d+( ssl)?;$/gm, "")
      .replace("proxy_pass http://127.0.0.1:8080;", `proxy_pass ${receiver.url};`);
    writeFileSync(join(dir, "site.conf"), site);
    writeFileSync(
      join(dir, "nginx.conf"),
      `pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`,
    );
  });

  afterAll(async () => {
    if (!nginx) return;
    proc?.kill("SIGTERM");
    await proc?.exited;
    await receiver.stop();
    receiver.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("passes nginx -t", () => {
    if (!nginx) return;
    const check = Bun.spawnSync([nginx, "-t", "-p", dir, "-c", join(dir, "nginx.conf")]);
    expect(check.stderr.toString()).toContain("test is successful");
    expect(check.exitCode).toBe(0);
  });

  test("proxies HTTPS to the receiver and redirects HTTP to HTTPS", async () => {
    if (!nginx) return;
    proc = Bun.spawn([nginx, "-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
      stdout: "ignore",
      stderr: "pipe",
    });
    const deadline = Date.now() + 10_000;
    let health: Response | undefined;
    while (!health) {
      try {
        health = await fetch(`https://127.0.0.1:${httpsPort}/health`, {
          headers: { Host: "ccflux.example.org" },
          tls: { rejectUnauthorized: false },
        });
      } catch (error) {
        if (Date.now() > deadline || proc.exitCode !== null) throw error;
        await Bun.sleep(50);
      }
    }
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('{"status":"ok","db":"ok"}');
    const plain = await fetch(`http://127.0.0.1:${httpPort}/health`, {
      headers: { Host: "ccflux.example.org" },
      redirect: "manual",
    });
    expect(plain.status).toBe(301);
    expect(plain.headers.get("location")).toBe("https://ccflux.example.org/health");
  });

  test("a client cannot forge the address the receiver limits and logs", async () => {
    if (!nginx) return;
    await forgedAddressesDoNotCount(`https://127.0.0.1:${httpsPort}`, receiver, {
      headers: { Host: "ccflux.example.org" },
      tls: { rejectUnauthorized: false },
    });
  });
});

describe("Caddyfile", () => {
  test("is valid, serves the guide's host name and proxies to the guide's address", () => {
    const caddy = tool("caddy");
    if (!caddy) return;
    const file = join(RELEASE, "Caddyfile");
    const env = { ...process.env, HOME: tmpdir(), XDG_DATA_HOME: tmpdir(), XDG_CONFIG_HOME: tmpdir() };
    const adapted = Bun.spawnSync([caddy, "adapt", "--config", file, "--adapter", "caddyfile"], { env });
    expect(adapted.exitCode).toBe(0);
    const json = adapted.stdout.toString();
    expect(json).toContain('"host":["ccflux.example.org"]');
    expect(json).toContain('"dial":"127.0.0.1:8080"');
    const validated = Bun.spawnSync([caddy, "validate", "--config", file, "--adapter", "caddyfile"], { env });
    expect(validated.stdout.toString() + validated.stderr.toString()).toContain("Valid configuration");
    expect(validated.exitCode).toBe(0);
    expect(existsSync(file)).toBe(true);
    // Two Caddy starts: on a loaded 2-core machine they took over bun's default 5 s once.
  }, 30_000);

  test("a client cannot forge the address the receiver limits and logs", async () => {
    const caddy = tool("caddy");
    if (!caddy) return;
    const dir = mkdtempSync(join(tmpdir(), "ccflux-caddy-"));
    const receiver = await startReceiver({ env: PROXIED_ENV });
    let proc: ReturnType<typeof Bun.spawn> | undefined;
    try {
      const port = await freePort();
      // The shipped site block as it is, but served on a loopback port over plain HTTP (no
      // certificate to fetch) and proxying to the test's receiver; no admin API, storage in dir.
      const site = readFileSync(join(RELEASE, "Caddyfile"), "utf8")
        .replace("ccflux.example.org {", `http://127.0.0.1:${port} {`)
        .replace("127.0.0.1:8080", `127.0.0.1:${receiver.port}`);
      const file = join(dir, "Caddyfile");
      writeFileSync(file, `{\n\tadmin off\n\tstorage file_system ${dir}\n}\n${site}`);
      const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
      proc = Bun.spawn([caddy, "run", "--config", file, "--adapter", "caddyfile"], {
        env,
        stdout: "ignore",
        stderr: "pipe",
      });
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) break;
        } catch (error) {
          if (Date.now() > deadline || proc.exitCode !== null) throw error;
        }
        await Bun.sleep(50);
      }
      await forgedAddressesDoNotCount(`http://127.0.0.1:${port}`, receiver);
    } finally {
      proc?.kill("SIGTERM");
      await proc?.exited;
      await receiver.stop();
      receiver.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("ccflux-litestream.service and litestream.yml", () => {
  const text = readFileSync(join(RELEASE, "ccflux-litestream.service"), "utf8");
  const litestream = parseUnit(text);
  const config = readFileSync(join(RELEASE, "litestream.yml"), "utf8");
  const envExample = readFileSync(join(RELEASE, "litestream.env.example"), "utf8");

  test("runs as the receiver's user on the receiver's database, hardened at least as much", () => {
    for (const key of [
      "Service.User",
      "Service.Group",
      "Service.WorkingDirectory",
      "Service.ReadWritePaths",
    ]) {
      expect(`${key}=${litestream.get(key)}`).toBe(`${key}=${unit.get(key)}`);
    }
    const database = (unit.get("Service.Environment") ?? []).find((l) => l.startsWith("DATABASE_PATH="));
    expect(litestream.get("Service.Environment")).toContain(database!);
    for (const [key, values] of unit) {
      if (
        !key.startsWith("Service.") ||
        !/^Service\.(Protect|Private|Restrict|NoNew|Lock|Capab|Ambient|UMask|SystemCallArch)/.test(key)
      )
        continue;
      expect(`${key}=${litestream.get(key)}`).toBe(`${key}=${values}`);
    }
    expect(litestream.get("Service.ExecStart")).toEqual([
      "/usr/local/bin/litestream replicate -config /etc/ccflux/litestream.yml",
    ]);
    // Independent of the receiver: no Requires/BindsTo/PartOf either way.
    for (const key of ["Unit.Requires", "Unit.BindsTo", "Unit.PartOf", "Unit.Requisite"]) {
      expect(litestream.has(key)).toBe(false);
      expect(unit.has(key)).toBe(false);
    }
  });

  test("systemd-analyze verifies it without a warning and rates its exposure low", () => {
    analyzeUnit("ccflux-litestream.service", text, "/usr/local/bin/litestream");
  });

  test("the config takes every setting from the unit or its environment file, and the file names no other", () => {
    const settings = config
      .split("\n")
      .filter((line) => !line.trim().startsWith("#"))
      .join("\n");
    const referenced = new Set([...settings.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!));
    expect(referenced.size).toBeGreaterThanOrEqual(4);
    const fromUnit = (litestream.get("Service.Environment") ?? []).map((l) => l.slice(0, l.indexOf("=")));
    const fromFile = [...envExample.matchAll(/^#?([A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    // Litestream reads the S3 keys from the environment by itself.
    const readByLitestream = ["LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY"];
    for (const name of referenced)
      expect(`${name}: ${[...fromUnit, ...fromFile].includes(name)}`).toBe(`${name}: true`);
    for (const name of fromFile) {
      expect(`${name}: ${referenced.has(name) || readByLitestream.includes(name)}`).toBe(`${name}: true`);
    }
    expect(litestream.get("Service.EnvironmentFile")).toEqual(["/etc/ccflux/litestream.env"]);
    // No secret in a world-readable file: the keys are empty in the example and absent from the config.
    expect(settings).not.toMatch(/secret|access-key/i);
    expect(envExample).toMatch(/^LITESTREAM_SECRET_ACCESS_KEY=$/m);
  });
});
