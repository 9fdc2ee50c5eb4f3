// `bun run release` for this machine's targets, into a temp folder: the asset names the guide's
// download URL relies on, --version against package.json, SHA256SUMS, the plugin zip, and /health.
// The other targets need Bun runtimes from the npm registry; `bun run release` builds them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";
import pkg from "../../package.json";
import {
  assetName,
  buildRelease,
  CHECKSUMS,
  COMPRESSED,
  DEPLOY_FILES,
  hostTarget,
  PLUGIN_ZIP,
  PROGRAMS,
  RELEASE_TARGETS,
} from "../../release/build.ts";
import { CHANGELOG, changelogSection } from "../../release/changelog.ts";
import { setVersion, VERSIONED_FILES, versionsIn, withVersion } from "../../release/set-version.ts";
import { checksumProblems, receiverHealth, versionLine } from "../../release/smoke.ts";
import { crc32, writeZip } from "../../release/zip.ts";

const ROOT = join(import.meta.dir, "../..");
const PLUGIN_DIR = join(ROOT, "release/plugin");

/** Names, CRC check and Unix modes of a zip, read by Python's zipfile (an independent reader). */
function readZip(file: string): { name: string; mode: number }[] {
  const script = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad: sys.exit("bad CRC in " + bad)
print(json.dumps([{"name": i.filename, "mode": i.external_attr >> 16} for i in z.infolist()]))`;
  const result = Bun.spawnSync(["python3", "-c", script, file]);
  if (result.exitCode !== 0) throw new Error(`python3 zipfile: ${result.stderr}`);
  return JSON.parse(result.stdout.toString());
}

test("the release publishes exactly the asset names of the issue and the guide", () => {
  const names = PROGRAMS.flatMap((p) => RELEASE_TARGETS[p.name].map((t) => assetName(p.name, t)));
  expect(names.sort()).toEqual(
    [
      "ccflux-receiver-linux-x86_64",
      "ccflux-receiver-linux-aarch64",
      "ccflux-linux-x86_64",
      "ccflux-linux-aarch64",
      "ccflux-macos-x86_64",
      "ccflux-macos-aarch64",
      "ccflux-windows-x86_64.exe",
    ].sort(),
  );
});

describe("a host release build", () => {
  let dir: string;
  let built: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ccflux-release-"));
    built = await buildRelease({ outDir: dir, hostOnly: true });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("writes this machine's binaries, the compressed reporter, the plugin zip, the deploy files and SHA256SUMS, by their release names", () => {
    expect(built).toEqual([
      assetName("ccflux-receiver", hostTarget()),
      assetName("ccflux", hostTarget()),
      `${assetName("ccflux", hostTarget())}${COMPRESSED}`,
      PLUGIN_ZIP,
      ...DEPLOY_FILES,
      CHECKSUMS,
    ]);
    for (const name of built.slice(0, 2)) expect(statSync(join(dir, name)).mode & 0o111).not.toBe(0);
  });

  test("the compressed reporter is gzip that gunzip turns back into the very binary SHA256SUMS names", async () => {
    const name = assetName("ccflux", hostTarget());
    const gunzip = Bun.spawnSync(["gzip", "-d", "-c", join(dir, `${name}${COMPRESSED}`)]);
    expect(gunzip.exitCode).toBe(0);
    const sums = await Bun.file(join(dir, CHECKSUMS)).text();
    const listed = sums
      .split("\n")
      .find((line) => line.endsWith(`  ${name}`))
      ?.split("  ")[0];
    expect(new Bun.CryptoHasher("sha256").update(gunzip.stdout).digest("hex")).toBe(listed ?? "");
    const plain = statSync(join(dir, name)).size;
    const compressed = statSync(join(dir, `${name}${COMPRESSED}`)).size;
    console.log(`reporter: ${(plain / 1e6).toFixed(1)} MB, compressed ${(compressed / 1e6).toFixed(1)} MB`);
    expect(compressed).toBeLessThan(plain * 0.6);
  });

  test("the deploy files server-setup installs are published as they are in release/, and none is left out", () => {
    // Every file of release/ that is not build code or the plugin is something IT installs.
    const shipped = readdirSync(join(ROOT, "release"), { withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.endsWith(".ts"))
      .map((entry) => entry.name)
      .sort();
    expect([...DEPLOY_FILES].sort()).toEqual(shipped);
    for (const name of ["ccflux-receiver.service", "ccflux-receiver.env.example", "nginx.conf", "Caddyfile"])
      expect(DEPLOY_FILES).toContain(name);
    for (const name of DEPLOY_FILES)
      expect(readFileSync(join(dir, name), "utf8")).toBe(readFileSync(join(ROOT, "release", name), "utf8"));
  });

  test("each binary's --version is package.json's version", () => {
    expect(versionLine(join(dir, assetName("ccflux-receiver", hostTarget())))).toBe(
      `ccflux-receiver ${pkg.version}`,
    );
    // The reporter may print the bare version.
    expect([`ccflux ${pkg.version}`, pkg.version]).toContain(
      versionLine(join(dir, assetName("ccflux", hostTarget()))),
    );
  });

  test("SHA256SUMS has one line per asset, in sha256sum's format, and every line matches", async () => {
    const lines = (await Bun.file(join(dir, CHECKSUMS)).text()).trimEnd().split("\n");
    expect(lines.map((line) => line.split("  ")[1])).toEqual(built.filter((name) => name !== CHECKSUMS));
    expect(await checksumProblems(dir)).toEqual([]);
    const sha256sum = Bun.spawnSync(["sha256sum", "--check", "--strict", CHECKSUMS], { cwd: dir });
    expect(sha256sum.exitCode).toBe(0);
  }, 60_000);

  test("a changed asset no longer matches SHA256SUMS", async () => {
    const copy = mkdtempSync(join(tmpdir(), "ccflux-release-tampered-"));
    try {
      for (const name of built) copyFileSync(join(dir, name), join(copy, name));
      await Bun.write(join(copy, PLUGIN_ZIP), "not the plugin");
      expect(await checksumProblems(copy)).toEqual([`${PLUGIN_ZIP}: checksum differs`]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  test("the plugin zip holds every file of release/plugin under ccflux/, execute bits kept", () => {
    const files = [...new Bun.Glob("**/*").scanSync({ cwd: PLUGIN_DIR, dot: true })].sort();
    expect(files.length).toBeGreaterThan(0);
    const entries = readZip(join(dir, PLUGIN_ZIP));
    expect(entries.map((e) => e.name)).toEqual(files.map((f) => `ccflux/${f}`));
    for (const [i, file] of files.entries()) {
      const executable = (statSync(join(PLUGIN_DIR, file)).mode & 0o111) !== 0;
      expect(`${file} ${(entries[i]!.mode & 0o111) !== 0}`).toBe(`${file} ${executable}`);
    }
  });

  test("the receiver binary starts on a fresh database and answers GET /health", async () => {
    const health = await receiverHealth(join(dir, assetName("ccflux-receiver", hostTarget())));
    expect(health).toEqual({ status: 200, body: { status: "ok", db: "ok" } });
  });
});

describe("zip writer", () => {
  test("its CRC-32 agrees with zlib's", () => {
    for (const text of ["", "a", "hello\n", "x".repeat(10_000)]) {
      const data = new TextEncoder().encode(text);
      expect(crc32(data)).toBe(zlibCrc32(data));
    }
  });

  test("writes a zip another reader opens, with names, contents and modes intact", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccflux-zip-"));
    try {
      const file = join(dir, "t.zip");
      const data = new TextEncoder().encode("#!/bin/sh\necho ünïcode\n");
      await Bun.write(
        file,
        writeZip([
          { name: "p/run.sh", data, executable: true },
          { name: "p/empty.txt", data: new Uint8Array() },
        ]),
      );
      expect(readZip(file)).toEqual([
        { name: "p/run.sh", mode: 0o100755 },
        { name: "p/empty.txt", mode: 0o100644 },
      ]);
      const extracted = Bun.spawnSync([
        "python3",
        "-c",
        "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('p/run.sh'))",
        file,
      ]);
      expect(new Uint8Array(extracted.stdout)).toEqual(data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("release notes", () => {
  test("CHANGELOG.md has notes for package.json's version", async () => {
    const section = changelogSection(await Bun.file(CHANGELOG).text(), pkg.version);
    expect(section).toContain("### Added");
  });

  test("a section ends at the next version's heading; a missing or empty one is null", () => {
    const text =
      "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-01-01\n### Fixed\n- a\n\n## [1.1.0]\n- b\n";
    expect(changelogSection(text, "1.2.0")).toBe("### Fixed\n- a");
    expect(changelogSection(text, "1.1.0")).toBe("- b");
    expect(changelogSection(text, "1.3.0")).toBeNull();
    expect(changelogSection(text, "Unreleased")).toBeNull();
    // The dots are literal: 1.1.0 must not match 1x1x0.
    expect(changelogSection("## [1x1x0]\n- c\n", "1.1.0")).toBeNull();
  });

  test("the release workflow's version step and notes step take the tag as vX.Y.Z", () => {
    const run = Bun.spawnSync([process.execPath, join(ROOT, "release/changelog.ts"), `v${pkg.version}`]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toContain("### Added");
    const missing = Bun.spawnSync([process.execPath, join(ROOT, "release/changelog.ts"), "v99.0.0"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.toString()).toContain("CHANGELOG.md has no");
  });
});

describe("version", () => {
  test("package.json, the plugin and the marketplace entry carry the same version", async () => {
    const versions = await versionsIn(ROOT);
    expect(Object.keys(versions)).toEqual([...VERSIONED_FILES]);
    for (const file of VERSIONED_FILES) expect(`${file}: ${versions[file]}`).toBe(`${file}: ${pkg.version}`);
  });

  test("set-version writes the tag's version to each file and nothing else of it", async () => {
    const root = mkdtempSync(join(tmpdir(), "ccflux-version-"));
    try {
      for (const file of VERSIONED_FILES) {
        mkdirSync(dirname(join(root, file)), { recursive: true });
        cpSync(join(ROOT, file), join(root, file));
      }
      expect(await setVersion(root, "v7.8.9")).toEqual([...VERSIONED_FILES]);
      for (const file of VERSIONED_FILES) {
        const before = await Bun.file(join(ROOT, file)).text();
        const after = await Bun.file(join(root, file)).text();
        expect(after).toBe(withVersion(before, "7.8.9"));
        expect(after).not.toBe(before);
      }
      expect(Object.values(await versionsIn(root))).toEqual(VERSIONED_FILES.map(() => "7.8.9"));
      expect(setVersion(root, "latest")).rejects.toThrow("expected a tag such as v1.2.3");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a built binary prints the version set-version wrote", async () => {
    // What the release workflow does: stamp, then build; --version must show the tag.
    const root = mkdtempSync(join(tmpdir(), "ccflux-stamped-"));
    try {
      cpSync(join(ROOT, "src"), join(root, "src"), { recursive: true });
      cpSync(join(ROOT, "package.json"), join(root, "package.json"));
      symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
      await Bun.write(
        join(root, "package.json"),
        withVersion(await Bun.file(join(root, "package.json")).text(), "7.8.9"),
      );
      const out = join(root, "ccflux-receiver");
      const build = Bun.spawnSync(
        ["bun", "build", "--compile", join(root, "src/receiver/main.ts"), "--outfile", out],
        {
          cwd: ROOT,
        },
      );
      expect(build.exitCode).toBe(0);
      expect(versionLine(out)).toBe("ccflux-receiver 7.8.9");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
