// Where the endpoint and refresh token come from, the URLs derived from the endpoint, and the email.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Env, homeDir, isObject, readJson, type StatePaths } from "./files.ts";

export interface Config {
  endpoint: string;
  token: string;
  /** Where the values came from, in words for `ccflux status`. */
  source: string;
}

/**
 * Claude Code hands the plugin's userConfig to hooks as CLAUDE_PLUGIN_OPTION_*; the config file
 * (`{"endpoint": ..., "token": ...}`) fills in what the plugin settings leave empty, so IT can set the
 * endpoint org-wide in managed settings and place each person's token with their device management.
 * Null when either value is missing: not set up.
 */
export function loadConfig(env: Env, paths: StatePaths): Config | null {
  const fromEnv = {
    endpoint: env.CLAUDE_PLUGIN_OPTION_API_ENDPOINT?.trim() ?? "",
    token: env.CLAUDE_PLUGIN_OPTION_API_TOKEN?.trim() ?? "",
  };
  if (fromEnv.endpoint && fromEnv.token) return { ...fromEnv, source: "Claude Code's plugin settings" };
  const file = readJson(paths.config);
  const fromFile = (key: string) => (isObject(file) && typeof file[key] === "string" ? file[key].trim() : "");
  const endpoint = fromEnv.endpoint || fromFile("endpoint");
  const token = fromEnv.token || fromFile("token");
  if (!endpoint || !token) return null;
  const source =
    fromEnv.endpoint || fromEnv.token
      ? "Claude Code's plugin settings and the config file"
      : "the config file";
  return { endpoint, token, source };
}

export interface Endpoints {
  /** scheme://host[:port], for log lines (never the token). */
  origin: string;
  health: string;
  token: string;
  registerKey: string;
  report: string;
  limitEvent: string;
}

export type Resolved<T> = { ok: true; value: T } | { ok: false; message: string };

/** Accepts the receiver's base URL or its `/report` URL, as the guide hands out either. */
export function resolveEndpoints(endpoint: string, env: Env): Resolved<Endpoints> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return {
      ok: false,
      message: `api_endpoint "${endpoint.slice(0, 100)}" is not a URL: set it to the receiver URL IT gave you (https://…) in Claude Code's plugin settings`,
    };
  }
  const allowHttp = env.CCFLUX_ALLOW_HTTP === "1";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowHttp)) {
    return {
      ok: false,
      message: `api_endpoint must start with https:// (got ${url.protocol}//${url.host}): ask IT for the https URL of the receiver`,
    };
  }
  const base = url.pathname.replace(/\/+$/, "").replace(/\/report$/, "");
  const at = (path: string) => new URL(`${base}${path}`, url.origin).toString();
  return {
    ok: true,
    value: {
      origin: url.origin,
      health: at("/health"),
      token: at("/token"),
      registerKey: at("/register-key"),
      report: at("/report"),
      limitEvent: at("/limit-event"),
    },
  };
}

const OAUTH_EMAIL = /"oauthAccount"\s*:\s*\{[^{}]*?"emailAddress"\s*:\s*("(?:[^"\\]|\\.)*")/;

/**
 * oauthAccount.emailAddress from .claude.json (in CLAUDE_CONFIG_DIR when set, else the home folder).
 * That file also holds Claude Code's per-project history and can be megabytes: the email is picked out
 * of the text rather than parsing all of it on every turn.
 */
export function userEmail(env: Env): string {
  let text: string;
  try {
    text = readFileSync(join(env.CLAUDE_CONFIG_DIR || homeDir(env), ".claude.json"), "utf8");
  } catch {
    return "";
  }
  const literal = OAUTH_EMAIL.exec(text)?.[1];
  try {
    const email: unknown = literal ? JSON.parse(literal) : "";
    return typeof email === "string" ? email : "";
  } catch {
    return "";
  }
}
