// `ccflux status` and `ccflux doctor`: plain words for a person at a terminal.

import { toRfc3339 } from "../protocol/index.ts";
import { CAP_REFUSALS } from "./answers.ts";
import { Client } from "./client.ts";
import { type Config, loadConfig, resolveEndpoints } from "./config.ts";
import { acquireLock, type Env, ensureStateDir, statePaths } from "./files.ts";
import { JOURNAL_BOUNDS, JOURNAL_DAYS, readJournal } from "./journal.ts";
import { isKeyRevoked, loadOrCreateDeviceKey, readDeviceKey } from "./keys.ts";
import { lastLine } from "./log.ts";
import { listOutbox } from "./outbox.ts";
import { readSenderStatus, registrationKey, senderLockStaleMs } from "./sender.ts";
import { loadState } from "./state.ts";

function when(ms: number | null): string {
  return ms === null ? "never" : toRfc3339(ms);
}

const SETUP_HINT =
  "set api_endpoint and api_token in Claude Code (/plugin → ccflux → Configure options), or write them to";

function describeConfig(config: Config | null, env: Env): string {
  const paths = statePaths(env);
  if (config) return `yes, from ${config.source.replace("the config file", paths.config)}`;
  // A terminal does not get the plugin settings; the hooks do, and record where they found them.
  const seen = loadState(paths).config;
  if (seen) return `yes, from ${seen.source} (as a hook saw it at ${when(seen.at)})`;
  return `no: ${SETUP_HINT} ${paths.config}`;
}

/** Journaled deliveries still within the journal's reach (the sender prunes the others later). */
function journaled(path: string): number {
  const now = Date.now();
  return readJournal(path).entries.filter((entry) => now - entry.at <= JOURNAL_BOUNDS.maxAgeMs).length;
}

export function status(env: Env): string[] {
  const paths = statePaths(env);
  const config = loadConfig(env, paths);
  const state = loadState(paths);
  const sender = readSenderStatus(paths);
  const endpoints = config ? resolveEndpoints(config.endpoint, env) : null;
  const key = readDeviceKey(paths);
  let keyLine: string;
  if (isKeyRevoked(paths)) {
    keyLine = `revoked by IT: reporting is off; once IT has re-provisioned you, delete ${paths.revokedKey}`;
  } else if (!key) {
    keyLine = "not made yet (made and registered with the first report)";
  } else if (endpoints?.ok && sender.registered.includes(registrationKey(endpoints.value, key))) {
    keyLine = `registered (${key.publicKeyBase64})`;
  } else {
    keyLine = `${key.publicKeyBase64}${endpoints?.ok ? ", not registered with this receiver yet" : ""}`;
  }
  let receiver = state.config?.origin ?? "unknown";
  if (endpoints) receiver = endpoints.ok ? endpoints.value.origin : endpoints.message;
  return [
    `configured:   ${describeConfig(config, env)}`,
    `receiver:     ${receiver}`,
    `device key:   ${keyLine}`,
    `outbox:       ${listOutbox(paths.outbox).length} reports waiting`,
    `journal:      ${journaled(paths.journal)} reports acknowledged in the last ${JOURNAL_DAYS} days, kept to send again if the receiver is restored`,
    `last success: ${when(sender.lastSuccessAt)}`,
    `last error:   ${sender.lastError ? `${when(sender.lastErrorAt)} ${sender.lastError}` : "none"}`,
    `logs:         ${paths.activityLog}, ${paths.errorsLog}`,
    ...(lastLine(paths.errorsLog) ? [`latest error log line: ${lastLine(paths.errorsLog)}`] : []),
  ];
}

/** Checks each step a report takes and says what to fix. Returns the lines and whether all passed. */
export async function doctor(env: Env): Promise<{ lines: string[]; ok: boolean }> {
  const paths = statePaths(env);
  const config = loadConfig(env, paths);
  if (!config) {
    return {
      ok: false,
      lines: [
        `not configured: ${SETUP_HINT} ${paths.config} as {"endpoint": "https://…", "token": "rtok_…"}`,
        "(a terminal does not see Claude Code's plugin settings; to check them from here, set CLAUDE_PLUGIN_OPTION_API_ENDPOINT and CLAUDE_PLUGIN_OPTION_API_TOKEN for this command)",
      ],
    };
  }
  const endpoints = resolveEndpoints(config.endpoint, env);
  if (!endpoints.ok) return { ok: false, lines: [`endpoint: ${endpoints.message}`] };
  const { value: urls } = endpoints;
  const client = Client.create(env);
  if (typeof client === "string") return { ok: false, lines: [client] };
  const lines = [`receiver: ${urls.origin}`];

  const health = await client.request("GET", urls.health, {});
  if (health.status !== 200) {
    const why =
      health.status === 0
        ? `not reachable (${health.failure}): check the URL, your network or proxy (HTTPS_PROXY), and CCFLUX_CA_CERT for a company CA`
        : `answered ${health.status}: the receiver or its database is unwell; tell IT`;
    lines.push(`health: ${why}`);
    return { ok: false, lines };
  }
  lines.push("health: ok");

  const exchange = await client.exchangeToken(urls.token, config.token);
  const access = exchange.json as { access_token?: unknown } | null;
  if (exchange.status !== 200 || typeof access?.access_token !== "string") {
    const why =
      exchange.status === 401
        ? "refresh token rejected (401): ask IT for a new token, then update it in Claude Code's plugin settings"
        : `failed (${exchange.status || exchange.failure}); try again later, and tell IT if it persists`;
    lines.push(`token exchange: ${why}`);
    return { ok: false, lines };
  }
  lines.push("token exchange: ok");

  if (isKeyRevoked(paths)) {
    lines.push(`device key: revoked by IT; once you are re-provisioned, delete ${paths.revokedKey}`);
    return { ok: false, lines };
  }
  ensureStateDir(paths);
  // The sender lock keeps doctor and a running sender from making two different keys at once.
  const release = acquireLock(paths.senderLock, { waitMs: 5_000, staleAfterMs: senderLockStaleMs(env) });
  if (!release) {
    lines.push("device key: the sender is busy; run ccflux doctor again in a minute");
    return { ok: false, lines };
  }
  try {
    const key = loadOrCreateDeviceKey(paths);
    const registration = await client.registerKey(urls.registerKey, access.access_token, key);
    const verdicts: Record<number, string> = {
      200: `registered (${key.publicKeyBase64})`,
      403:
        registration.error === "too-many-devices"
          ? CAP_REFUSALS["too-many-devices"]
          : `revoked by IT (${registration.error || "403"}): reporting stops on the next turn`,
      409: "registered to another user on this receiver: the next report makes this device a new key",
    };
    lines.push(
      `device key: ${verdicts[registration.status] ?? `registration failed (${registration.status || registration.failure}); try again later`}`,
    );
    return { ok: registration.status === 200, lines };
  } finally {
    release();
  }
}
