// `bun run release/set-version.ts vX.Y.Z`: writes the version everywhere it must agree, from the one
// value given (the release workflow passes the tag): package.json (which --version prints), the
// plugin's plugin.json (its launcher downloads the binaries of that release) and the marketplace entry.
import { join } from "node:path";

export const VERSIONED_FILES = [
  "package.json",
  "release/plugin/.claude-plugin/plugin.json",
  ".claude-plugin/marketplace.json",
] as const;

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** Replaces the first `"version": "…"` of a JSON text, keeping the file's own formatting. */
export function withVersion(text: string, version: string): string {
  const pattern = /("version"\s*:\s*)"[^"]*"/;
  if (!pattern.test(text)) throw new Error('no "version" field');
  return text.replace(pattern, `$1"${version}"`);
}

/** Each file's version (null where it has none or is missing), for checks before a release. */
export async function versionsIn(root: string): Promise<Record<string, string | null>> {
  const versions: Record<string, string | null> = {};
  for (const file of VERSIONED_FILES) {
    const handle = Bun.file(join(root, file));
    versions[file] = (await handle.exists())
      ? (/"version"\s*:\s*"([^"]*)"/.exec(await handle.text())?.[1] ?? null)
      : null;
  }
  return versions;
}

export async function setVersion(root: string, tag: string): Promise<string[]> {
  const version = tag.replace(/^v/, "");
  if (!SEMVER.test(version)) throw new Error(`${tag}: expected a tag such as v1.2.3`);
  const written: string[] = [];
  for (const file of VERSIONED_FILES) {
    const handle = Bun.file(join(root, file));
    if (!(await handle.exists())) throw new Error(`${file} is missing`);
    await Bun.write(handle, withVersion(await handle.text(), version));
    written.push(file);
  }
  return written;
}

if (import.meta.main) {
  const tag = process.argv[2];
  if (!tag) {
    console.error("usage: bun run release/set-version.ts vX.Y.Z");
    process.exit(2);
  }
  try {
    for (const file of await setVersion(join(import.meta.dir, ".."), tag)) console.log(`${file}: ${tag}`);
  } catch (error) {
    console.error(`set-version: ${(error as Error).message}`);
    process.exit(1);
  }
}
