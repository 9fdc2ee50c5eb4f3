// Compiled reporters as Claude Code runs them, for the restore tests: one `ccflux hook stop`
// process per turn, senders detached, each reporter in its own fake home with its own refresh
// token. `counted` holds every turn a reporter counted, as checkDatabase wants it.

import { expect } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../src/reporter/files.ts";
import { readJournal } from "../../src/reporter/journal.ts";
import { assistant, jsonl, REPO_ROOT } from "../reporter/helpers.ts";
import { type FakeHome, fakeHome } from "../reporter/session.ts";
import { guideInsert, guideToken } from "../support/client.ts";
import type { TestReceiver } from "../support/receiver.ts";
import { rowKey, type Usage } from "./support.ts";

const REPORTER = join(REPO_ROOT, "dist", "ccflux-linux-x86_64");
const MODEL = "claude-opus-4-6";

interface Reporter {
  email: string;
  session: string;
  home: FakeHome;
  turns: number;
}

export class Reporters {
  readonly counted = new Map<string, Usage>();
  private readonly all: Reporter[] = [];

  constructor(private readonly random: () => number) {}

  /** A provisioned user whose reporter sends to `receiver` (and to whatever answers at its URL later). */
  add(receiver: TestReceiver, email: string): void {
    const token = guideToken();
    receiver.sql(guideInsert(token, email));
    const home = fakeHome({
      CLAUDE_PLUGIN_OPTION_API_ENDPOINT: `${receiver.url}/report`,
      CLAUDE_PLUGIN_OPTION_API_TOKEN: token,
      CCFLUX_ALLOW_HTTP: "1",
      CCFLUX_BACKOFF_MS: "50",
      CCFLUX_SENDER: "",
    });
    this.all.push({ email, session: `sess-${email}`, home, turns: 0 });
  }

  get size(): number {
    return this.all.length;
  }

  /** One turn each, at once. */
  async turnEach(): Promise<void> {
    await Promise.all(this.all.map((r) => this.turn(r)));
  }

  /** Every reporter runs turns, a few tens of milliseconds apart, for `ms` and at least `minTurns` each. */
  async load(ms: number, minTurns = 0): Promise<void> {
    const until = Date.now() + ms;
    await Promise.all(
      this.all.map(async (r) => {
        for (let done = 0; done < minTurns || Date.now() < until; done++) {
          await this.turn(r);
          await Bun.sleep(20 + Math.floor(this.random() * 60));
        }
      }),
    );
  }

  /** Waits until every outbox is empty and no sender runs. */
  async allDelivered(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.all.every((r) => quiet(r))) {
      if (Date.now() > deadline) {
        const story = this.all.map((r) => {
          const paths = statePaths(r.home.env);
          const log = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").slice(-800) : "");
          return `${r.email}: ${r.home.outbox().length} queued\n${log(paths.activityLog)}${log(paths.errorsLog)}`;
        });
        throw new Error(`reporters still sending:\n${story.join("\n")}`);
      }
      await Bun.sleep(100);
    }
  }

  /** The rows of every report a receiver acknowledged, from the reporters' journals. */
  acknowledged(): Set<string> {
    const rows = new Set<string>();
    for (const r of this.all) {
      for (const entry of readJournal(statePaths(r.home.env).journal).entries) {
        if (entry.kind !== "report") continue;
        const body = JSON.parse(entry.body) as { session_id: string; turn_index: number; models: object };
        for (const model of Object.keys(body.models))
          rows.add(rowKey(r.email, body.session_id, body.turn_index, model));
      }
    }
    return rows;
  }

  /** For each reporter, whether its log says it found the receiver lacking reports and sent them again. */
  healed(): boolean[] {
    return this.all.map((r) =>
      readFileSync(statePaths(r.home.env).activityLog, "utf8").includes("receiver lost reports"),
    );
  }

  /** Stops senders still waiting in backoff (they would outlive the folders), removes the homes. */
  remove(): void {
    for (const r of this.all) {
      try {
        process.kill(Number.parseInt(readFileSync(statePaths(r.home.env).senderLock, "utf8"), 10), "SIGKILL");
      } catch {}
      r.home.remove();
    }
    this.all.length = 0;
  }

  /** One turn: a response appended to the transcript, then the Stop hook as Claude Code runs it. */
  private async turn(r: Reporter): Promise<void> {
    const usage: Usage = {
      input_tokens: 1 + Math.floor(this.random() * 5_000),
      output_tokens: 1 + Math.floor(this.random() * 2_000),
      cache_read_tokens: Math.floor(this.random() * 100_000),
      cache_write_tokens: Math.floor(this.random() * 10_000),
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
    this.counted.set(rowKey(r.email, r.session, r.turns, MODEL), usage);
    r.turns++;
  }
}

function quiet(r: Reporter): boolean {
  return r.home.outbox().length === 0 && !existsSync(statePaths(r.home.env).senderLock);
}
