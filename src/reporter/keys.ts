// The per-device Ed25519 key: a 32-byte seed in `device-key`, created with mode 0600 from the start.

import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import nacl from "tweetnacl";
import { formatSignatureHeader, fromBase64, signedMessage, toBase64 } from "../protocol/index.ts";
import type { StatePaths } from "./files.ts";

export interface DeviceKey {
  publicKey: Uint8Array;
  /** Standard base64 with padding, the form the receiver stores. */
  publicKeyBase64: string;
  secretKey: Uint8Array;
}

/** Keys derived in this process, by seed: deriving one costs milliseconds, and a sender reads it per report. */
const derived = new Map<string, DeviceKey>();

function fromSeed(seed: Uint8Array): DeviceKey {
  const id = toBase64(seed);
  const known = derived.get(id);
  if (known) return known;
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const key = {
    publicKey: pair.publicKey,
    publicKeyBase64: toBase64(pair.publicKey),
    secretKey: pair.secretKey,
  };
  derived.set(id, key);
  return key;
}

export function readDeviceKey(paths: StatePaths): DeviceKey | null {
  try {
    const seed = fromBase64(readFileSync(paths.deviceKey, "utf8").trim(), 32);
    return seed ? fromSeed(seed) : null;
  } catch {
    return null;
  }
}

/** The device key, made on first use (by the sender or doctor, which hold the sender lock). */
export function loadOrCreateDeviceKey(paths: StatePaths): DeviceKey {
  const existing = readDeviceKey(paths);
  if (existing) return existing;
  const seed = nacl.randomBytes(32);
  try {
    // "wx" with mode 0600: the seed is never readable by others, not even for an instant.
    const fd = openSync(paths.deviceKey, "wx", 0o600);
    writeSync(fd, `${toBase64(seed)}\n`);
    closeSync(fd);
    return fromSeed(seed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // The file exists but holds no key, so it can never sign: set it aside and start over.
    renameSync(paths.deviceKey, `${paths.deviceKey}.unreadable`);
    return loadOrCreateDeviceKey(paths);
  }
}

/** Moves the device key out of use (to `paths.revokedKey` for a revoked one); the next use makes a new one. */
export function setKeyAside(paths: StatePaths, destination: string): void {
  try {
    renameSync(paths.deviceKey, destination);
  } catch {}
}

export function isKeyRevoked(paths: StatePaths): boolean {
  return existsSync(paths.revokedKey);
}

export function signBody(body: Uint8Array, timestamp: string, key: DeviceKey): string {
  return formatSignatureHeader(
    nacl.sign.detached(signedMessage(body, timestamp), key.secretKey),
    key.publicKey,
  );
}
