import { Elysia } from "elysia";
import type { ReceiverContext } from "../context.ts";
import { json } from "../http.ts";

export function healthController(ctx: ReceiverContext) {
  // The log says what is wrong, with the fix, once per change rather than once per probe.
  let lastDetail = "";
  return new Elysia({ name: "health" })
    .get("/health", () => {
      const problem = ctx.store.probe();
      if (problem && problem.detail !== lastDetail) ctx.log.warn(problem.detail);
      lastDetail = problem?.detail ?? "";
      // v1 reads status and db; reason is for the people looking.
      return problem
        ? json({ status: "degraded", db: "error", reason: problem.reason }, 503)
        : json({ status: "ok", db: "ok" });
    })
    .get("/metrics", () => {
      let active = -1; // -1 says the database could not be read
      try {
        active = ctx.store.services().tokens.activeAccessTokens();
      } catch {}
      const body = ctx.metrics.render({
        active_access_tokens: {
          value: active,
          help: "Access tokens not yet expired whose refresh token is live; -1 when the database cannot be read.",
        },
        rate_limiter_keys: {
          value: ctx.limiter.size,
          help: "Tokens the API rate limiter is tracking now.",
        },
      });
      return new Response(body, { headers: { "Content-Type": "text/plain; version=0.0.4" } });
    });
}
