import { Elysia } from "elysia";
import { readDelivery } from "../../protocol/delivery.ts";
import {
  parseRfc3339,
  parseSignatureHeader,
  SIGNATURE_HEADER,
  type SignatureError,
  signedMessage,
  TIMESTAMP_HEADER,
  TIMESTAMP_TOLERANCE_SECS,
  validateLimitEvent,
  validateReport,
} from "../../protocol/index.ts";
import { type Authorized, authorize } from "../api.ts";
import type { ReceiverContext } from "../context.ts";
import { apiError, json } from "../http.ts";
import type { Services } from "../services.ts";
import type { Identity } from "../tokens/service.ts";
import { MAX_LIMIT_EVENTS_PER_DAY } from "./limit-event-cap.ts";
import { MAX_MODELS_PER_ORGANISATION, MAX_MODELS_PER_USER, type ModelRefusal } from "./model-names.ts";
import type { Signer } from "./service.ts";
import { verifyEd25519 } from "./verify.ts";

const SIGNATURE_ADVICE: Record<SignatureError, string> = {
  "signature-required": "REQUIRE_SIGNATURES is on and the report is unsigned; update the ccflux plugin.",
  "timestamp-missing": `A ${SIGNATURE_HEADER} header came without ${TIMESTAMP_HEADER}.`,
  "timestamp-stale": `${TIMESTAMP_HEADER} is more than ${TIMESTAMP_TOLERANCE_SECS} s from the receiver's clock; check the device's clock and sign again.`,
  "signature-invalid": `The ${SIGNATURE_HEADER} header is malformed or the signature does not verify.`,
  "key-not-registered":
    "No device key with this public key is registered for this user; register it at POST /register-key.",
  "key-revoked": "This device key was revoked by IT; this device no longer reports.",
};

/** A reporter over the limit-event cap waits this long before it tries again. */
const LIMIT_EVENT_RETRY_SECS = 3600;

const MODEL_ADVICE: Record<ModelRefusal, string> = {
  user: `This user has already reported ${MAX_MODELS_PER_USER} distinct model names, the most one user may; the report names another and was not stored. Ask IT to check this user's reports.`,
  organisation: `All users together have already reported ${MAX_MODELS_PER_ORGANISATION} distinct model names, the most the receiver keeps; the report names another and was not stored. Ask IT to check the Models table on the dashboard.`,
};

/** The device that signed the request, null for an accepted unsigned one, or the refusal. */
function checkSignature(
  ctx: ReceiverContext,
  request: Request,
  req: Authorized,
  now: number,
): Signer | null | SignatureError {
  const header = request.headers.get(SIGNATURE_HEADER);
  if (header === null) return ctx.config.requireSignatures ? "signature-required" : null;
  const timestamp = request.headers.get(TIMESTAMP_HEADER);
  if (timestamp === null) return "timestamp-missing";
  const signed = parseSignatureHeader(header);
  const signedAt = parseRfc3339(timestamp);
  if (!signed || signedAt === null) return "signature-invalid";
  if (Math.abs(now - signedAt) > TIMESTAMP_TOLERANCE_SECS * 1000) return "timestamp-stale";
  const key = req.services.keys.find(signed.publicKeyBase64);
  if (!key || key.email !== req.identity.email) return "key-not-registered";
  if (key.revoked) return "key-revoked";
  if (
    !verifyEd25519(
      signedMessage(req.body, timestamp),
      signed.signature,
      signed.publicKey,
      signed.publicKeyBase64,
    )
  ) {
    return "signature-invalid";
  }
  return { publicKey: signed.publicKeyBase64, deviceId: key.deviceId };
}

export function reportsController(ctx: ReceiverContext) {
  const countRejection = (status: number) =>
    ctx.metrics.increment(status === 429 ? "reports_rate_limited" : "reports_auth_rejected");

  /**
   * Every check up to and including the signature, then `write` in the shared commit (touching the
   * signing key's last_seen_at and recording its delivery beside it); the answer, or what `write`
   * returned once committed with the `delivery_held` to answer (absent for an unsigned request or
   * one without delivery_seq).
   */
  async function acceptSigned<T, R>(
    request: Request,
    validate: (body: unknown) => { ok: true; value: T } | { ok: false; message: string },
    write: (services: Services, who: Identity, value: T, signer: Signer | null, now: number) => R,
  ): Promise<Response | { who: Identity; value: T; result: R; held: { delivery_held?: number } }> {
    const req = await authorize(ctx, request, countRejection);
    if (req instanceof Response) return req;
    const valid = validate(req.json);
    if (!valid.ok) return apiError(400, "invalid-body", valid.message);
    const delivery = readDelivery(req.json);
    if (delivery && "error" in delivery) return apiError(400, "invalid-body", delivery.error);
    const now = Date.now();
    const signer = checkSignature(ctx, request, req, now);
    if (typeof signer === "string") {
      ctx.metrics.increment("reports_sig_rejected");
      return apiError(403, signer, SIGNATURE_ADVICE[signer]);
    }
    const done = await ctx.store.write((services) => {
      if (signer) services.keys.touch(signer.publicKey, now);
      const result = write(services, req.identity, valid.value, signer, now);
      // A refusal (a string: a cap was reached) stored nothing, so its delivery is not held either.
      const recorded = signer && delivery && typeof result !== "string";
      const held = recorded
        ? { delivery_held: services.keys.recordDelivery(signer.publicKey, delivery) }
        : {};
      return { who: req.identity, value: valid.value, result, held };
    });
    // Held below its own number: earlier deliveries of this device are missing (a restore), and
    // its reporter now sends them again.
    if (delivery && done.held.delivery_held !== undefined && done.held.delivery_held < delivery.seq)
      ctx.metrics.increment("delivery_gaps");
    return done;
  }

  return new Elysia({ name: "reports" })
    .post(
      "/report",
      async ({ request }) => {
        const done = await acceptSigned(request, validateReport, (services, who, report, ...rest) => {
          const refused = services.modelNames.admit(who.email, Object.keys(report.models));
          return refused ?? services.reports.store(who, report, ...rest);
        });
        if (done instanceof Response) return done;
        if (typeof done.result === "string") {
          ctx.log.warn("report refused: too many model names", { email: done.who.email, cap: done.result });
          return apiError(400, "too-many-models", MODEL_ADVICE[done.result]);
        }
        ctx.metrics.increment("reports_accepted");
        return json({
          status: done.result > 0 ? "stored" : "already-stored",
          stored: done.result,
          ...done.held,
        });
      },
      { parse: "none" },
    )
    .post(
      "/limit-event",
      async ({ request }) => {
        const done = await acceptSigned(request, validateLimitEvent, (services, who, event, signer, now) =>
          services.limitEventCap.allows(who.email, event.session_id, event.timestamp_utc, now)
            ? services.reports.storeLimitEvent(who, event, signer, now)
            : "too-many",
        );
        if (done instanceof Response) return done;
        if (done.result === "too-many") {
          ctx.metrics.increment("reports_rate_limited");
          return apiError(
            429,
            "too-many-limit-events",
            `This person has sent ${MAX_LIMIT_EVENTS_PER_DAY} limit events in the last 24 hours, the most the receiver takes; keep the event and retry later.`,
            { "Retry-After": String(LIMIT_EVENT_RETRY_SECS) },
          );
        }
        ctx.metrics.increment("limit_events_accepted");
        if (done.result) ctx.log.info("limit event", { email: done.who.email, kind: done.value.kind });
        return json({ status: done.result ? "stored" : "already-stored", ...done.held });
      },
      { parse: "none" },
    );
}
