import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { status } from "../../src/reporter/commands.ts";
import { loadConfig, resolveEndpoints, userEmail } from "../../src/reporter/config.ts";
import { acquireLock, ensureStateDir, statePaths } from "../../src/reporter/files.ts";
import { STATE_LOCK_WAIT_MS } from "../../src/reporter/hook.ts";
import { LOG_CAP_BYTES, logger } from "../../src/reporter/log.ts";
import { appendOutbox, listOutbox } from "../../src/reporter/outbox.ts";
import {
  advisorIteration,
  assistant,
  FIXTURES,
  FIXTURES_MISSING,
  HAVE_FIXTURES,
  jsonl,
  REPO_ROOT,
  tempDir,
  transientLimitLine,
  usageLimitLine,
  userLine,
} from "./helpers.ts";
import {
  countsOf,
  expectedSession,
  type FakeHome,
  fakeHome,
  SESSION_FILES,
  stateText,
  sumReports,
} from "./session.ts";

let home: FakeHome;
afterEach(() => home?.remove());

describe("a session replayed turn by turn through the hook", () => {
  if (!HAVE_FIXTURES) {
    test.skip(FIXTURES_MISSING, () => {});
    return;
  }
  test("reports add up to the session's expected totals, sub-agents and compaction included and reported apart", () => {
    home = fakeHome();
    const sessionId = "ae4a77f8-aedd-4bc1-888f-c94edc91af04";
    const main = readFileSync(join(FIXTURES, SESSION_FILES.main));
    const transcript = home.transcript(sessionId);
    // Cut anywhere, mid-line included: a half-written line must wait for the next turn.
    const cuts = [
      0,
      1000,
      1001,
      90_000,
      333_333,
      600_000,
      600_001,
      900_000,
      1_200_000,
      1_500_000,
      main.length,
    ];
    for (let i = 1; i < cuts.length; i++) {
      home.append(transcript, main.subarray(cuts[i - 1], cuts[i]));
      if (i === 4) {
        const folder = join(home.projectDir, sessionId, "subagents");
        for (const file of SESSION_FILES.subagents) {
          const bytes = readFileSync(join(FIXTURES, file));
          // The sub-agent file also arrives in two parts, and SubagentStop reads it.
          home.append(join(folder, file.split("/").pop() ?? ""), bytes.subarray(0, bytes.length >> 1));
          home.hook(sessionId, "SubagentStop");
          home.append(join(folder, file.split("/").pop() ?? ""), bytes.subarray(bytes.length >> 1));
        }
      }
      home.hook(sessionId);
    }
    home.hook(sessionId, "SessionEnd");
    const reports = home.reports();
    const expected = expectedSession();
    const { totals, subagent } = sumReports(reports);
    expect(countsOf(totals)).toEqual(expected.totals);
    expect(countsOf(subagent)).toEqual(expected.subagent);
    // One report per turn that added something, numbered without gaps or repeats.
    expect(reports.map((r) => r.turn_index)).toEqual(reports.map((_, i) => i));
    expect(new Set(reports.map((r) => r.session_id))).toEqual(new Set([sessionId]));
    const first = reports[0];
    expect(first?.schema_version).toBe(2);
    expect(first?.user_email).toBe("dev@example.org");
    expect(first?.claude_code_version).toMatch(/^2\.1\.3\d$/);
    expect(first?.session_start_utc).toMatch(/^2026-\d\d-\d\dT/);
    // v2 extras: the cache split sums to the cache writes, and requests count API responses.
    for (const [model, counts] of Object.entries(totals)) {
      expect((counts.cache_write_5m_tokens ?? 0) + (counts.cache_write_1h_tokens ?? 0)).toBe(
        counts.cache_write_tokens ?? -1,
      );
      expect(counts.requests).toBeGreaterThan(0);
      expect(model).not.toBe("<synthetic>");
    }
  });
});

describe("hook edge cases", () => {
  test("nothing configured: the hook does nothing at all, silently", () => {
    home = fakeHome({ CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "", CLAUDE_PLUGIN_OPTION_API_TOKEN: "" });
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1" })));
    home.hook("s1");
    expect(existsSync(join(home.configDir, "ccflux"))).toBe(false);
  });

  test("the config file is the fallback when the plugin settings are empty", () => {
    home = fakeHome({ CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "", CLAUDE_PLUGIN_OPTION_API_TOKEN: "" });
    home.append(
      join(home.configDir, "ccflux", "config.json"),
      JSON.stringify({ endpoint: "https://x.example", token: "rtok_file" }),
    );
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1", output: 42 })));
    home.hook("s1");
    expect(home.reports().map((r) => r.models["claude-opus-4-6"]?.output_tokens)).toEqual([42]);
  });

  test("the config file fills in what the plugin settings leave empty (endpoint org-wide, token per person)", () => {
    home = fakeHome({ CLAUDE_PLUGIN_OPTION_API_TOKEN: "" });
    home.append(
      join(home.configDir, "ccflux", "config.json"),
      JSON.stringify({ token: "rtok_from_device_management" }),
    );
    const config = loadConfig(home.env, statePaths(home.env));
    expect(config).toEqual({
      endpoint: "https://ccflux.example.org/report",
      token: "rtok_from_device_management",
      source: "Claude Code's plugin settings and the config file",
    });
  });

  test("status from a terminal, which lacks the plugin settings, says where the hooks found them", () => {
    home = fakeHome();
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1" })));
    home.hook("s1");
    const terminal = {
      ...home.env,
      CLAUDE_PLUGIN_OPTION_API_ENDPOINT: "",
      CLAUDE_PLUGIN_OPTION_API_TOKEN: "",
    };
    const lines = status(terminal);
    expect(lines[0]).toMatch(/^configured: +yes, from Claude Code's plugin settings \(as a hook saw it at /);
    expect(lines[1]).toBe("receiver:     https://ccflux.example.org");
    expect(lines).toContain("outbox:       1 reports waiting");
    expect(lines.join("\n")).not.toContain("rtok_test");
  });

  test("a turn with nothing new queues nothing and uses no turn index", () => {
    home = fakeHome();
    const path = home.transcript("s1");
    home.append(path, jsonl(userLine(), assistant({ id: "m1" })));
    home.hook("s1");
    home.append(path, jsonl(userLine("only a prompt, no answer yet")));
    home.hook("s1");
    home.append(path, jsonl(assistant({ id: "m2" })));
    home.hook("s1");
    expect(home.reports().map((r) => r.turn_index)).toEqual([0, 1]);
  });

  test("a forked session (history copied into a new file) reports only its new responses", () => {
    home = fakeHome();
    const history = jsonl(
      userLine(),
      assistant({ id: "m1", output: 11 }),
      assistant({ id: "m2", output: 22 }),
    );
    home.append(home.transcript("original"), history);
    home.hook("original");
    home.append(
      home.transcript("fork"),
      history + jsonl(assistant({ id: "m3", output: 33, sessionId: "fork" })),
    );
    home.hook("fork");
    const outputs = home.reports().map((r) => [r.session_id, r.models["claude-opus-4-6"]?.output_tokens]);
    expect(outputs).toEqual([
      ["original", 33],
      ["fork", 33],
    ]);
  });

  const outputOf = (model = "claude-opus-4-6") =>
    home.reports().reduce((sum, r) => sum + (r.models[model]?.output_tokens ?? 0), 0);

  test("nested workflow agents count; a workflow journal does not; SubagentStop's named file counts once", () => {
    home = fakeHome();
    const sub = join(home.projectDir, "s1", "subagents");
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1", output: 1 })));
    home.append(join(sub, "workflows", "wf_1", "agent-w1.jsonl"), jsonl(assistant({ id: "w1", output: 10 })));
    home.append(
      join(sub, "workflows", "wf_1", "journal.jsonl"),
      jsonl(assistant({ id: "j1", output: 1000 })),
    );
    home.hook("s1");
    // A sub-agent file somewhere else, named by SubagentStop; and a named file also listed above.
    const elsewhere = join(home.dir, "agents", "agent-x.jsonl");
    home.append(elsewhere, jsonl(assistant({ id: "x1", output: 100 })));
    const listed = join(sub, "workflows", "wf_1", "agent-w1.jsonl");
    home.append(listed, jsonl(assistant({ id: "w2", output: 10_000 })));
    home.hook("s1", "SubagentStop", { agent_transcript_path: elsewhere });
    home.hook("s1", "SubagentStop", { agent_transcript_path: listed });
    home.hook("s1", "SubagentStop", {
      agent_transcript_path: join(sub, "workflows", "wf_1", "journal.jsonl"),
    });
    expect(outputOf()).toBe(10_111);
    expect(
      home.reports().reduce((sum, r) => sum + (r.models["claude-opus-4-6"]?.subagent?.output_tokens ?? 0), 0),
    ).toBe(10_110);
  });

  test("a /btw replay (same message id, new requestId, sidechain file) counts once", () => {
    home = fakeHome();
    const now = new Date().toISOString();
    home.append(
      home.transcript("s1"),
      jsonl(assistant({ id: "msg_1", requestId: "req_a", output: 40, timestamp: now })),
    );
    home.hook("s1");
    home.append(
      join(home.projectDir, "s1", "subagents", "agent-side.jsonl"),
      jsonl(
        assistant({ id: "msg_1", requestId: "req_btw", output: 40, sidechain: true, timestamp: now }),
        assistant({ id: "msg_2", requestId: "req_btw2", output: 5, sidechain: true, timestamp: now }),
      ),
    );
    home.hook("s1");
    expect(outputOf()).toBe(45);
  });

  test("a resumed copy is counted once even after more than 10,000 other responses", () => {
    home = fakeHome();
    const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString();
    home.append(home.transcript("old"), jsonl(assistant({ id: "msg_old", output: 7, timestamp: day(30) })));
    home.hook("old");
    const many = Array.from({ length: 10_050 }, (_, i) =>
      assistant({ id: `msg_${i}`, output: 1, input: 0, cacheRead: 0, cacheWrite: 0, timestamp: day(1) }),
    );
    home.append(home.transcript("busy"), jsonl(...many));
    home.hook("busy");
    // Resumed a month later: the old response is copied into the new file under a new requestId.
    home.append(
      home.transcript("resumed"),
      jsonl(
        assistant({ id: "msg_old", requestId: "req_copy", output: 7, timestamp: day(30) }),
        assistant({ id: "msg_old", output: 7, timestamp: day(30) }),
        assistant({ id: "msg_new", output: 3, timestamp: day(0) }),
      ),
    );
    home.hook("resumed");
    // A hook's time budget may have left part of the busy file to the next hooks.
    home.settle("resumed");
    const output: Record<string, number> = {};
    for (const r of home.reports())
      output[r.session_id] = (output[r.session_id] ?? 0) + (r.models["claude-opus-4-6"]?.output_tokens ?? 0);
    expect(output).toEqual({ old: 7, busy: 10_050, resumed: 3 });
  });

  test("a turn across hours carries each call's tokens in its own hour; a one-hour turn carries no split", () => {
    home = fakeHome();
    const call = (id: string, timestamp: string, output: number) =>
      assistant({ id, timestamp, output, input: 1, cacheRead: 0, cacheWrite: 0 });
    home.append(
      home.transcript("s1"),
      jsonl(call("m1", "2026-05-11T03:10:00Z", 5), call("m2", "2026-05-11T03:50:00Z", 6)),
    );
    home.hook("s1");
    home.append(
      home.transcript("s1"),
      jsonl(
        call("m3", "2026-05-11T05:59:59.900Z", 7),
        call("m4", "2026-05-11T06:00:00.100Z", 8),
        // A call with no readable time goes with the turn's last hour.
        JSON.stringify({ ...JSON.parse(call("m5", "", 9)), timestamp: "yesterday" }),
      ),
    );
    home.hook("s1");
    const [first, second] = home.reports();
    expect(first?.models["claude-opus-4-6"]?.hours).toBeUndefined();
    expect(first?.timestamp_utc).toBe("2026-05-11T03:50:00Z");
    expect(second?.timestamp_utc).toBe("2026-05-11T06:00:00Z");
    expect(second?.models["claude-opus-4-6"]).toMatchObject({
      input_tokens: 3,
      output_tokens: 24,
      requests: 3,
      hours: {
        "2026-05-11T05:00:00Z": {
          input_tokens: 1,
          output_tokens: 7,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
        },
        "2026-05-11T06:00:00Z": {
          input_tokens: 2,
          output_tokens: 17,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
        },
      },
    });
  });

  test("calls over more than 24 hours (a catch-up) take several reports, each with its own time", () => {
    home = fakeHome();
    const start = Date.parse("2026-05-11T00:30:00Z");
    const calls = Array.from({ length: 30 }, (_, i) =>
      assistant({ id: `m${i}`, timestamp: new Date(start + i * 3_600_000).toISOString(), output: 1 }),
    );
    home.append(home.transcript("s1"), jsonl(...calls));
    home.hook("s1");
    const reports = home.reports();
    expect(
      reports.map((r) => [
        r.turn_index,
        r.timestamp_utc,
        Object.keys(r.models["claude-opus-4-6"]?.hours ?? {}).length,
      ]),
    ).toEqual([
      [0, "2026-05-11T23:30:00Z", 24],
      [1, "2026-05-12T05:30:00Z", 6],
    ]);
    expect(reports.reduce((sum, r) => sum + (r.models["claude-opus-4-6"]?.output_tokens ?? 0), 0)).toBe(30);
  });

  test("lines that break the new shapes are skipped alone: the hook stays silent, counts stay exact", () => {
    home = fakeHome();
    const good = (id: string, output: number) => assistant({ id, output, timestamp: "2026-05-11T03:00:00Z" });
    // biome-ignore lint/suspicious/noExplicitAny: the test breaks arbitrary parts of a parsed line
    const odd = (line: string, change: (json: any) => void) => {
      const json = JSON.parse(line);
      change(json);
      return JSON.stringify(json);
    };
    const hostile = [
      odd(good("h1", 1), (j) => {
        j.message.usage.iterations = { type: "advisor_message" };
      }),
      odd(good("h2", 2), (j) => {
        j.message.usage.iterations = [
          advisorIteration("claude-advisor", 2 ** 60, 5),
          { type: "advisor_message", model: {} },
        ];
      }),
      odd(good("h3", 4), (j) => {
        j.timestamp = "2026-13-45T99:99:99Z";
      }),
      odd(good("h4", 8), (j) => {
        j.message.usage.cache_creation = { ephemeral_1h_input_tokens: "all" };
      }),
      odd(usageLimitLine(), (j) => {
        j.apiErrorParams.rate_limit_info = [];
      }),
      odd(usageLimitLine(), (j) => {
        j.apiErrorParams = null;
      }),
      odd(usageLimitLine(), (j) => {
        j.uuid = undefined;
      }),
      odd(usageLimitLine({ uuid: "kept" }), (j) => {
        Object.assign(j.apiErrorParams.rate_limit_info, {
          resetsAt: 1e30,
          rateLimitType: 5,
          overageStatus: "x".repeat(99),
        });
      }),
      '{"type":"assistant","message":{"id":{"a":1},"model":"m","usage":{"iterations":[[[]]]}}}',
      '{"type":"assistant","isApiErrorMessage":true,"apiError":"usage_limit_reached","usage"',
    ];
    home.append(home.transcript("s1"), jsonl(...hostile));
    expect(() => home.hook("s1")).not.toThrow();
    home.hook("s1");
    home.hook("s1", "SessionEnd");
    expect(outputOf()).toBe(15);
    expect(outputOf("claude-advisor")).toBe(5);
    expect(outputOf("m")).toBe(0);
    // The one limit line with a uuid and a rejected rate_limit_info; its broken parts left out.
    expect(limitEvents()).toEqual([
      { schema_version: 2, session_id: "s1", timestamp_utc: "2026-05-11T03:00:00Z", kind: "rate_limit" },
    ]);
    const errorsLog = statePaths(home.env).errorsLog;
    expect(existsSync(errorsLog) ? readFileSync(errorsLog, "utf8") : "").toBe("");
  });

  test("old-style sibling agent files count for their own session only", () => {
    home = fakeHome();
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1", sessionId: "s1" })));
    home.append(home.transcript("s2"), jsonl(assistant({ id: "m2", sessionId: "s2" })));
    home.hook("s1");
    home.hook("s2");
    home.append(
      join(home.projectDir, "agent-1234.jsonl"),
      jsonl(assistant({ id: "a1", sessionId: "s1", output: 70, model: "claude-haiku" })),
    );
    home.append(
      join(home.projectDir, "agent-5678.jsonl"),
      jsonl(assistant({ id: "a2", sessionId: "s2", output: 80, model: "claude-haiku" })),
    );
    home.hook("s1");
    home.hook("s2");
    const agentReports = home.reports().filter((r) => r.models["claude-haiku"]);
    expect(
      agentReports.map((r) => [r.session_id, r.models["claude-haiku"]?.subagent?.output_tokens]),
    ).toEqual([
      ["s1", 70],
      ["s2", 80],
    ]);
  });

  const limitEvents = () =>
    home.outbox().flatMap((entry) => (entry.kind === "limit-event" ? [JSON.parse(entry.body)] : []));

  test("headless: the usage-limit line becomes one limit event with its type and reset, whichever hook reads it", () => {
    home = fakeHome();
    home.append(
      home.transcript("s1"),
      jsonl(
        userLine(),
        usageLimitLine({
          timestamp: "2026-05-11T03:04:05.678Z",
          limitType: "five_hour",
          resetsAt: 1_778_490_000,
        }),
      ),
    );
    // claude -p kills StopFailure at once; SessionEnd reads the same line.
    home.hook("s1", "SessionEnd");
    home.hook("s1", "Stop");
    expect(limitEvents()).toEqual([
      {
        schema_version: 2,
        session_id: "s1",
        timestamp_utc: "2026-05-11T03:04:05Z",
        kind: "rate_limit",
        resets_at: "2026-05-11T09:00:00Z",
        limit_type: "five_hour",
        overage_status: "rejected",
      },
    ]);
  });

  test("interactive: StopFailure runs before its line is written; the next hook sends it, and no limit twice", () => {
    home = fakeHome();
    const failure = (text: string) => ({ error: "rate_limit", last_assistant_message: text });
    home.append(home.transcript("s1"), jsonl(userLine(), assistant({ id: "m1" })));
    home.hook("s1", "StopFailure", failure("You've hit your 5-hour limit · resets 8am (UTC)"));
    expect(limitEvents()).toEqual([]);
    home.append(
      home.transcript("s1"),
      jsonl(usageLimitLine({ uuid: "first", timestamp: "2026-05-11T03:00:00Z", limitType: "five_hour" })),
    );
    // A later turn hits the weekly limit: its StopFailure again runs before its line exists, and must
    // not take the first limit's line for its own (the first line is sent once, as itself).
    home.hook("s1", "StopFailure", failure("You've hit your weekly limit · resets Mon 8am (UTC)"));
    home.append(
      home.transcript("s1"),
      jsonl(usageLimitLine({ uuid: "second", timestamp: "2026-05-12T03:00:00Z", limitType: "seven_day" })),
    );
    home.hook("s1", "SessionEnd");
    home.hook("s1", "SessionEnd");
    expect(limitEvents().map((e) => [e.timestamp_utc, e.limit_type])).toEqual([
      ["2026-05-11T03:00:00Z", "five_hour"],
      ["2026-05-12T03:00:00Z", "seven_day"],
    ]);
  });

  test("rate_limit failures that are not the seat's limit queue no limit event", () => {
    home = fakeHome();
    home.append(home.transcript("s1"), jsonl(userLine(), transientLimitLine()));
    home.hook("s1", "StopFailure", { error: "rate_limit" });
    home.hook("s1", "StopFailure", { error: "server_error" });
    home.append(
      join(home.projectDir, "s1", "subagents", "agent-a1.jsonl"),
      jsonl(usageLimitLine({ sidechain: true })),
    );
    home.hook("s1", "SubagentStop");
    expect(limitEvents()).toEqual([]);
  });

  test("a transcript read again from the start (replaced file) sends no limit event twice", () => {
    home = fakeHome();
    const limit = jsonl(usageLimitLine({ uuid: "only" }));
    home.append(home.transcript("s1"), limit + jsonl(userLine(), userLine()));
    home.hook("s1");
    writeFileSync(home.transcript("s1"), limit);
    home.hook("s1");
    expect(limitEvents()).toHaveLength(1);
  });

  test("state, outbox and logs hold no prompt, path or code", () => {
    home = fakeHome();
    home.append(
      home.transcript("s1"),
      jsonl(userLine("please refactor my secret thing"), assistant({ id: "m1" })),
    );
    home.append(home.transcript("s1"), '{"type":"assistant","message":{"usage":\xff broken\n');
    home.hook("s1");
    const text = stateText(home.configDir);
    expect(text).toContain("claude-opus-4-6");
    for (const secret of ["secret-project", "secret thing", "some secret code", home.dir, "rtok_test"]) {
      expect(text).not.toContain(secret);
    }
  });

  test("temporary files left by a killed hook are removed; a live writer's are kept", () => {
    home = fakeHome();
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1" })));
    home.hook("s1");
    const paths = statePaths(home.env);
    const dead = Bun.spawnSync(["true"]).pid;
    const live = Bun.spawn(["sleep", "30"]);
    try {
      const left = [
        join(paths.outbox, `000000000002.json.${dead}.tmp`),
        join(paths.dir, `state.json.${dead}.tmp`),
        join(paths.outbox, `000000000003.json.${live.pid}.tmp`),
        join(paths.outbox, `000000000004.json.${live.pid}.tmp`),
      ];
      for (const path of left) writeFileSync(path, "{half");
      // A live process's file from two minutes ago is no write in progress either.
      const old = (Date.now() - 120_000) / 1000;
      utimesSync(left[3]!, old, old);
      home.hook("s1");
      expect(left.map((path) => existsSync(path))).toEqual([false, false, true, false]);
      expect(home.outbox()).toHaveLength(1);
    } finally {
      live.kill();
    }
  });

  test("a device whose key IT revoked stays silent", () => {
    home = fakeHome();
    const paths = statePaths(home.env);
    home.append(paths.revokedKey, "revoked seed\n");
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1" })));
    home.hook("s1");
    expect(home.outbox()).toEqual([]);
    expect(existsSync(paths.state)).toBe(false);
  });

  test("a lock left by a dead process is taken over; a live holder makes the hook give up and count later", () => {
    home = fakeHome();
    const paths = statePaths(home.env);
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m1" })));
    // A pid that cannot be running.
    home.append(paths.stateLock, "2147483646\n");
    home.hook("s1");
    expect(home.reports()).toHaveLength(1);
    expect(existsSync(paths.stateLock)).toBe(false);

    // This test process is alive and "holds" the lock: the hook waits, gives up, and loses nothing.
    writeFileSync(paths.stateLock, `${process.pid}\n`);
    home.append(home.transcript("s1"), jsonl(assistant({ id: "m2" })));
    const started = Date.now();
    home.hook("s1");
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(STATE_LOCK_WAIT_MS - 10);
    // Within a hook's budget: SessionEnd gets 1.5 s at most, and must be done well before that.
    expect(STATE_LOCK_WAIT_MS).toBeLessThanOrEqual(300);
    expect(home.reports()).toHaveLength(1);
    expect(readFileSync(paths.activityLog, "utf8")).toContain("another hook held the state lock");
    writeFileSync(paths.stateLock, "");
    utimesSync(paths.stateLock, new Date(0), new Date(0));
    // The hook that gave up kept its input: the next hook, of another session, counts its turn.
    home.hook("s2");
    expect(home.reports().map((r) => r.session_id)).toEqual(["s1", "s1"]);
  });

  test("concurrent hook processes on several sessions never corrupt state or count twice", async () => {
    home = fakeHome();
    const sessions = ["c1", "c2", "c3", "c4"];
    for (const id of sessions) {
      home.append(
        home.transcript(id),
        jsonl(...Array.from({ length: 50 }, (_, i) => assistant({ id: `${id}-${i}`, output: 1 }))),
      );
    }
    const run = (id: string, event: string) =>
      Bun.spawn([process.execPath, join(REPO_ROOT, "src/reporter/main.ts"), "hook", event], {
        env: home.env,
        stdin: Buffer.from(home.hookInput(id, event)),
        stdout: "pipe",
        stderr: "pipe",
      });
    const processes = sessions.flatMap((id) => [run(id, "Stop"), run(id, "SessionEnd"), run(id, "Stop")]);
    const outputs = await Promise.all(
      processes.map(async (p) => [
        await p.exited,
        await new Response(p.stdout).text(),
        await new Response(p.stderr).text(),
      ]),
    );
    // Exit 0 and not a byte on the terminal, every time.
    expect(outputs.every(([code, out, err]) => code === 0 && out === "" && err === "")).toBe(true);
    // On a loaded machine a hook may give up waiting for the lock; the next turn's hook counts its lines.
    for (const id of sessions) home.hook(id);
    const { totals } = sumReports(home.reports());
    expect(totals["claude-opus-4-6"]?.output_tokens).toBe(200);
    expect(totals["claude-opus-4-6"]?.requests).toBe(200);
  });
});

describe("configuration, outbox and logs", () => {
  test("the endpoint may be the base URL or its /report URL, under a sub-path too", () => {
    const env = {};
    const urls = (endpoint: string) => {
      const resolved = resolveEndpoints(endpoint, env);
      return resolved.ok
        ? [resolved.value.token, resolved.value.registerKey, resolved.value.report]
        : resolved.message;
    };
    const plain = ["https://c.example/token", "https://c.example/register-key", "https://c.example/report"];
    expect(urls("https://c.example")).toEqual(plain);
    expect(urls("https://c.example/")).toEqual(plain);
    expect(urls("https://c.example/report")).toEqual(plain);
    expect(urls("https://c.example/ccflux/report/")).toEqual([
      "https://c.example/ccflux/token",
      "https://c.example/ccflux/register-key",
      "https://c.example/ccflux/report",
    ]);
    expect(urls("https://c.example:8443/reporting")[0]).toBe("https://c.example:8443/reporting/token");
    expect(urls("http://c.example/report")).toContain("must start with https://");
    expect(urls("not a url")).toContain("is not a URL");
    const http = resolveEndpoints("http://127.0.0.1:8080/report", { CCFLUX_ALLOW_HTTP: "1" });
    expect(http.ok && http.value.report).toBe("http://127.0.0.1:8080/report");
  });

  test("the email comes from .claude.json in CLAUDE_CONFIG_DIR when set, else in the home folder", () => {
    const { dir, remove } = tempDir();
    try {
      writeFileSync(
        join(dir, ".claude.json"),
        JSON.stringify({ oauthAccount: { emailAddress: "home@example.org" } }),
      );
      expect(userEmail({ HOME: dir })).toBe("home@example.org");
      expect(userEmail({ HOME: "/nonexistent", CLAUDE_CONFIG_DIR: dir })).toBe("home@example.org");
      expect(userEmail({ HOME: "/nonexistent" })).toBe("");
      // Other objects in the file may carry an emailAddress too; only the signed-in account's counts.
      const busy = {
        projects: { "/x": { emailAddress: "not-me@example.org", history: ["…"] } },
        oauthAccount: { accountUuid: "u", emailAddress: 'me+"q"@example.org', organizationRole: "user" },
      };
      writeFileSync(join(dir, ".claude.json"), JSON.stringify(busy, null, 2));
      expect(userEmail({ HOME: dir })).toBe('me+"q"@example.org');
    } finally {
      remove();
    }
  });

  test("the outbox keeps at most its limit, dropping the oldest with a log line", () => {
    home = fakeHome();
    const paths = statePaths(home.env);
    const log = logger(paths);
    ensureStateDir(paths);
    appendOutbox(
      paths.outbox,
      [1, 2, 3, 4].map((n) => ({ kind: "report" as const, body: `{"n":${n}}` })),
      log,
      3,
    );
    appendOutbox(paths.outbox, [{ kind: "report", body: '{"n":5}' }], log, 3);
    expect(home.outbox().map((entry) => entry.body)).toEqual(['{"n":3}', '{"n":4}', '{"n":5}']);
    expect(listOutbox(paths.outbox)).toEqual(["000000000003.json", "000000000004.json", "000000000005.json"]);
    expect(readFileSync(paths.errorsLog, "utf8")).toContain("outbox full: dropped the oldest reports");
  });

  test("logs stay under 64 KB and keep the newest lines", () => {
    home = fakeHome();
    const paths = statePaths(home.env);
    ensureStateDir(paths);
    const log = logger(paths);
    for (let i = 0; i < 2000; i++) log.error("receiver not reachable (ECONNREFUSED); will retry", { n: i });
    const text = readFileSync(paths.errorsLog, "utf8");
    expect(statSync(paths.errorsLog).size).toBeLessThanOrEqual(LOG_CAP_BYTES);
    expect(text.trimEnd().split("\n").pop()).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ error receiver not reachable .* n=1999$/,
    );
    expect(text.startsWith("20")).toBe(true);
  });

  test("a lock held by a live process is not taken, and is released only by its holder", () => {
    const { dir, remove } = tempDir();
    try {
      const path = join(dir, "x.lock");
      const release = acquireLock(path, { waitMs: 0, staleAfterMs: 0 });
      expect(release).not.toBeNull();
      expect(acquireLock(path, { waitMs: 50, staleAfterMs: 0 })).toBeNull();
      release?.();
      expect(existsSync(path)).toBe(false);
    } finally {
      remove();
    }
  });
});
