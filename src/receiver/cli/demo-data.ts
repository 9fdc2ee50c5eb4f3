// `ccflux-receiver demo-data --users N --days D [--seed S] [--force]`: fills a database with
// realistic, reproducible usage (work hours in each person's time zone, a few heavy users, several
// models, people with more than one device, some limit hits). It stores each person's reports
// through the report service POST /report uses, all at once, so the rollups are exactly what real
// reports would have made, each row written once.
import { parseArgs } from "node:util";
import { type LimitEvent, type ModelUsage, type Report, toRfc3339 } from "../../protocol/index.ts";
import type { Config } from "../config.ts";
import { openDatabase } from "../db/database.ts";
import type { Delivery, Signer } from "../reports/service.ts";
import { createServices } from "../services.ts";
import type { Identity } from "../tokens/service.ts";
import { CommandError, commandDatabase, UsageError } from "./command.ts";

export const DEMO_DATA_HELP = `Usage:
  ccflux-receiver demo-data --users N --days D [--seed S] [--force]

Fills DATABASE_PATH with N demo users and D days of usage ending now, the same for the same seed
(default 1). Refuses a database that already holds tokens, devices or usage unless --force.`;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WINDOW_MS = 5 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;
const MAX_USERS = 100_000;
const MAX_DAYS = 3650;
const USERS_PER_COMMIT = 200;

/** sfc32: small, fast, and the same sequence for the same seed on every platform. */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

const FIRST = [
  "alex",
  "sam",
  "jo",
  "maria",
  "li",
  "ahmed",
  "priya",
  "tom",
  "anna",
  "kenji",
  "fatima",
  "lucas",
  "emma",
  "noah",
  "olga",
  "raj",
  "sofia",
  "ben",
  "chen",
  "ines",
];
const LAST = [
  "smith",
  "garcia",
  "wang",
  "kumar",
  "mueller",
  "rossi",
  "tanaka",
  "okafor",
  "novak",
  "silva",
  "brown",
  "kim",
  "larsen",
  "dubois",
  "cohen",
  "ali",
  "jensen",
  "moreau",
  "ito",
  "reyes",
];
const DIVISIONS = ["engineering", "platform", "data", "mobile", "research", "security", "support"];
/** UTC offsets in hours: offices in the Americas, Europe and Asia. */
const ZONES = [-8, -5, -5, 0, 1, 1, 1, 2, 5.5, 8, 9];
const MODELS = [
  { name: "claude-sonnet-4-5", weight: 0.62 },
  { name: "claude-opus-4-5", weight: 0.23 },
  { name: "claude-haiku-4-5", weight: 0.15 },
] as const;
const DEVICE_KINDS = ["laptop", "desktop", "devbox", "workstation"];

interface DemoDevice {
  signer: Signer;
  revokedAfter: number | null;
}

interface DemoUser {
  identity: Identity;
  refreshToken: string;
  /** The last turn simulated, when the reporter would last have exchanged its token. */
  lastTurnAt: number | null;
  /** Multiplies how much the person works with Claude Code; a few are far above 1. */
  intensity: number;
  utcOffsetHours: number;
  /** Billed tokens per 5-hour window at which their seat stops them. */
  seatLimit: number;
  /** Billed tokens per 7 days at which their seat stops them, and the week so far. */
  weeklyLimit: number;
  weekStart: number;
  weekBilled: number;
  devices: DemoDevice[];
  modelBias: number;
}

export interface DemoSummary {
  users: number;
  usageRows: number;
  turns: number;
  limitEvents: number;
  seconds: number;
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function logNormal(random: () => number, sigma: number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function between(random: () => number, low: number, high: number): number {
  return Math.floor(low + random() * (high - low));
}

function publicKey(random: () => number): string {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return Buffer.from(bytes).toString("base64");
}

function modelFor(random: () => number, bias: number): string {
  let roll = random() * (1 + bias);
  for (const model of MODELS) {
    roll -= model.name.includes("opus") ? model.weight + bias : model.weight;
    if (roll <= 0) return model.name;
  }
  return MODELS[0].name;
}

function turnUsage(random: () => number, model: string): ModelUsage {
  const heavy = model.includes("opus") ? 1.4 : model.includes("haiku") ? 0.5 : 1;
  const cacheWrite = Math.round(between(random, 400, 12_000) * heavy);
  const fiveMinute = Math.round(cacheWrite * (0.6 + random() * 0.4));
  const usage: ModelUsage = {
    input_tokens: Math.round(between(random, 20, 2500) * heavy),
    output_tokens: Math.round(between(random, 150, 3500) * heavy),
    cache_read_tokens: Math.round(between(random, 8_000, 140_000) * heavy),
    cache_write_tokens: cacheWrite,
    cache_write_5m_tokens: fiveMinute,
    cache_write_1h_tokens: cacheWrite - fiveMinute,
    requests: between(random, 1, 9),
  };
  if (random() < 0.15) {
    usage.subagent = {
      input_tokens: Math.round(usage.input_tokens * 0.3),
      output_tokens: Math.round(usage.output_tokens * 0.3),
      cache_read_tokens: Math.round(usage.cache_read_tokens * 0.3),
      cache_write_tokens: Math.round(cacheWrite * 0.3),
    };
  }
  return usage;
}

/** Refuses unless the database holds no tokens, devices or usage (or `force`). */
function checkEmpty(db: ReturnType<typeof openDatabase>, path: string, force: boolean): void {
  const held = db
    .query<{ usage: number; tokens: number; devices: number }, []>(
      `SELECT (SELECT count(*) FROM usage_events) AS usage, (SELECT count(*) FROM refresh_tokens) AS tokens,
         (SELECT count(*) FROM device_keys) AS devices`,
    )
    .get()!;
  if (!force && held.usage + held.tokens + held.devices > 0) {
    throw new CommandError(
      `demo-data: DATABASE_PATH=${path} already holds data (${held.usage} usage rows, ${held.tokens} refresh tokens, ${held.devices} device keys); point DATABASE_PATH at a new file, or add --force to mix demo data into it`,
    );
  }
}

export function fillDemoData(
  config: Config,
  options: { users: number; days: number; seed: number; force: boolean },
  now = Date.now(),
): DemoSummary {
  const started = performance.now();
  const random = seededRandom(options.seed);
  const db = openDatabase(config.databasePath);
  // A fill touches every table's pages over and over: up to 1 GiB of page cache for this
  // connection only (the receiver keeps SQLite's default), taken as the file grows, saves reading
  // pages back (20,000 users × 30 days: 194 s with 256 MiB, 180 s with 1 GiB).
  db.run("PRAGMA cache_size = -1048576");
  // Statement journals in memory: in a long transaction each report's upserts, whose triggers
  // touch several rows, open one, and on disk they cost a temporary file's writes per report.
  db.run("PRAGMA temp_store = MEMORY");
  try {
    checkEmpty(db, config.databasePath, options.force);
    const services = createServices(db, config);
    const firstDay = Math.floor(now / DAY_MS) * DAY_MS - (options.days - 1) * DAY_MS;
    const users: DemoUser[] = [];
    const summary: DemoSummary = { users: options.users, usageRows: 0, turns: 0, limitEvents: 0, seconds: 0 };

    db.transaction(() => {
      for (let i = 0; i < options.users; i++) {
        const first = pick(random, FIRST);
        const last = pick(random, LAST);
        const email = `${first}.${last}${i}@example.org`;
        // Seats come in kinds, so usage clusters: light, regular and power users.
        const segment = random();
        const power = segment >= 0.9;
        const intensity = (segment < 0.3 ? 0.25 : power ? 5 : 1) * logNormal(random, 0.12);
        const seatLimit = power && random() < 0.6 ? 1_100_000 : 220_000;
        const issued = services.tokens.issue(email, pick(random, DIVISIONS), 365, firstDay - DAY_MS);
        const deviceCount = random() < 0.7 ? 1 : random() < 0.85 ? 2 : 3;
        const devices: DemoDevice[] = [];
        for (let d = 0; d < deviceCount; d++) {
          const key = publicKey(random);
          const deviceId = `${first[0]}${last}-${pick(random, DEVICE_KINDS)}${d === 0 ? "" : `-${d + 1}`}`;
          services.keys.register(email, key, deviceId, firstDay - DAY_MS + d * HOUR_MS);
          // A few laptops are lost along the way and revoked by IT.
          const revokedAfter = d > 0 && random() < 0.1 ? firstDay + random() * options.days * DAY_MS : null;
          devices.push({ signer: { publicKey: key, deviceId }, revokedAfter });
        }
        users.push({
          identity: { email, refreshTokenId: issued.id },
          refreshToken: issued.token,
          lastTurnAt: null,
          intensity,
          utcOffsetHours: pick(random, ZONES),
          seatLimit,
          // Weekly limits bite only the heaviest: a few full windows a day, every day.
          weeklyLimit: seatLimit * 14,
          weekStart: Number.NEGATIVE_INFINITY,
          weekBilled: 0,
          devices,
          modelBias: power ? 0.5 : random() * 0.2,
        });
      }
    }).immediate();

    // Person by person, each over every day, a batch of people to a transaction: every rollup is
    // keyed by person first, so a batch writes a few neighbouring pages of each table. Day by day,
    // each commit touched a page per person in every table, and at 20,000 people wrote (and
    // checkpointed) hundreds of megabytes a day. A person's reports are stored together, so each
    // rollup row they touch is written once (2,000 × 30 days: 18.0 s report by report, 10.4 s so).
    for (let first = 0; first < users.length; first += USERS_PER_COMMIT) {
      db.transaction(() => {
        for (const user of users.slice(first, first + USERS_PER_COMMIT)) {
          const reports: Delivery[] = [];
          for (let day = 0; day < options.days; day++)
            simulateDay(user, firstDay + day * DAY_MS, now, random, services, summary, reports);
          summary.usageRows += services.reports.storeAll(reports);
        }
      }).immediate();
    }

    for (const user of users) {
      // Reporters exchange their token as they work: this sets its last use and rolling expiry.
      if (user.lastTurnAt !== null) services.tokens.exchange(user.refreshToken, user.lastTurnAt);
      for (const device of user.devices) {
        if (device.revokedAfter !== null && device.revokedAfter < now)
          services.keys.revoke(device.signer.publicKey);
      }
    }
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  } finally {
    db.close();
  }
}

function simulateDay(
  user: DemoUser,
  dayStart: number,
  now: number,
  random: () => number,
  services: ReturnType<typeof createServices>,
  summary: DemoSummary,
  reports: Delivery[],
): void {
  const localDay = new Date(dayStart + user.utcOffsetHours * HOUR_MS).getUTCDay();
  const weekend = localDay === 0 || localDay === 6;
  if (random() > (weekend ? 0.06 : Math.min(0.95, 0.55 + 0.1 * user.intensity))) return;
  const sessions = 1 + Math.floor(random() * Math.min(5, 1 + user.intensity));
  // The day's work starts between 8:00 and 10:00 local time.
  let at = dayStart + (8 + random() * 2 - user.utcOffsetHours) * HOUR_MS;
  let windowStart = -Infinity;
  let windowBilled = 0;
  let limited = false;
  for (let s = 0; s < sessions && !limited; s++) {
    const live = user.devices.filter((d) => d.revokedAfter === null || d.revokedAfter > at);
    if (live.length === 0) return;
    const device = live[Math.floor(random() * live.length)]!;
    const sessionId = randomUuid(random);
    const sessionStart = at;
    const turns = Math.max(1, Math.round((2 + random() * 6) * user.intensity));
    for (let turn = 0; turn < turns; turn++) {
      if (at > now) return;
      const models: Record<string, ModelUsage> = {};
      const primary = modelFor(random, user.modelBias);
      models[primary] = turnUsage(random, primary);
      if (random() < 0.18) models["claude-haiku-4-5"] = turnUsage(random, "claude-haiku-4-5");
      const report: Report = {
        schema_version: 2,
        session_id: sessionId,
        turn_index: turn,
        timestamp_utc: toRfc3339(at),
        session_start_utc: toRfc3339(sessionStart),
        models,
        plugin_version: "0.1.0",
        claude_code_version: "2.1.3",
      };
      reports.push({ who: user.identity, report, signer: device.signer, receivedAt: at + 2000 });
      summary.turns++;
      user.lastTurnAt = at;
      if (at >= windowStart + WINDOW_MS) {
        windowStart = Math.floor(at / HOUR_MS) * HOUR_MS;
        windowBilled = 0;
      }
      if (at >= user.weekStart + WEEK_MS) {
        user.weekStart = at;
        user.weekBilled = 0;
      }
      for (const usage of Object.values(models)) {
        windowBilled += usage.input_tokens + usage.output_tokens;
        user.weekBilled += usage.input_tokens + usage.output_tokens;
      }
      const weekly = user.weekBilled > user.weeklyLimit;
      if (weekly || windowBilled > user.seatLimit) {
        // As Claude Code says it: which limit, and when it resets.
        const event: LimitEvent = {
          schema_version: 2,
          session_id: sessionId,
          timestamp_utc: toRfc3339(at + 30_000),
          kind: "rate_limit",
          limit_type: weekly ? (primary.includes("opus") ? "seven_day_opus" : "seven_day") : "five_hour",
          resets_at: toRfc3339(weekly ? user.weekStart + WEEK_MS : windowStart + WINDOW_MS),
        };
        if (services.reports.storeLimitEvent(user.identity, event, device.signer, at + 31_000))
          summary.limitEvents++;
        limited = true;
        break;
      }
      at += (0.5 + random() * 5) * 60_000;
    }
    services.keys.touch(device.signer.publicKey, Math.min(at, now));
    // A break between sessions: coffee, a meeting, lunch.
    at += (10 + random() * 80) * 60_000;
  }
}

function randomUuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

export function demoDataCommand(
  config: Config,
  args: string[],
  out: (line: string) => void,
  note: (line: string) => void,
): void {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        users: { type: "string" },
        days: { type: "string" },
        seed: { type: "string" },
        force: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${DEMO_DATA_HELP}`);
  }
  if (values.help) {
    out(DEMO_DATA_HELP);
    return;
  }
  const number = (name: string, max: number, fallback?: number): number => {
    const raw = values[name];
    if (raw === undefined && fallback !== undefined) return fallback;
    if (typeof raw !== "string" || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
      throw new UsageError(
        `demo-data: --${name} must be a whole number from 1 to ${max}\n\n${DEMO_DATA_HELP}`,
      );
    }
    return Number(raw);
  };
  const options = {
    users: number("users", MAX_USERS),
    days: number("days", MAX_DAYS),
    seed: number("seed", 2 ** 32 - 1, 1),
    force: values.force === true,
  };
  commandDatabase(config, "create", note);
  const summary = fillDemoData(config, options);
  out(
    `Filled ${config.databasePath} with ${summary.users} demo users over ${options.days} days (seed ${options.seed}): ${summary.usageRows} usage rows, ${summary.turns} turns, ${summary.limitEvents} limit events in ${summary.seconds.toFixed(1)} s.`,
  );
}
