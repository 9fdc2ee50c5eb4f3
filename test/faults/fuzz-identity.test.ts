// Fuzz of the inputs that name a person or a device (issue 11), against the compiled receiver, from a
// seeded generator (CCFLUX_FUZZ_SEED reproduces a run): email spellings (case, blanks, unicode look-
// alikes, lone surrogates, NUL) through the dashboard's provisioning form, the JSON token API, the
// guide's sqlite3 INSERT and then /token, the CSV bulk import (Users & tokens, "Add many people"),
// and hostile public keys in the device revoke / allow / revoke-and-reissue forms.
// Requests run one at a time so each can be checked alone. Pass: no 5xx, the process never dies, a
// refused request changes nothing (tokens, device keys, audit log, usage), an accepted email is
// kept normalised and /token gives the person that spelling normalises to, and the log holds no
// stack trace or error line.
// A file of its own: fuzz-admin.test.ts is past the size where a file is split by what it serves.
import { afterAll, expect, test } from "bun:test";
import { normaliseEmail } from "../../src/receiver/tokens/service.ts";
import { Client, guideInsert, guideToken, newDevice, report } from "../support/client.ts";
import { ensureBinary, startReceiver, type TestReceiver } from "../support/receiver.ts";
import {
  formBody,
  int,
  logFindings,
  pick,
  provision,
  type Random,
  ROUTINE_LOG_MESSAGES,
  randomText,
  rng,
  type User,
} from "./support.ts";

const SEED = Number(process.env.CCFLUX_FUZZ_SEED ?? 110_012);
const TOTAL = 400;
const ADMIN_TOKEN = "fuzz-identity-admin-token-7d2b9c4e1f6a";
/** The address of the one script that knows the token (TRUST_PROXY is on). */
const SCRIPT = "192.0.2.20";
const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Real-IP": SCRIPT };
const FORM = { ...ADMIN, "Content-Type": "application/x-www-form-urlencoded" };
let receiver: TestReceiver | undefined;
afterAll(async () => {
  if (receiver?.proc.exitCode === null) await receiver.kill();
  receiver?.cleanup();
});

function flipCase(r: Random, text: string): string {
  return [...text].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join("");
}

/** The same person spelled as an admin might paste it: case and surrounding blanks only. */
function asciiSpelling(r: Random, email: string): string {
  const blank = () => pick(r, ["", " ", "\t", "  ", " \t", "\r\n", "\n "]);
  return `${blank()}${flipCase(r, email)}${blank()}`;
}

/** Any spelling: the ASCII ones, unicode look-alikes and blanks, broken text, overlong addresses. */
function spelling(r: Random, email: string): string {
  const [local = "", domain = ""] = email.split("@");
  return pick(r, [
    () => asciiSpelling(r, email),
    () => asciiSpelling(r, email),
    () => `\u00a0${email}`,
    () => `${email}\u2003`,
    () => `${local}\u200b@${domain}`,
    () => email.replace("e", "\u0435"),
    () => `${local}\uff20${domain}`,
    () => email.replace("o", "o\u0301"),
    () => `\u0130${email}`,
    () => email.toUpperCase().replace("@", "@@"),
    () => `${email}\u0000`,
    () => `"${local}"@${domain}`,
    () => `${local}@${domain}.`,
    () => `${email}\ud800`,
    () => `${local}@${domain}`.normalize("NFD").replace("a", "a\u0308"),
    () => `${"x".repeat(250)}@example.org`,
    () => `${local}'); DELETE FROM refresh_tokens; --@${domain}`,
    () => randomText(r, 40),
    () => "",
  ])();
}

/** A hostile public_key for the device forms: near misses of a real key, injection, odd bytes. */
function hostileKey(r: Random, real: string): string {
  return pick(r, [
    () => real.toLowerCase(),
    () => ` ${real}`,
    () => `${real} `,
    () => real.slice(0, -1),
    () => `${real}=`,
    () => real.replace(/.$/, (c) => (c === "A" ? "B" : "A")),
    () => `${real}\u0000`,
    () => `' OR '1'='1`,
    () => `${real}' OR public_key LIKE '%`,
    () => "%",
    () => "*",
    () => "",
    () => "x".repeat(pick(r, [1999, 2000])),
    () => `\ud800${real}`,
    () => randomText(r, 60),
  ])();
}

/** What a refused request must leave as it was. */
function fingerprint(db: TestReceiver): string {
  return db.sql(
    `SELECT (SELECT count(*) || ',' || ifnull(max(id), 0) || ',' || ifnull(sum(revoked), 0) || ',' || ifnull(sum(expires_at < datetime('now')), 0) FROM refresh_tokens)
       || '|' || (SELECT count(*) || ',' || ifnull(sum(revoked), 0) || ',' || count(released_at) FROM device_keys)
       || '|' || (SELECT count(*) FROM admin_audit)
       || '|' || (SELECT count(*) FROM usage_events);`,
  );
}

type Outcome = { what: string; status: number; refused: boolean; problem?: string };

interface Context {
  url: string;
  client: Client;
  people: string[];
  /** Users whose device keys the fuzz may really revoke, allow and reissue. */
  devices: User[];
  turns: number;
}

async function post(c: Context, path: string, body: string, headers: Record<string, string> = FORM) {
  const response = await fetch(`${c.url}${path}`, { method: "POST", headers, body, redirect: "manual" });
  return { response, text: await response.text() };
}

/**
 * A refresh token for `email` reaches /token, registers a key and sends a report: the stored
 * person must be the spelling normalised (after the blanks, unicode ones too, that the forms trim).
 * Returns a problem, or null.
 */
async function checkIdentity(c: Context, refreshToken: string, email: string): Promise<string | null> {
  const access = await c.client.exchange(refreshToken);
  const device = newDevice();
  const registered = await c.client.registerKey(access, device, "fuzz-identity");
  if (registered.status !== 200) return `/register-key ${registered.status}`;
  const session = `identity-${c.turns++}`;
  const sent = await c.client.send(access, report({ session_id: session, turn_index: 0 }), device);
  if (sent.status !== 200) return `/report ${sent.status}`;
  const stored = receiver!.sql(`SELECT email FROM usage_events WHERE session_id = '${session}';`);
  return stored === normaliseEmail(email.trim())
    ? null
    : `${JSON.stringify(email)} stored as ${JSON.stringify(stored)}`;
}

async function provisionForm(r: Random, c: Context): Promise<Outcome> {
  const email = spelling(r, pick(r, c.people));
  const days = pick(r, ["", "30", "365", "0", "-1", "1e3", "36501", " 7 ", "x"]);
  const division = pick(r, ["", "Platform", " ", "x".repeat(65), randomText(r, 20)]);
  const { response } = await post(c, "/admin/tokens", formBody({ email, division, days }));
  return { what: "form", status: response.status, refused: response.status !== 303 };
}

async function provisionApi(r: Random, c: Context): Promise<Outcome> {
  const email = spelling(r, pick(r, c.people));
  const { response, text } = await post(c, "/admin/api/tokens", JSON.stringify({ email, days: 30 }), {
    ...ADMIN,
    "Content-Type": "application/json",
  });
  if (response.status !== 201) return { what: "api", status: response.status, refused: true };
  const issued = JSON.parse(text) as { email: string; refresh_token: string };
  const problem =
    issued.email !== normaliseEmail(email.trim())
      ? `${JSON.stringify(email)} answered as ${JSON.stringify(issued.email)}`
      : await checkIdentity(c, issued.refresh_token, email);
  return { what: "api", status: response.status, refused: false, ...(problem ? { problem } : {}) };
}

/** The guide's hand-typed INSERT with an odd spelling, then /token. */
async function provisionSql(r: Random, c: Context): Promise<Outcome> {
  const email = asciiSpelling(r, pick(r, c.people));
  const token = guideToken();
  receiver!.sql(guideInsert(token, email.replaceAll("'", "''")));
  const problem = await checkIdentity(c, token, email);
  return { what: "sql", status: 200, refused: false, ...(problem ? { problem } : {}) };
}

async function bulkImport(r: Random, c: Context): Promise<Outcome> {
  const lines: string[] = [];
  if (r() < 0.3) lines.push(pick(r, ["email,division,days", "Email, Division, Days"]));
  const people = 1 + int(r, 5);
  for (let i = 0; i < people; i++) {
    const email = r() < 0.7 ? asciiSpelling(r, pick(r, c.people)) : spelling(r, pick(r, c.people));
    const cell = (text: string) =>
      r() < 0.2 ? `"${text.replaceAll('"', '""')}"` : text.replaceAll(",", " ");
    const parts = [cell(email.replace(/[\r\n]/g, " "))];
    if (r() < 0.6) parts.push(pick(r, ["", "Platform", "=HYPERLINK(1)", "x".repeat(65), '"open']));
    if (r() < 0.4) parts.push(pick(r, ["", "30", "0", "36501", "x", "7"]));
    if (r() < 0.05) parts.push("extra");
    lines.push(parts.join(","));
  }
  const csv = `${r() < 0.2 ? "\uFEFF" : ""}${lines.join(pick(r, ["\n", "\r\n"]))}`;
  const { response, text } = await post(c, "/admin/tokens/import", formBody({ csv, days: "30" }));
  if (response.status !== 200) return { what: "import", status: response.status, refused: true };
  // The issued tokens come back as CSV: each one's email is normalised and reaches /token as it.
  const rows = text.trim().split("\r\n").slice(1);
  let problem: string | null = null;
  for (const row of rows) {
    const [email = "", , , token = ""] = row.split(",");
    if (email !== normaliseEmail(email)) problem = `issued to ${JSON.stringify(email)}`;
    else if (token.startsWith("rtok_")) problem ??= await checkIdentity(c, token, email);
  }
  return { what: "import", status: response.status, refused: false, ...(problem ? { problem } : {}) };
}

async function deviceForm(r: Random, c: Context): Promise<Outcome> {
  const path = pick(r, ["/admin/devices/revoke", "/admin/devices/allow"]);
  const target = pick(r, c.devices);
  // Now and then the real key, so revoking, allowing and reissuing really happen between the misses.
  const real = r() < 0.1;
  const publicKey = real ? target.device.publicKey : hostileKey(r, target.device.publicKey);
  const fields: Record<string, string> = { public_key: publicKey };
  if (r() < 0.3) fields.reissue = pick(r, ["1", "0", "yes", ""]);
  if (r() < 0.3) fields.return = pick(r, ["/admin/devices", "//evil.example/", "/admin/..//evil.example"]);
  const { response } = await post(c, path, formBody(fields));
  const location = response.headers.get("location") ?? "";
  const what = `${path.slice(15)}${real ? " real" : ""}`;
  const problem = /^\/admin\//.test(location) || response.status !== 303 ? undefined : `to ${location}`;
  return {
    what,
    status: response.status,
    refused: response.status !== 303 || location.includes("notice=nothing-changed"),
    ...(problem ? { problem } : {}),
  };
}

test(`fuzz-identity: ${TOTAL} email spellings, imports and device forms, one at a time; refusals change nothing (seed ${SEED})`, async () => {
  ensureBinary();
  receiver = await startReceiver({
    binary: true,
    env: { ADMIN_TOKEN, TRUST_PROXY: "1", RATE_LIMIT_PER_MINUTE: "100000" },
  });
  const r = rng(SEED);
  const devices = await provision(receiver, 6, "device-owner");
  const c: Context = {
    url: receiver.url,
    client: new Client(receiver.url),
    people: ["jsmith@example.org", "ana.lopez@corp.example.com", "o.brien@example.org", devices[0]!.email],
    devices,
    turns: 0,
  };

  const statuses = new Map<string, number>();
  const failures: string[] = [];
  let before = fingerprint(receiver);
  for (let n = 0; n < TOTAL; n++) {
    const kind = r();
    const outcome = await (kind < 0.25
      ? provisionForm(r, c)
      : kind < 0.4
        ? provisionApi(r, c)
        : kind < 0.5
          ? provisionSql(r, c)
          : kind < 0.7
            ? bulkImport(r, c)
            : deviceForm(r, c));
    const key = `${outcome.what} ${outcome.status}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const after = fingerprint(receiver);
    const changed = after !== before ? `changed ${before} → ${after}` : undefined;
    const problem =
      outcome.status >= 500 || receiver.proc.exitCode !== null
        ? "server error or exit"
        : (outcome.problem ?? (outcome.refused ? changed : undefined));
    if (problem && failures.length < 10) failures.push(`#${n} ${key}: ${problem}`);
    before = after;
  }
  console.log(
    `fuzz-identity seed ${SEED}: ${[...statuses]
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ")}`,
  );

  expect(failures).toEqual([]);
  expect(receiver.proc.exitCode).toBeNull();
  const count = (pattern: RegExp) =>
    [...statuses].filter(([k]) => pattern.test(k)).reduce((sum, [, v]) => sum + v, 0);
  // Each family ran both ways: accepted and refused.
  expect(count(/^form 303$/)).toBeGreaterThan(10);
  expect(count(/^form 400$/)).toBeGreaterThan(10);
  expect(count(/^api 201$/)).toBeGreaterThan(10);
  expect(count(/^api 400$/)).toBeGreaterThan(5);
  expect(count(/^sql 200$/)).toBeGreaterThan(10);
  expect(count(/^import 200$/)).toBeGreaterThan(5);
  expect(count(/^import 400$/)).toBeGreaterThan(5);
  expect(count(/^(revoke|allow) 303$/)).toBeGreaterThan(30);
  expect(count(/real 303$/)).toBeGreaterThan(3);

  // Every spelling of one person is that one person: no stored email keeps upper-case ASCII or
  // surrounding blanks, in the tokens or the usage.
  const unnormalised = `email GLOB '*[A-Z]*' OR email != trim(email, ' ' || char(9, 10, 13))`;
  expect(receiver.sql(`SELECT count(*) FROM refresh_tokens WHERE ${unnormalised};`)).toBe("0");
  expect(receiver.sql(`SELECT count(*) FROM usage_events WHERE ${unnormalised};`)).toBe("0");
  // And the dashboard still answers on every page that lists people and devices.
  for (const page of ["/admin/tokens", "/admin/devices", "/admin/audit", "/admin/"]) {
    const response = await fetch(`${receiver.url}${page}`, { headers: ADMIN });
    expect(`${page} ${response.status}`).toBe(`${page} 200`);
    await response.arrayBuffer();
  }

  expect(await receiver.stop()).toBe(0);
  // Routine lines only: a refused request is answered, not logged as an error.
  expect(logFindings(receiver.output(), ROUTINE_LOG_MESSAGES)).toEqual([]);
}, 240_000);
