// A scriptable stand-in in front of (or instead of) the receiver: it answers planned statuses
// (503, 429, 401, 403 …) for the next requests on a path, and otherwise answers like a receiver
// itself or passes the request through to the real one.

import type { Server } from "bun";
import nacl from "tweetnacl";
import { advanceHeld, readDelivery } from "../../src/protocol/delivery.ts";
import {
  parseSignatureHeader,
  SIGNATURE_HEADER,
  signedMessage,
  TIMESTAMP_HEADER,
} from "../../src/protocol/index.ts";

export interface Planned {
  status: number;
  error?: string;
  retryAfter?: number;
  /** Hold the request this long before answering (or passing it on). */
  delayMs?: number;
  /** Pass the request through (after the delay) instead of answering `status`. */
  passThrough?: boolean;
}

export interface SeenRequest {
  path: string;
  authorization: string;
  body: string;
  /** The signature header verified against the body and timestamp (null: no signature sent). */
  signatureValid: boolean | null;
  publicKey: string | null;
  at: number;
}

export class FakeReceiver {
  readonly seen: SeenRequest[] = [];
  private readonly plans = new Map<string, Planned[]>();
  private readonly server: Server<undefined>;
  tokenCounter = 0;
  /** Answer delivery_held as the receiver does (false: as a receiver from before delivery numbers). */
  keepsDeliveryNumbers = true;
  /** delivery_held per public key, by the receiver's own rule. */
  readonly held = new Map<string, number>();

  /** With `upstream`, unplanned requests go to the real receiver there. */
  constructor(private readonly upstream?: string) {
    this.server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => this.handle(request) });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** The next requests on `path` get these answers, in order. */
  plan(path: string, ...answers: Planned[]): void {
    this.plans.set(path, [...(this.plans.get(path) ?? []), ...answers]);
  }

  /** Forgets what is still planned for `path`. */
  unplan(path: string): void {
    this.plans.delete(path);
  }

  count(path: string): number {
    return this.seen.filter((request) => request.path === path).length;
  }

  stop(): void {
    this.server.stop(true);
  }

  private async handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const body = await request.text();
    const signature = request.headers.get(SIGNATURE_HEADER);
    const parsed = signature ? parseSignatureHeader(signature) : null;
    const timestamp = request.headers.get(TIMESTAMP_HEADER) ?? "";
    this.seen.push({
      path,
      authorization: request.headers.get("Authorization") ?? "",
      body,
      signatureValid:
        signature === null
          ? null
          : parsed !== null &&
            nacl.sign.detached.verify(
              signedMessage(Buffer.from(body), timestamp),
              parsed.signature,
              parsed.publicKey,
            ),
      publicKey: parsed?.publicKeyBase64 ?? null,
      at: Date.now(),
    });
    const planned = this.plans.get(path)?.shift();
    if (planned?.delayMs) await Bun.sleep(planned.delayMs);
    if (planned && !planned.passThrough) {
      const headers: Record<string, string> = {};
      if (planned.error) headers["X-CCFLUX-Error"] = planned.error;
      if (planned.retryAfter !== undefined) headers["Retry-After"] = String(planned.retryAfter);
      return Response.json(
        { error: planned.error ?? "planned", message: "planned by the test" },
        { status: planned.status, headers },
      );
    }
    if (this.upstream) {
      try {
        const upstream = await fetch(`${this.upstream}${path}`, {
          method: request.method,
          headers: request.headers,
          body: body || undefined,
        });
        return new Response(await upstream.arrayBuffer(), {
          status: upstream.status,
          headers: upstream.headers,
        });
      } catch {
        // As a reverse proxy answers when the receiver behind it is down.
        return new Response("bad gateway", { status: 502 });
      }
    }
    return this.answer(path, body, parsed?.publicKeyBase64 ?? null);
  }

  private answer(path: string, body: string, publicKey: string | null): Response {
    if (path === "/token") {
      this.tokenCounter++;
      return Response.json({
        access_token: `at_${this.tokenCounter}`,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        token_type: "Bearer",
      });
    }
    if (path === "/health") return Response.json({ status: "ok", db: "ok" });
    let delivery: ReturnType<typeof readDelivery> = null;
    try {
      delivery = readDelivery(JSON.parse(body));
    } catch {}
    if (!this.keepsDeliveryNumbers || !publicKey || !delivery || "error" in delivery)
      return Response.json({ status: "ok" });
    const held = advanceHeld(this.held.get(publicKey) ?? 0, delivery);
    this.held.set(publicKey, held);
    return Response.json({ status: "ok", delivery_held: held });
  }
}
