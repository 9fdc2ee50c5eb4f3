// Configuration comes from the environment only, as the setup guide says.
// A bad value stops the start with one line naming the variable: never a silent fallback.
import { readFileSync } from "node:fs";
import { BUILT_IN_PRICES, type PriceTable, parsePriceFile } from "./analytics/prices.ts";

export interface ListenAddress {
  hostname: string;
  port: number;
}

export interface Config {
  databasePath: string;
  listen: ListenAddress;
  accessTokenExpirySecs: number;
  refreshTokenRollingDays: number;
  rateLimitPerMinute: number;
  bodyLimitKb: number;
  requireSignatures: boolean;
  adminToken: string | undefined;
  cookieSecure: boolean;
  baseUrl: string | undefined;
  trustProxy: boolean;
  tierInferenceIntervalSecs: number;
  /** API list prices for the dashboard's cost figures: built in, or PRICES_FILE's. */
  prices: PriceTable;
  /** Raw usage rows older than this many days (by receipt) are pruned; undefined keeps them. */
  rawEventRetentionDays: number | undefined;
  litestreamMetricsUrl: string | undefined;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

interface Setting<K extends keyof Config> {
  name: string;
  key: K;
  fallback: string;
  parse: (raw: string, name: string) => Config[K];
  show: (value: Config[K]) => string;
  help: string;
}

function positiveInteger(max: number) {
  return (raw: string, name: string): number => {
    const value = Number(raw.trim());
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new ConfigError(`${name}=${raw}: expected a whole number from 1 to ${max}`);
    }
    return value;
  };
}

export function parseBoolean(raw: string, name: string): boolean {
  const word = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(word)) return true;
  if (["0", "false", "no", "off"].includes(word)) return false;
  throw new ConfigError(`${name}=${raw}: expected one of 1/true/yes/on or 0/false/no/off`);
}

export function parseListenAddress(raw: string, name: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(raw.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new ConfigError(
      `${name}=${raw}: expected host:port, such as 127.0.0.1:8080 or [::1]:8080 (port 0 picks a free one)`,
    );
  }
  return { hostname: match[1] ?? match[2]!, port };
}

function optionalText(raw: string): string | undefined {
  return raw === "" ? undefined : raw;
}

/** An optional http(s) URL, without a trailing slash; `example` shows what is meant. */
function httpUrl(example: string) {
  return (raw: string, name: string): string | undefined => {
    if (raw === "") return undefined;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(`${name}=${raw}: expected ${example}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new ConfigError(`${name}=${raw}: expected an http:// or https:// URL`);
    }
    return url.href.replace(/\/+$/, "");
  };
}

/** A whole number of days, or unset (0 or empty) for "keep forever". */
function retentionDays(raw: string, name: string): number | undefined {
  if (raw.trim() === "" || raw.trim() === "0") return undefined;
  const value = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || value < MIN_RETENTION_DAYS || value > 36_500) {
    throw new ConfigError(
      `${name}=${raw}: expected a whole number of days from ${MIN_RETENTION_DAYS} to 36500, or 0 to keep raw events forever`,
    );
  }
  return value;
}

/**
 * Reporters re-send what they delivered in the last 7 days when a restored receiver lacks it, and
 * the raw rows are what makes a re-sent turn count once: they must outlive that by a wide margin.
 */
export const MIN_RETENTION_DAYS = 30;

function priceFile(raw: string, name: string): PriceTable {
  if (raw === "") return BUILT_IN_PRICES;
  let text: string;
  try {
    text = readFileSync(raw, "utf8");
  } catch (error) {
    throw new ConfigError(
      `${name}=${raw}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); point it at a readable JSON price table, or unset it to use the built-in prices`,
    );
  }
  try {
    return parsePriceFile(text, raw);
  } catch (error) {
    throw new ConfigError(
      `${name}=${raw}: ${(error as Error).message} (see docs/configuration.md, "Prices")`,
    );
  }
}

const show = String;

/** Ties each setting's parser to its field's type. */
function define<K extends keyof Config>(setting: Setting<K>): Setting<K> {
  return setting;
}
const showBool = (value: boolean) => String(value);

// The guide's order first (its startup block is printed in this order), then our additions.
const SETTINGS = [
  define({
    name: "DATABASE_PATH",
    key: "databasePath",
    fallback: "ccflux.db",
    parse: (raw: string) => raw,
    show,
    help: "SQLite file; missing folders are created",
  }),
  define({
    name: "LISTEN_ADDR",
    key: "listen",
    fallback: "127.0.0.1:8080",
    parse: parseListenAddress,
    show: (a: ListenAddress) => formatAddress(a),
    help: "host:port to serve plain HTTP on (put a TLS proxy in front)",
  }),
  define({
    name: "ACCESS_TOKEN_EXPIRY_SECS",
    key: "accessTokenExpirySecs",
    fallback: "28800",
    parse: positiveInteger(31_536_000),
    show,
    help: "lifetime of an access token minted by POST /token",
  }),
  define({
    name: "REFRESH_TOKEN_ROLLING_DAYS",
    key: "refreshTokenRollingDays",
    fallback: "90",
    parse: positiveInteger(36_500),
    show,
    help: "each token exchange extends the refresh token to now + this",
  }),
  define({
    name: "RATE_LIMIT_PER_MINUTE",
    key: "rateLimitPerMinute",
    fallback: "30",
    parse: positiveInteger(1_000_000_000),
    show,
    help: "requests per token over any 60 s, shared by /token, /register-key, /report, /limit-event",
  }),
  define({
    name: "BODY_LIMIT_KB",
    key: "bodyLimitKb",
    fallback: "64",
    parse: positiveInteger(10_240),
    show,
    help: "largest accepted request body, in KiB",
  }),
  define({
    name: "REQUIRE_SIGNATURES",
    key: "requireSignatures",
    fallback: "false",
    parse: parseBoolean,
    show: showBool,
    help: "refuse unsigned reports (403 signature-required)",
  }),
  define({
    name: "ADMIN_TOKEN",
    key: "adminToken",
    fallback: "",
    parse: optionalText,
    show: (v: string | undefined) => (v ? "set" : "unset"),
    help: "enables the admin dashboard at /admin/ (unset: disabled)",
  }),
  define({
    name: "COOKIE_SECURE",
    key: "cookieSecure",
    fallback: "false",
    parse: parseBoolean,
    show: showBool,
    help: "mark the admin session cookie Secure (set it behind HTTPS)",
  }),
  define({
    name: "BASE_URL",
    key: "baseUrl",
    fallback: "",
    parse: httpUrl("the public URL, such as https://ccflux.example.org"),
    show: (v: string | undefined) => v ?? "unset",
    help: "public URL, used to hand out the report endpoint",
  }),
  define({
    name: "TRUST_PROXY",
    key: "trustProxy",
    fallback: "false",
    parse: parseBoolean,
    show: showBool,
    help: "take the client address from X-Real-IP, which the shipped proxy configs overwrite",
  }),
  define({
    name: "TIER_INFERENCE_INTERVAL_SECS",
    key: "tierInferenceIntervalSecs",
    fallback: "600",
    parse: positiveInteger(86_400),
    show,
    help: "how often seat tiers are recomputed in the background",
  }),
  define({
    name: "PRICES_FILE",
    key: "prices",
    fallback: "",
    parse: priceFile,
    show: (v: PriceTable) =>
      v === BUILT_IN_PRICES ? `built-in (${v.takenOn})` : `${v.source} (${v.takenOn})`,
    help: "JSON file of API list prices for cost figures (unset: the built-in table)",
  }),
  define({
    name: "RAW_EVENT_RETENTION_DAYS",
    key: "rawEventRetentionDays",
    fallback: "0",
    parse: retentionDays,
    show: (v: number | undefined) => (v === undefined ? "0 (keep forever)" : String(v)),
    help: `days raw usage rows are kept after receipt; rollups are kept (0: forever, else ${MIN_RETENTION_DAYS} or more)`,
  }),
  define({
    name: "LITESTREAM_METRICS_URL",
    key: "litestreamMetricsUrl",
    fallback: "",
    parse: httpUrl("Litestream's metrics URL, such as http://127.0.0.1:9090/metrics"),
    show: (v: string | undefined) => v ?? "unset",
    help: "Litestream's /metrics, to show the replication lag in /health and /metrics",
  }),
];

export const CONFIG_VARIABLES: readonly { name: string; fallback: string; help: string }[] = SETTINGS;

export function formatAddress(address: ListenAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

export function loadConfig(env: Env): Config {
  const config: Partial<Record<keyof Config, unknown>> = {};
  for (const setting of SETTINGS) {
    // An empty variable (systemd's `Environment=NAME=`) means unset.
    const raw = env[setting.name]?.trim() ? env[setting.name]! : setting.fallback;
    config[setting.key] = (setting.parse as (raw: string, name: string) => unknown)(raw, setting.name);
  }
  return config as Config;
}

/** The startup block, exactly as the guide prints it; secrets show only as set/unset. */
export function describeConfig(config: Config): string {
  const lines = ["ccflux-receiver config:"];
  for (const setting of SETTINGS) {
    const value = (setting.show as (v: unknown) => string)(config[setting.key]);
    lines.push(`${setting.name} = ${value}`);
  }
  return lines.join("\n");
}

const GUIDE_PLACEHOLDER_TOKEN = "your-strong-admin-token-here";
const SHORTEST_SAFE_ADMIN_TOKEN = 16;

/** Settings that work but are unsafe; said once at start, so the guide's unit still starts as written. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const token = config.adminToken;
  if (
    token === GUIDE_PLACEHOLDER_TOKEN ||
    (token !== undefined && token.length < SHORTEST_SAFE_ADMIN_TOKEN)
  ) {
    warnings.push(
      `ADMIN_TOKEN is ${token === GUIDE_PLACEHOLDER_TOKEN ? "the setup guide's placeholder" : "shorter than 16 characters"}: anyone could guess it; set a new one made with: openssl rand -hex 32`,
    );
  }
  if (
    config.adminToken &&
    !config.cookieSecure &&
    config.listen.hostname !== "127.0.0.1" &&
    config.listen.hostname !== "::1" &&
    config.listen.hostname !== "localhost"
  ) {
    warnings.push(
      `COOKIE_SECURE is off while LISTEN_ADDR=${formatAddress(config.listen)} is reachable from other machines: put the receiver behind HTTPS and set COOKIE_SECURE=1`,
    );
  }
  return warnings;
}
