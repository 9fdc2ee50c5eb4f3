// Ed25519 verification with node:crypto (fast enough that crypto never caps ingest).
import { createPublicKey, type KeyObject, verify } from "node:crypto";

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const MAX_CACHED_KEYS = 10_000;

// Public keys are public: caching their parsed form saves work and leaks nothing. Whether a key
// is registered or revoked is still read from the database on every request.
const keyObjects = new Map<string, KeyObject>();

function keyObject(publicKey: Uint8Array, cacheKey: string): KeyObject {
  let key = keyObjects.get(cacheKey);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    if (keyObjects.size >= MAX_CACHED_KEYS) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(cacheKey, key);
  }
  return key;
}

export function verifyEd25519(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
  publicKeyBase64: string,
): boolean {
  try {
    return verify(null, message, keyObject(publicKey, publicKeyBase64), signature);
  } catch {
    return false; // a point that is not on the curve, for example
  }
}
