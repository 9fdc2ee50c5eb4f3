// The GitHub workflows' structure, checked without GitHub: the keys GitHub accepts, each step
// either a `uses` or a `run`, and the steps this project relies on. (.ci/run also runs actionlint.)
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const WORKFLOWS = join(import.meta.dir, "../../.github/workflows");

type Step = Record<string, unknown> & { uses?: string; run?: string; with?: Record<string, unknown> };
type Job = Record<string, unknown> & { steps: Step[] };
type Workflow = Record<string, unknown> & { on: Record<string, unknown>; jobs: Record<string, Job> };

async function load(name: string): Promise<Workflow> {
  return Bun.YAML.parse(await Bun.file(join(WORKFLOWS, name)).text()) as Workflow;
}

// From GitHub's workflow syntax reference.
const WORKFLOW_KEYS = ["name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"];
const JOB_KEYS = [
  "name",
  "permissions",
  "needs",
  "if",
  "runs-on",
  "environment",
  "concurrency",
  "outputs",
  "env",
  "defaults",
  "steps",
  "timeout-minutes",
  "strategy",
  "continue-on-error",
  "container",
  "services",
];
const STEP_KEYS = ["id", "if", "name", "uses", "run", "working-directory", "shell", "with", "env"];
const STEP_KEYS_MORE = ["continue-on-error", "timeout-minutes"];

function runs(workflow: Workflow): string[] {
  return Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((step) => step.run ?? []));
}

describe.each(["ci.yml", "release.yml"])("%s", (name) => {
  test("uses only keys GitHub accepts, and every step is either `uses` or `run`", async () => {
    const workflow = await load(name);
    for (const key of Object.keys(workflow)) expect(WORKFLOW_KEYS).toContain(key);
    expect(typeof workflow.name).toBe("string");
    expect(Object.keys(workflow.jobs).length).toBeGreaterThan(0);
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      expect(jobName).toMatch(/^[A-Za-z_][A-Za-z0-9_-]*$/);
      for (const key of Object.keys(job)) expect(JOB_KEYS).toContain(key);
      expect(typeof job["runs-on"]).toBe("string");
      expect(job.steps.length).toBeGreaterThan(0);
      for (const step of job.steps) {
        for (const key of Object.keys(step)) expect([...STEP_KEYS, ...STEP_KEYS_MORE]).toContain(key);
        expect(Number(step.uses !== undefined) + Number(step.run !== undefined)).toBe(1);
        // Actions are pinned to a major version at least, never a moving branch.
        if (step.uses) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+/);
      }
    }
  });

  test("checks out the code and installs the pinned Bun, the same Bun the tests run on", async () => {
    const steps = Object.values((await load(name)).jobs).flatMap((job) => job.steps);
    const checkout = steps.findIndex((step) => step.uses?.startsWith("actions/checkout@"));
    const install = steps.findIndex((step) => step.run === "bun install --frozen-lockfile");
    expect(checkout).toBeGreaterThanOrEqual(0);
    expect(install).toBeGreaterThan(checkout);
    const setup = steps.find((step) => step.uses?.startsWith("oven-sh/setup-bun@"));
    expect(String(setup?.with?.["bun-version"])).toBe(Bun.version);
    expect(runs(await load(name))).toContain("bun install --frozen-lockfile");
  });
});

describe("ci.yml", () => {
  test("runs on pushes and pull requests", async () => {
    const { on } = await load("ci.yml");
    expect(Object.keys(on).sort()).toEqual(["pull_request", "push"]);
  });

  test("runs the same checks as .ci/run, then the build", async () => {
    const commands = runs(await load("ci.yml"));
    const order = ["bun run lint", "bun run typecheck", "bun test", "bun run build"].map((command) =>
      commands.findIndex((run) => run.trim() === command),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const apt = commands.find((run) => run.includes("apt-get install")) ?? "";
    // tmux, iproute2 and npm: the real Claude Code's end-to-end test (interactive session, loopback-only
    // namespace, the pinned CLI from npm).
    for (const pkg of [
      "sqlite3",
      "chromium",
      "wrk",
      "nginx",
      "caddy",
      "systemd",
      "python3",
      "tmux",
      "iproute2",
      "npm",
    ]) {
      expect(apt).toMatch(new RegExp(`\\s${pkg}(\\s|$)`));
    }
    expect(commands).toContain("bun run test/e2e/claude-code.ts");
    expect(commands.some((run) => run.includes("actionlint"))).toBe(true);
  });
});

describe("release.yml", () => {
  test("runs on v* tags only and may write releases", async () => {
    const workflow = await load("release.yml");
    expect(workflow.on).toEqual({ push: { tags: ["v*"] } });
    expect(workflow.permissions).toEqual({ contents: "write" });
  });

  test("sets the version from the tag in one step, before building, then checks and publishes", async () => {
    const commands = runs(await load("release.yml"));
    // Anything that writes a version: our script, npm's own commands, or a hand edit of a manifest.
    const stamping = commands.filter((run) =>
      /set-version|npm (pkg set|version)|sed .*version|jq .*version/.test(run),
    );
    expect(stamping).toEqual(['bun run release/set-version.ts "$GITHUB_REF_NAME"']);
    const at = (needle: string) =>
      commands.findIndex((run) =>
        needle === "bun run release" ? run.trim() === needle : run.includes(needle),
      );
    const steps = [
      "release/set-version.ts",
      "release/changelog.ts",
      "bun run release",
      "release/smoke.ts",
      "gh release create",
    ].map(at);
    expect(steps.every((index) => index >= 0)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    const publish = commands[at("gh release create")]!;
    expect(publish).toContain("--notes-file");
    expect(publish).toContain("dist/SHA256SUMS");
  });
});
