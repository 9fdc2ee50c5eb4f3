// Request plumbing shared by the API controllers: error bodies, bearer tokens, bounded bodies.
import { type ApiErrorCode, ERROR_HEADER } from "../protocol/index.ts";

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    // Nothing the API answers may be kept by a cache: /token's body is a bearer secret.
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers },
  });
}

/** `{"error", "message"}` plus the X-CCFLUX-Error header, which is all a v1 reporter reads. */
export function apiError(
  status: number,
  code: ApiErrorCode,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return json({ error: code, message }, status, { [ERROR_HEADER]: code, ...headers });
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

export function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  return header ? (BEARER.exec(header)?.[1] ?? null) : null;
}

/** The body's exact bytes, or null when it is larger than `limit` (checked before reading it all). */
export async function readBody(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    // Bun's own maxRequestBodySize caps what arrives; the declared size decides our answer.
    return Number(declared) > limit ? null : request.bytes();
  }
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function tooLarge(limitKb: number): Response {
  return apiError(413, "body-too-large", `The request body is larger than BODY_LIMIT_KB=${limitKb} KiB.`);
}

export function unauthorized(message: string): Response {
  return apiError(401, "unauthorized", message);
}

export function databaseUnavailable(): Response {
  return apiError(
    503,
    "database-unavailable",
    "The database cannot take the write right now; keep the report and retry later.",
    {
      "Retry-After": "5",
    },
  );
}
