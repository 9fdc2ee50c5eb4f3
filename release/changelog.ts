// `bun run release/changelog.ts VERSION`: prints that version's section of CHANGELOG.md, the notes
// the release workflow publishes. Fails when the section is missing or empty, so a tag without
// notes never becomes a release.
import { join } from "node:path";

export const CHANGELOG = join(import.meta.dir, "../CHANGELOG.md");

/** The body under `## [VERSION]` (Keep a Changelog), without its heading; null when absent or empty. */
export function changelogSection(changelog: string, version: string): string | null {
  const lines = changelog.split("\n");
  const heading = new RegExp(`^## \\[${version.replaceAll(".", "\\.")}\\]`);
  const start = lines.findIndex((line) => heading.test(line));
  if (start < 0) return null;
  const next = lines.findIndex((line, i) => i > start && /^## /.test(line));
  const body = lines
    .slice(start + 1, next < 0 ? undefined : next)
    .join("\n")
    .trim();
  return body === "" ? null : body;
}

if (import.meta.main) {
  const version = process.argv[2]?.replace(/^v/, "");
  if (!version) {
    console.error("usage: bun run release/changelog.ts VERSION");
    process.exit(2);
  }
  const section = changelogSection(await Bun.file(CHANGELOG).text(), version);
  if (!section) {
    console.error(
      `CHANGELOG.md has no "## [${version}]" section with notes; add one before tagging v${version}`,
    );
    process.exit(1);
  }
  console.log(section);
}
