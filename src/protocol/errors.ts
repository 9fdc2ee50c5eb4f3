// Codes carried in the `error` field and the X-CCFLUX-Error header (docs/protocol.md §3).
// A v1 reporter reads only the status and this header, so these strings are the contract.
export const SignatureErrors = [
  "signature-required",
  "timestamp-missing",
  "timestamp-stale",
  "signature-invalid",
  "key-not-registered",
  "key-revoked",
] as const;
export type SignatureError = (typeof SignatureErrors)[number];

export type ApiErrorCode =
  | SignatureError
  | "unauthorized"
  | "invalid-body"
  | "too-many-models"
  | "too-many-devices"
  | "too-many-limit-events"
  | "body-too-large"
  | "rate-limited"
  | "key-conflict"
  | "database-unavailable"
  | "not-found"
  | "internal";

export interface ApiErrorBody {
  error: ApiErrorCode;
  message: string;
}

export const ERROR_HEADER = "X-CCFLUX-Error";
export const TIMESTAMP_HEADER = "X-CCFLUX-Timestamp";
export const SIGNATURE_HEADER = "X-CCFLUX-Signature";

/** How far a signed timestamp may be from the receiver's clock. */
export const TIMESTAMP_TOLERANCE_SECS = 300;
