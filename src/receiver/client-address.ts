// The address a request came from. The server registers how to ask for the peer address once;
// only the features that need it (admin login limits, the audit log) ask, so the report path never does.
let peerAddress: (request: Request) => string | undefined = () => undefined;

export function setPeerAddressLookup(lookup: (request: Request) => string | undefined): void {
  peerAddress = lookup;
}

/** The peer address, or with TRUST_PROXY the proxy's X-Real-IP / first X-Forwarded-For hop. */
export function clientAddress(request: Request, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded =
      request.headers.get("x-real-ip") ?? request.headers.get("x-forwarded-for")?.split(",")[0];
    if (forwarded?.trim()) return forwarded.trim().slice(0, 64);
  }
  return peerAddress(request) ?? "unknown";
}
