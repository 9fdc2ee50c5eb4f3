// The address a request came from, recorded by the server before the app sees the request,
// so features (admin login limits, the audit log) need not reach into the server object.
const addresses = new WeakMap<Request, string>();

export function recordClientAddress(request: Request, address: string): void {
  addresses.set(request, address);
}

/** The peer address, or with TRUST_PROXY the proxy's X-Real-IP / first X-Forwarded-For hop. */
export function clientAddress(request: Request, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded =
      request.headers.get("x-real-ip") ?? request.headers.get("x-forwarded-for")?.split(",")[0];
    if (forwarded?.trim()) return forwarded.trim().slice(0, 64);
  }
  return addresses.get(request) ?? "unknown";
}
