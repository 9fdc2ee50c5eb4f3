// Request plumbing shared by the API controllers: error bodies, bearer tokens, bounded bodies,
// and the request target as the server routes and logs it.
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

/** The origin given to requests whose Host is too short for the router (see `routeTarget`). */
const SHORT_HOST_ORIGIN = "http://receiver.invalid";
/** Elysia finds the path by searching for "/" from here on, which assumes a host of 4+ characters. */
const ROUTER_PATH_SEARCH_START = 11;

export type Target =
  /** The request to hand to the app (a copy on a fixed origin when the Host is very short). */
  | { ok: true; request: Request; path: string }
  /** No Host header, or one that is not a host name: Bun then leaves the URL without an origin. */
  | { ok: false; path: string };

/** The path of the request target as sent (no dot segments resolved), without the query. */
function rawPath(url: string, start: number): string {
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/**
 * What the server routes and logs: the real path whatever the Host header says. A request whose
 * Host is missing or is not a host name (`/ ? # @`, spaces, a bad port) cannot be given a URL and
 * is refused; a very short Host (`a`, `ab:1`) would make the router read the path from the wrong
 * place, so the request is routed on a fixed origin instead.
 */
export function routeTarget(request: Request): Target {
  const url = request.url;
  if (url.startsWith("/")) return { ok: false, path: rawPath(url, 0) };
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  if (pathStart < 0 || !URL.canParse(url))
    return { ok: false, path: pathStart < 0 ? "/" : rawPath(url, pathStart) };
  const path = rawPath(url, pathStart);
  if (pathStart >= ROUTER_PATH_SEARCH_START) return { ok: true, request, path };
  return { ok: true, request: new Request(SHORT_HOST_ORIGIN + url.slice(pathStart), request), path };
}

export function badHost(): Response {
  return new Response(
    "Bad request: the Host header is missing or is not a host name. Send the receiver's name, such as Host: ccflux.example.org.\n",
    { status: 400, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } },
  );
}

/** A client that closed the connection while sending its body: the body never arrived whole. */
export function isClientAbort(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "AbortError";
}
