// The signed message and the signature header (docs/protocol.md §3), shared by signer and verifier.

const encoder = new TextEncoder();

/** The exact body bytes, one newline, then the exact timestamp header bytes. */
export function signedMessage(body: Uint8Array, timestamp: string): Uint8Array {
  const ts = encoder.encode(timestamp);
  const message = new Uint8Array(body.length + 1 + ts.length);
  message.set(body, 0);
  message[body.length] = 0x0a;
  message.set(ts, body.length + 1);
  return message;
}

export function formatSignatureHeader(signature: Uint8Array, publicKey: Uint8Array): string {
  return `ed25519 ${toBase64(signature)} ${toBase64(publicKey)}`;
}

export interface ParsedSignature {
  signature: Uint8Array;
  publicKey: Uint8Array;
  /** The public key exactly as sent, the form device_keys.public_key stores. */
  publicKeyBase64: string;
}

/** Null for anything but `ed25519 <64-byte base64> <32-byte base64>`. */
export function parseSignatureHeader(header: string): ParsedSignature | null {
  const parts = header.trim().split(/ +/);
  if (parts.length !== 3 || parts[0]!.toLowerCase() !== "ed25519") return null;
  const signature = fromBase64(parts[1]!, 64);
  const publicKey = fromBase64(parts[2]!, 32);
  if (!signature || !publicKey) return null;
  return { signature, publicKey, publicKeyBase64: parts[2]! };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 with padding, decoding to exactly `length` bytes; null otherwise. */
export function fromBase64(text: string, length: number): Uint8Array | null {
  if (text.length !== Math.ceil(length / 3) * 4 || !BASE64.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== length) return null;
  // Refuse non-canonical encodings (stray bits in the last character), so one key has one spelling.
  if (bytes.toString("base64") !== text) return null;
  return new Uint8Array(bytes);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}
