// How the sender words the receiver's answers for the log: what happened and what to do.

import type { Answer } from "./client.ts";

const RETRY_RESPONSE: Record<number, string> = {
  401: "access token refused twice (401): the refresh token may have just been revoked; ask IT if this repeats",
  429: "receiver busy (429): waiting as it asked",
};

/**
 * The receiver's caps on one person (docs/configuration.md, error codes): what the developer or IT
 * can do, and how the reporter waits. Retrying sooner would only be refused again.
 */
export const CAP_REFUSALS = {
  "too-many-models":
    "receiver refused a report naming a model new to it (400 too-many-models: its cap on distinct model names is reached): the report and later ones are kept and tried again every 10 minutes; ask IT to make room (docs/troubleshooting.md, too many model names)",
  "too-many-devices":
    "receiver refused this device's key (403 too-many-devices): you already have 20 active devices; ask IT to revoke the ones you no longer use (Device Keys page); reports are kept and the key is tried again on a turn at most every 10 minutes",
  "too-many-limit-events":
    "receiver took the most limit events it accepts from you in 24 hours (429 too-many-limit-events): the event and later reports are kept and sent when it allows (in about an hour); nothing to do, but tell IT if this happens every day",
} as const;

/** The log line for a refusal by one of the receiver's caps, or null when `error` is not one. */
export function describeCap(error: string): string | null {
  return Object.hasOwn(CAP_REFUSALS, error) ? CAP_REFUSALS[error as keyof typeof CAP_REFUSALS] : null;
}

/** A failed answer as a log line: what failed and what happens next. */
export function describe(answer: Answer, what: string): string {
  if (answer.status === 429 && answer.error === "rate-limited")
    return "receiver rate limit reached (429 rate-limited): waiting as it asked; if this repeats while your devices send little, ask IT to raise RATE_LIMIT_PER_MINUTE";
  if (answer.status === 0) return `${what}: receiver not reachable (${answer.failure}); will retry`;
  if (answer.status >= 500) return `${what}: receiver unavailable (${answer.status}); will retry`;
  return (
    RETRY_RESPONSE[answer.status] ??
    `${what}: unexpected answer (${answer.status}); check api_endpoint in Claude Code's plugin settings`
  );
}

/** Why the receiver refused a report with 403, and what to do. */
export function describeRefusal(answer: Answer): string {
  const error = answer.error;
  switch (error) {
    case "timestamp-stale": {
      const skew = answer.serverTime === null ? null : Math.round((Date.now() - answer.serverTime) / 1000);
      return `receiver refused the report's time (403 timestamp-stale): this computer's clock is ${skew === null ? "off" : `${skew} s off`} from the receiver's; turn on automatic time sync`;
    }
    case "signature-required":
      return "receiver requires signed reports (403 signature-required): update the ccflux plugin";
    case "key-not-registered":
      return "receiver does not know this device's key even after registering it (403 key-not-registered); will retry";
    default:
      return `receiver refused the report's signature (403 ${error || "forbidden"}); will retry next turn`;
  }
}
