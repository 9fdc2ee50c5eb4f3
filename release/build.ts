// `bun run build`: compiles the receiver and the reporter for this machine into dist/.
import { $ } from "bun";

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

const root = new URL("..", import.meta.url).pathname;

export async function buildHost(): Promise<string[]> {
  const outputs: string[] = [];
  for (const program of PROGRAMS) {
    const outfile = `${root}dist/${program.name}-linux-x86_64`;
    await $`bun build ${FLAGS} ${root}${program.entry} --outfile ${outfile}`.quiet();
    outputs.push(outfile);
  }
  return outputs;
}

if (import.meta.main) {
  for (const file of await buildHost()) console.log(`built ${file.slice(root.length)}`);
}
