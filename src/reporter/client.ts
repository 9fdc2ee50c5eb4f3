// HTTP calls to the receiver: token exchange, key registration, signed reports, health.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import {
  ERROR_HEADER,
  MAX_DEVICE_ID,
  parseRfc3339,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  toRfc3339,
} from "../protocol/index.ts";
import type { Env } from "./files.ts";
import { type DeviceKey, signBody } from "./keys.ts";

export const REQUEST_TIMEOUT_MS = 15_000;

export interface Answer {
  /** 0 when no answer came (see `failure`). */
  status: number;
  /** Why no answer came: a short code with no URL or path in it; "" when one came. */
  failure: string;
  /** X-CCFLUX-Error, "" when absent. */
  error: string;
  /** Retry-After in seconds, or null. */
  retryAfter: number | null;
  /** The receiver's clock from the Date header (ms), or null. */
  serverTime: number | null;
  json: unknown;
}

export class Client {
  private readonly tls: { ca: string } | undefined;

  private constructor(ca: string | undefined) {
    this.tls = ca ? { ca } : undefined;
  }

  /**
   * CCFLUX_CA_CERT adds a PEM CA (a company's own TLS); HTTPS_PROXY is honoured by Bun's fetch itself.
   * A string: why the client cannot be made, fit for a log line.
   */
  static create(env: Env): Client | string {
    if (!env.CCFLUX_CA_CERT) return new Client(undefined);
    try {
      return new Client(readFileSync(env.CCFLUX_CA_CERT, "utf8"));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      return `CCFLUX_CA_CERT names a file that cannot be read (${code}): point it at your company's CA certificate in PEM form`;
    }
  }

  async request(
    method: "GET" | "POST",
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: "error",
        ...(this.tls ? { tls: this.tls } : {}),
      });
    } catch (error) {
      return {
        status: 0,
        failure: describeFailure(error),
        error: "",
        retryAfter: null,
        serverTime: null,
        json: null,
      };
    }
    const text = await response.text().catch(() => "");
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {}
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
    const date = Date.parse(response.headers.get("Date") ?? "");
    return {
      status: response.status,
      failure: "",
      error: response.headers.get(ERROR_HEADER) ?? "",
      retryAfter: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null,
      serverTime: Number.isNaN(date) ? null : date,
      json,
    };
  }

  exchangeToken(url: string, refreshToken: string): Promise<Answer> {
    return this.request("POST", url, { Authorization: `Bearer ${refreshToken}` }, "{}");
  }

  registerKey(url: string, accessToken: string, key: DeviceKey): Promise<Answer> {
    const body = JSON.stringify({ public_key: key.publicKeyBase64, device_id: deviceId() });
    return this.request("POST", url, { Authorization: `Bearer ${accessToken}` }, body);
  }

  /** Signs at send time: the signed timestamp must be fresh, the body stays as frozen. */
  sendSigned(url: string, accessToken: string, key: DeviceKey, body: string): Promise<Answer> {
    const timestamp = toRfc3339(Date.now());
    return this.request(
      "POST",
      url,
      {
        Authorization: `Bearer ${accessToken}`,
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signBody(Buffer.from(body), timestamp, key),
      },
      body,
    );
  }
}

export function deviceId(): string {
  return hostname().slice(0, MAX_DEVICE_ID);
}

/** A short reason with no URL or path in it, fit for a log line. */
function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError") return "timed out";
    const code = (error as NodeJS.ErrnoException).code;
    return code ? String(code) : error.name;
  }
  return "unknown";
}

/** The access token and its expiry from a /token answer, or null when the body is not one. */
export function readAccessToken(json: unknown): { token: string; expiresAt: number } | null {
  if (typeof json !== "object" || json === null) return null;
  const { access_token, expires_at } = json as Record<string, unknown>;
  if (typeof access_token !== "string" || access_token === "") return null;
  const expiresAt = typeof expires_at === "string" ? parseRfc3339(expires_at) : null;
  // Without a readable expiry, trust the token for the receiver's default lifetime less a margin.
  return { token: access_token, expiresAt: expiresAt ?? Date.now() + 3_600_000 };
}
