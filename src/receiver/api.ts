// The checks every token-bearing API request goes through, in docs/protocol.md §3's order:
// body size (413) → bearer present (401) → rate limit (429) → access token (401) → the person's
// rate limit (429) → body parse (400).
// Cheap checks come first so that garbage costs neither crypto nor database work.
import { PERSON_RATE_FACTOR, type ReceiverContext } from "./context.ts";
import { apiError, bearerToken, readBody, tooLarge, unauthorized } from "./http.ts";
import type { Services } from "./services.ts";
import type { Identity } from "./tokens/service.ts";

export interface Admitted {
  bearer: string;
  body: Uint8Array;
  services: Services;
}

export interface Authorized extends Admitted {
  identity: Identity;
  json: unknown;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Size, bearer, rate limit and an open database; a Response when the request stops here. */
export async function admit(
  ctx: ReceiverContext,
  request: Request,
  onRejected?: (status: number) => void,
): Promise<Admitted | Response> {
  const body = await readBody(request, ctx.config.bodyLimitKb * 1024);
  if (!body) return tooLarge(ctx.config.bodyLimitKb);
  const bearer = bearerToken(request);
  if (!bearer) {
    onRejected?.(401);
    return unauthorized("Send the token as `Authorization: Bearer <token>`.");
  }
  const decision = ctx.limiter.check(String(Bun.hash(bearer)), Date.now());
  if (!decision.allowed) {
    onRejected?.(429);
    return apiError(
      429,
      "rate-limited",
      `More than RATE_LIMIT_PER_MINUTE=${ctx.config.rateLimitPerMinute} requests in the last 60 s for this token; retry after ${decision.retryAfterSecs} s.`,
      { "Retry-After": String(decision.retryAfterSecs) },
    );
  }
  return { bearer, body, services: ctx.store.services() };
}

/** `admit`, then a valid access token and a JSON body. */
export async function authorize(
  ctx: ReceiverContext,
  request: Request,
  onRejected?: (status: number) => void,
): Promise<Authorized | Response> {
  const admitted = await admit(ctx, request, onRejected);
  if (admitted instanceof Response) return admitted;
  const identity = admitted.services.tokens.authenticate(admitted.bearer, Date.now());
  if (!identity) {
    onRejected?.(401);
    return unauthorized(
      "The access token is unknown, expired, or its refresh token was revoked; exchange the refresh token at POST /token.",
    );
  }
  // Every /token call mints a token with a budget of its own; the person's budget spans them all.
  const person = ctx.personLimiter.check(identity.email, Date.now());
  if (!person.allowed) {
    onRejected?.(429);
    return apiError(
      429,
      "rate-limited",
      `More than ${PERSON_RATE_FACTOR} × RATE_LIMIT_PER_MINUTE=${ctx.config.rateLimitPerMinute} requests in the last 60 s from this person's access tokens together; retry after ${person.retryAfterSecs} s.`,
      { "Retry-After": String(person.retryAfterSecs) },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(admitted.body));
  } catch {
    return apiError(400, "invalid-body", "The body is not UTF-8 JSON.");
  }
  return { ...admitted, identity, json };
}
