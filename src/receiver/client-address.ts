// The address a request came from. The server registers how to ask for the peer address once.
import { isIPv6 } from "node:net";

let peerAddress: (request: Request) => string | undefined = () => undefined;

export function setPeerAddressLookup(lookup: (request: Request) => string | undefined): void {
  peerAddress = lookup;
}

/**
 * The peer address, or with TRUST_PROXY the proxy's X-Real-IP. Only that one header counts: the
 * shipped nginx and Caddy configs always overwrite it with the address they saw, whatever the
 * client sent, while X-Forwarded-For and Forwarded carry the client's own claims along.
 */
export function clientAddress(request: Request, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get("x-real-ip")?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  return peerAddress(request) ?? "unknown";
}

/**
 * What per-address limits count by: an IPv4 address as it is, an IPv6 address by its /64, the
 * smallest block a home or office is handed, so rotating through one's own block gains nothing.
 */
export function addressLimitKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // A dotted IPv4 tail stands for two groups; only the first four groups are kept anyway.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const groups = address.includes("::")
    ? [...left, ...Array<string>(8 - width(left) - width(right)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}
