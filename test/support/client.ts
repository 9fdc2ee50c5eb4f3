// A protocol-v1/v2 client for tests, signing with tweetnacl: an implementation independent of the
// receiver's node:crypto verifier, so passing tests prove the two interoperate.
import nacl from "tweetnacl";
import {
  formatSignatureHeader,
  type Report,
  signedMessage,
  toBase64,
  toRfc3339,
} from "../../src/protocol/index.ts";

export interface Device {
  keyPair: nacl.SignKeyPair;
  publicKey: string;
}

export function newDevice(): Device {
  const keyPair = nacl.sign.keyPair();
  return { keyPair, publicKey: toBase64(keyPair.publicKey) };
}

export function report(overrides: Partial<Report> = {}): Report {
  return {
    schema_version: 1,
    session_id: "s-1",
    user_email: "someone@example.org",
    turn_index: 0,
    timestamp_utc: toRfc3339(Date.now()),
    models: {
      "claude-sonnet-4-5": {
        input_tokens: 10,
        output_tokens: 20,
        cache_read_tokens: 300,
        cache_write_tokens: 40,
      },
    },
    ...overrides,
  };
}

export function signHeaders(
  body: string | Uint8Array,
  device: Device,
  timestamp = toRfc3339(Date.now()),
): Record<string, string> {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const signature = nacl.sign.detached(signedMessage(bytes, timestamp), device.keyPair.secretKey);
  return {
    "X-CCFLUX-Timestamp": timestamp,
    "X-CCFLUX-Signature": formatSignatureHeader(signature, device.keyPair.publicKey),
  };
}

export class Client {
  constructor(readonly url: string) {}

  post(
    path: string,
    bearer: string | null,
    body: string | Uint8Array = "",
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
        ...headers,
      },
      body: body as BodyInit,
    });
  }

  async exchange(refreshToken: string): Promise<string> {
    const response = await this.post("/token", refreshToken);
    if (response.status !== 200) throw new Error(`/token answered ${response.status}`);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  registerKey(accessToken: string, device: Device, deviceId = "laptop"): Promise<Response> {
    return this.post(
      "/register-key",
      accessToken,
      JSON.stringify({ public_key: device.publicKey, device_id: deviceId }),
    );
  }

  /** A signed /report (or /limit-event), or unsigned when no device is given. */
  send(
    accessToken: string,
    body: unknown,
    device?: Device,
    path = "/report",
    timestamp?: string,
  ): Promise<Response> {
    const text = JSON.stringify(body);
    return this.post(path, accessToken, text, device ? signHeaders(text, device, timestamp) : {});
  }
}

/** A refresh token in the guide's form, random so tests never collide. */
export function guideToken(): string {
  return `rtok_${Buffer.from(nacl.randomBytes(32)).toString("hex")}`;
}

/** The guide's provisioning INSERT, as an admin types it in sqlite3. */
export function guideInsert(token: string, email: string, division?: string): string {
  return division === undefined
    ? `INSERT INTO refresh_tokens (token, email, expires_at) VALUES ('${token}', '${email}', datetime('now', '+365 days'));`
    : `INSERT INTO refresh_tokens (token, email, division, expires_at) VALUES ('${token}', '${email}', '${division}', datetime('now', '+365 days'));`;
}
