import { Elysia } from "elysia";
import { fromBase64, MAX_DEVICE_ID } from "../../protocol/index.ts";
import { authorize } from "../api.ts";
import type { ReceiverContext } from "../context.ts";
import { apiError, json } from "../http.ts";
import { MAX_DEVICE_KEYS_PER_PERSON } from "./service.ts";

export function keysController(ctx: ReceiverContext) {
  return new Elysia({ name: "keys" }).post(
    "/register-key",
    async ({ request }) => {
      // No signature here, whatever REQUIRE_SIGNATURES says: this is how a device gets one.
      const req = await authorize(ctx, request);
      if (req instanceof Response) return req;
      const body = req.json as { public_key?: unknown; device_id?: unknown } | null;
      const publicKey = body?.public_key;
      if (typeof publicKey !== "string" || !fromBase64(publicKey, 32)) {
        return apiError(
          400,
          "invalid-body",
          "public_key must be the standard base64 (with padding) of a 32-byte Ed25519 public key.",
        );
      }
      const deviceId = body?.device_id ?? "";
      if (typeof deviceId !== "string" || deviceId.length > MAX_DEVICE_ID) {
        return apiError(
          400,
          "invalid-body",
          `device_id must be a string of at most ${MAX_DEVICE_ID} characters.`,
        );
      }
      const outcome = req.services.keys.register(req.identity.email, publicKey, deviceId, Date.now());
      if (outcome === "conflict") {
        return apiError(
          409,
          "key-conflict",
          "This public key is registered to another user; generate a new device key.",
        );
      }
      if (outcome === "too-many") {
        ctx.log.warn("device key refused: too many", { email: req.identity.email, device: deviceId });
        return apiError(
          403,
          "too-many-devices",
          `This person already has ${MAX_DEVICE_KEYS_PER_PERSON} active device keys, the most one person may; ask IT to revoke the keys of devices no longer used (dashboard Device Keys, or ccflux-receiver devices revoke).`,
        );
      }
      if (outcome === "revoked") {
        return apiError(
          403,
          "key-revoked",
          "This device key was revoked by IT; remove it to generate a new one.",
        );
      }
      ctx.metrics.increment("key_registrations");
      ctx.log.info("device key registered", { email: req.identity.email, device: deviceId });
      return json({ status: "registered" });
    },
    { parse: "none" },
  );
}
