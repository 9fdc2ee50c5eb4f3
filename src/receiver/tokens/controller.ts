import { Elysia } from "elysia";
import { admit } from "../api.ts";
import type { ReceiverContext } from "../context.ts";
import { json, unauthorized } from "../http.ts";

export function tokensController(ctx: ReceiverContext) {
  return new Elysia({ name: "tokens" }).post(
    "/token",
    async ({ request }) => {
      const admitted = await admit(ctx, request);
      if (admitted instanceof Response) return admitted;
      const grant = admitted.services.tokens.exchange(admitted.bearer, Date.now());
      if (!grant) {
        return unauthorized("The refresh token is unknown, revoked or expired; ask IT for a new one.");
      }
      ctx.metrics.increment("token_exchanges");
      return json({ access_token: grant.accessToken, expires_at: grant.expiresAt, token_type: "Bearer" });
    },
    { parse: "none" },
  );
}
