// How the sender words the receiver's answers for the log: what happened and what to do.

import type { Answer } from "./client.ts";

const RETRY_RESPONSE: Record<number, string> = {
  401: "access token refused twice (401): the refresh token may have just been revoked; ask IT if this repeats",
  429: "receiver busy (429): waiting as it asked",
};

/** A failed answer as a log line: what failed and what happens next. */
export function describe(answer: Answer, what: string): string {
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
