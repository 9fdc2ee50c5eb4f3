// Reporters heal a restored receiver. Compiled reporters (one `ccflux hook stop` process per turn,
// senders detached, as Claude Code runs them) keep the compiled receiver under signed load; a copy
// of its database is taken (`backup FILE`, sqlite3's .backup, or cp while it is stopped); the load
// goes on for RESTORE_GAP_MS, so the copy lacks many acknowledged reports; the receiver is stopped,
// the copy restored as docs/server-setup.md says, the receiver started, and each reporter runs one
// more hook. Then every turn any reporter counted is stored exactly once, the rollups equal the raw
// sums, and the file passes integrity_check.
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../src/reporter/files.ts";
import { assistant, jsonl, REPO_ROOT } from "../reporter/helpers.ts";
import { type FakeHome, fakeHome } from "../reporter/session.ts";
import { guideInsert, guideToken } from "../support/client.ts";
import { ensureBinary, sqlite3, startReceiver, type TestReceiver } from "../support/receiver.ts";
import { checkDatabase, rng, rowKey, type Usage } from "./support.ts";

/** How long the load goes on after the copy (the issue speaks of minutes; seconds prove the same). */
const RESTORE_GAP_MS = Number(process.env.CCFLUX_RESTORE_GAP_MS ?? 4_000);
const LOAD_BEFORE_COPY_MS = 2_000;
const REPORTERS = 4;
const SEED = Number(process.env.CCFLUX_FAULT_SEED ?? 1212);
const REPORTER = join(REPO_ROOT, "dist", "ccflux-linux-x86_64");
const MODEL = "claude-opus-4-6";

interface Reporter {
  email: string;
  session: string;
  home: FakeHome;
  turns: number;
}

let receiver: TestReceiver | undefined;
let reporters: Reporter[] = [];
afterEach(async () => {
  // Senders still waiting in backoff would otherwise outlive the test's folders.
  for (const r of reporters) killSender(r);
  if (receiver?.proc.exitCode === null) await receiver.stop();
  receiver?.cleanup();
  for (const r of reporters) r.home.remove();
  reporters = [];
});

function killSender(r: Reporter): void {
  try {
    process.kill(Number.parseInt(readFileSync(statePaths(r.home.env).senderLock, "utf8"), 10), "SIGKILL");
  } catch {}
}

/** Rows every reporter counted, as checkDatabase wants them. */
const counted = new Map<string, Usage>();

/** One turn: a response appended to the transcript, then the Stop hook as Claude Code runs it. */
async function turn(r: Reporter, random: () => number): Promise<void> {
  const usage: Usage = {
    input_tokens: 1 + Math.floor(random() * 5_000),
    output_tokens: 1 + Math.floor(random() * 2_000),
    cache_read_tokens: Math.floor(random() * 100_000),
    cache_write_tokens: Math.floor(random() * 10_000),
  };
  r.home.append(
    r.home.transcript(r.session),
    jsonl(
      assistant({
        id: `msg_${r.session}_${r.turns}`,
        model: MODEL,
        sessionId: r.session,
        timestamp: new Date().toISOString(),
        input: usage.input_tokens,
        output: usage.output_tokens,
        cacheRead: usage.cache_read_tokens,
        cacheWrite: usage.cache_write_tokens,
      }),
    ),
  );
  const hook = Bun.spawn([REPORTER, "hook", "stop"], {
    env: r.home.env,
    stdin: Buffer.from(r.home.hookInput(r.session)),
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await hook.exited).toBe(0);
  counted.set(rowKey(r.email, r.session, r.turns, MODEL), usage);
  r.turns++;
}

/** Every reporter runs turns, a few tens of milliseconds apart, for `ms`. */
async function load(ms: number, random: () => number): Promise<void> {
  const until = Date.now() + ms;
  await Promise.all(
    reporters.map(async (r) => {
      while (Date.now() < until) {
        await turn(r, random);
        await Bun.sleep(20 + Math.floor(random() * 60));
      }
    }),
  );
}

function quiet(r: Reporter): boolean {
  const paths = statePaths(r.home.env);
  return r.home.outbox().length === 0 && !existsSync(paths.senderLock);
}

async function allDelivered(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!reporters.every(quiet)) {
    if (Date.now() > deadline) {
      const story = reporters.map((r) => {
        const paths = statePaths(r.home.env);
        const log = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").slice(-800) : "");
        return `${r.email}: ${r.home.outbox().length} queued\n${log(paths.activityLog)}${log(paths.errorsLog)}`;
      });
      throw new Error(`reporters still sending:\n${story.join("\n")}`);
    }
    await Bun.sleep(100);
  }
}

const rows = (dbPath: string) => Number(sqlite3(dbPath, "SELECT count(*) FROM usage_events;"));

/** The three ways an admin gets a copy of the database. */
const COPIES: Record<string, (r: TestReceiver, file: string) => Promise<TestReceiver>> = {
  "backup FILE": async (r, file) => {
    const backup = Bun.spawnSync([join(r.dir, "ccflux-receiver"), "backup", file], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: r.dbPath },
    });
    expect([backup.exitCode, backup.stdout.toString()]).toEqual([0, `Backed up ${r.dbPath} to ${file}.\n`]);
    return r;
  },
  "sqlite3 .backup": async (r, file) => {
    r.sql(`.backup '${file}'`);
    return r;
  },
  "cp while stopped": async (r, file) => {
    expect(await r.stop()).toBe(0);
    copyFileSync(r.dbPath, file);
    return r.restart();
  },
};

describe("reporters heal a receiver restored to an earlier copy", () => {
  for (const [how, copy] of Object.entries(COPIES)) {
    test(
      `from ${how}: every counted turn stored exactly once (seed ${SEED})`,
      async () => {
        ensureBinary();
        counted.clear();
        const random = rng(SEED);
        receiver = await startReceiver({
          binary: true,
          env: {
            REQUIRE_SIGNATURES: "1",
            RATE_LIMIT_PER_MINUTE: "100000",
            TIER_INFERENCE_INTERVAL_SECS: "3600",
          },
        });
        for (let i = 0; i < REPORTERS; i++) {
          const email = `heal${i}@example.org`;
          const token = guideToken();
          receiver.sql(guideInsert(token, email));
          const home = fakeHome({
            CLAUDE_PLUGIN_OPTION_API_ENDPOINT: `${receiver.url}/report`,
            CLAUDE_PLUGIN_OPTION_API_TOKEN: token,
            CCFLUX_ALLOW_HTTP: "1",
            CCFLUX_BACKOFF_MS: "50",
            CCFLUX_SENDER: "",
          });
          reporters.push({ email, session: `sess-heal-${i}`, home, turns: 0 });
        }

        await load(LOAD_BEFORE_COPY_MS, random);
        const file = join(receiver.dir, "copy.db");
        receiver = await copy(receiver, file);
        await load(RESTORE_GAP_MS, random);
        await allDelivered();
        const acknowledged = rows(receiver.dbPath);
        const inCopy = rows(file);
        expect(acknowledged).toBe(counted.size);
        // The copy really is older: it lacks many reports that got a 200.
        expect(acknowledged - inCopy).toBeGreaterThan(10 * REPORTERS);

        // The restore, as docs/server-setup.md says.
        expect(await receiver.stop()).toBe(0);
        for (const suffix of ["", "-wal", "-shm"]) {
          if (existsSync(receiver.dbPath + suffix))
            renameSync(receiver.dbPath + suffix, `${receiver.dbPath + suffix}.broken`);
        }
        copyFileSync(file, receiver.dbPath);
        rmSync(`${receiver.dbPath}.broken`, { force: true });
        receiver = await receiver.restart();
        expect(rows(receiver.dbPath)).toBe(inCopy);

        // One more turn each heals it.
        await Promise.all(reporters.map((r) => turn(r, random)));
        await allDelivered();
        expect(await receiver.stop()).toBe(0);
        const problems = checkDatabase(receiver, counted);
        expect(problems.slice(0, 20)).toEqual([]);
        expect(rows(receiver.dbPath)).toBe(counted.size);
        const resent = reporters.map((r) =>
          readFileSync(statePaths(r.home.env).activityLog, "utf8").includes("receiver lost reports"),
        );
        expect(resent).toEqual(reporters.map(() => true));
        console.log(
          `restore-heal (${how}): ${counted.size} turns from ${REPORTERS} reporters, ${acknowledged - inCopy} acknowledged after the copy and healed`,
        );
      },
      { timeout: 120_000 },
    );
  }
});
