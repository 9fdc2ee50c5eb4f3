// `bun run build`: compiles the receiver and the reporter for this machine into dist/.
// `bun run release` (`--all`): every release asset into dist/, with SHA256SUMS, the plugin zip and
// the deploy files (units, env examples, proxy configs), exactly as the release workflow publishes them.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { writeZip, type ZipEntry } from "./zip.ts";

const FLAGS = [
  "--compile",
  "--production",
  "--minify",
  "--sourcemap=linked",
  "--bytecode",
  "--format=esm",
  // The binary runs in IT's working directory: it must never pick up a stray .env or bunfig.toml.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

export const PROGRAMS = [
  { entry: "src/receiver/main.ts", name: "ccflux-receiver" },
  { entry: "src/reporter/main.ts", name: "ccflux" },
] as const;

export type ProgramName = (typeof PROGRAMS)[number]["name"];

export interface Target {
  /** The asset name's suffix, as the guide's download URL spells it. */
  suffix: string;
  /** `bun build --target`. */
  bunTarget: string;
  /** The npm package that holds Bun's runtime for this target (used when it is not this machine). */
  runtimePackage: string;
  /** The runtime's path inside that package. */
  runtimeFile: string;
  platform: NodeJS.Platform;
  arch: string;
}

const LINUX_X64: Target = {
  suffix: "linux-x86_64",
  bunTarget: "bun-linux-x64",
  runtimePackage: "@oven/bun-linux-x64",
  runtimeFile: "bin/bun",
  platform: "linux",
  arch: "x64",
};
const LINUX_ARM64: Target = {
  suffix: "linux-aarch64",
  bunTarget: "bun-linux-arm64",
  runtimePackage: "@oven/bun-linux-aarch64",
  runtimeFile: "bin/bun",
  platform: "linux",
  arch: "arm64",
};
const MACOS_X64: Target = {
  suffix: "macos-x86_64",
  bunTarget: "bun-darwin-x64",
  runtimePackage: "@oven/bun-darwin-x64",
  runtimeFile: "bin/bun",
  platform: "darwin",
  arch: "x64",
};
const MACOS_ARM64: Target = {
  suffix: "macos-aarch64",
  bunTarget: "bun-darwin-arm64",
  runtimePackage: "@oven/bun-darwin-aarch64",
  runtimeFile: "bin/bun",
  platform: "darwin",
  arch: "arm64",
};
const WINDOWS_X64: Target = {
  suffix: "windows-x86_64.exe",
  bunTarget: "bun-windows-x64",
  runtimePackage: "@oven/bun-windows-x64",
  runtimeFile: "bin/bun.exe",
  platform: "win32",
  arch: "x64",
};

/** Every binary a release publishes (issue 5); the asset name is `<program>-<suffix>`. */
export const RELEASE_TARGETS: Record<ProgramName, readonly Target[]> = {
  "ccflux-receiver": [LINUX_X64, LINUX_ARM64],
  ccflux: [LINUX_X64, LINUX_ARM64, MACOS_X64, MACOS_ARM64, WINDOWS_X64],
};

export const PLUGIN_ZIP = "ccflux-plugin.zip";
/** The reporter is also published gzip-compressed (`<asset>.gz`): the plugin's launcher prefers it. */
export const COMPRESSED = ".gz";
export const CHECKSUMS = "SHA256SUMS";
/**
 * The files of release/ that IT installs beside the binary (docs/server-setup.md downloads them
 * from the release): the systemd units, the environment-file examples, the proxy configs and
 * Litestream's. Published as they are, under their own names.
 */
export const DEPLOY_FILES: readonly string[] = [
  "ccflux-receiver.service",
  "ccflux-receiver.env.example",
  "nginx.conf",
  "Caddyfile",
  "ccflux-litestream.service",
  "litestream.env.example",
  "litestream.yml",
];

const root = new URL("..", import.meta.url).pathname;
const PLUGIN_DIR = join(root, "release/plugin");

export function isHost(target: Target): boolean {
  return target.platform === process.platform && target.arch === process.arch;
}

export function hostTarget(): Target {
  const target = [LINUX_X64, LINUX_ARM64, MACOS_X64, MACOS_ARM64, WINDOWS_X64].find(isHost);
  if (!target) throw new Error(`no release target for this machine (${process.platform}-${process.arch})`);
  return target;
}

export function assetName(program: ProgramName, target: Target): string {
  return `${program}-${target.suffix}`;
}

/**
 * Bun's runtime for another platform, from the npm registry at this Bun's exact version (the
 * compiler embeds it as is, so the versions must match). `bun build --target` would fetch it from
 * GitHub, which not every build machine reaches. Kept in node_modules/.cache between runs.
 */
async function crossRuntime(target: Target): Promise<string> {
  const folder = join(root, "node_modules/.cache/ccflux-bun-runtimes", Bun.version, target.runtimePackage);
  const runtime = join(folder, target.runtimeFile);
  if (existsSync(runtime)) return runtime;
  const download = mkdtempSync(join(tmpdir(), "ccflux-runtime-"));
  try {
    // npm checks the tarball against the registry's integrity hash.
    await $`npm pack ${`${target.runtimePackage}@${Bun.version}`} --silent --pack-destination ${download}`.quiet();
    const tarball = readdirSync(download).find((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${target.runtimePackage}@${Bun.version} produced no tarball`);
    mkdirSync(folder, { recursive: true });
    await $`tar -xzf ${join(download, tarball)} -C ${folder} --strip-components=1`.quiet();
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
  if (!existsSync(runtime)) throw new Error(`${target.runtimePackage} has no ${target.runtimeFile}`);
  return runtime;
}

async function compile(entry: string, target: Target, outfile: string): Promise<void> {
  if (!existsSync(join(root, entry))) throw new Error(`cannot build ${outfile}: ${entry} does not exist`);
  const cross = isHost(target)
    ? []
    : [`--target=${target.bunTarget}`, `--compile-executable-path=${await crossRuntime(target)}`];
  const result = await $`bun build ${FLAGS} ${cross} ${join(root, entry)} --outfile ${outfile}`
    .quiet()
    .nothrow();
  if (result.exitCode !== 0) {
    throw new Error(`bun build ${entry} for ${target.suffix} failed:\n${result.stderr}${result.stdout}`);
  }
}

export async function buildHost(outDir = join(root, "dist")): Promise<string[]> {
  const outputs: string[] = [];
  for (const program of PROGRAMS) {
    const outfile = join(outDir, assetName(program.name, hostTarget()));
    await compile(program.entry, hostTarget(), outfile);
    outputs.push(outfile);
  }
  return outputs;
}

/** Every file under release/plugin/, as zip entries under `ccflux/` (the folder Claude Code installs). */
async function pluginEntries(pluginDir: string): Promise<ZipEntry[]> {
  if (!existsSync(pluginDir)) return [];
  const entries: ZipEntry[] = [];
  for (const relative of [...new Bun.Glob("**/*").scanSync({ cwd: pluginDir, dot: true })].sort()) {
    const file = Bun.file(join(pluginDir, relative));
    const executable = ((await file.stat()).mode & 0o111) !== 0;
    entries.push({ name: `ccflux/${relative}`, data: await file.bytes(), executable });
  }
  return entries;
}

export function sha256(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

export interface ReleaseOptions {
  outDir: string;
  /** Only the targets this machine runs (no download), as the release test does. */
  hostOnly?: boolean;
  /** The folder zipped as the plugin asset; release/plugin/ unless told. */
  pluginDir?: string;
}

/** Builds the assets, the plugin zip and SHA256SUMS (`sha256sum -c` format); returns the asset names. */
export async function buildRelease({
  outDir,
  hostOnly = false,
  pluginDir = PLUGIN_DIR,
}: ReleaseOptions): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const assets: string[] = [];
  for (const program of PROGRAMS) {
    for (const target of RELEASE_TARGETS[program.name]) {
      if (hostOnly && !isHost(target)) continue;
      const name = assetName(program.name, target);
      await compile(program.entry, target, join(outDir, name));
      assets.push(name);
      if (program.name === "ccflux") {
        const bytes = await Bun.file(join(outDir, name)).bytes();
        await Bun.write(join(outDir, `${name}${COMPRESSED}`), Bun.gzipSync(bytes));
        assets.push(`${name}${COMPRESSED}`);
      }
    }
  }
  const plugin = await pluginEntries(pluginDir);
  if (plugin.length === 0) throw new Error(`cannot zip the plugin: ${pluginDir} is missing or empty`);
  await Bun.write(join(outDir, PLUGIN_ZIP), writeZip(plugin));
  assets.push(PLUGIN_ZIP);
  for (const name of DEPLOY_FILES) {
    copyFileSync(join(root, "release", name), join(outDir, name));
    assets.push(name);
  }

  const lines: string[] = [];
  for (const name of assets) lines.push(`${sha256(await Bun.file(join(outDir, name)).bytes())}  ${name}`);
  await Bun.write(join(outDir, CHECKSUMS), `${lines.join("\n")}\n`);
  return [...assets, CHECKSUMS];
}

if (import.meta.main) {
  const dist = join(root, "dist");
  const built = process.argv.includes("--all")
    ? (await buildRelease({ outDir: dist })).map((name) => join(dist, name))
    : await buildHost(dist);
  for (const file of built) console.log(`built ${file.slice(root.length)}`);
}
