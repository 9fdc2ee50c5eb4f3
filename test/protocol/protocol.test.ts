import { describe, expect, test } from "bun:test";
import nacl from "tweetnacl";
import {
  formatSignatureHeader,
  fromBase64,
  fromSqlTime,
  parseRfc3339,
  parseSignatureHeader,
  signedMessage,
  toRfc3339,
  toSqlTime,
  validateReport,
} from "../../src/protocol/index.ts";
import { verifyEd25519 } from "../../src/receiver/reports/verify.ts";

describe("time", () => {
  test("parses RFC 3339 instants with Z, offsets and fractions", () => {
    expect(parseRfc3339("2026-05-11T03:00:00Z")).toBe(Date.UTC(2026, 4, 11, 3));
    expect(parseRfc3339("2026-05-11T05:00:00+02:00")).toBe(Date.UTC(2026, 4, 11, 3));
    expect(parseRfc3339("2026-05-11T03:00:00.250Z")).toBe(Date.UTC(2026, 4, 11, 3, 0, 0, 250));
  });

  test("refuses what is not an instant", () => {
    for (const text of [
      "",
      "2026-05-11",
      "2026-05-11T03:00:00",
      "2026-02-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "yesterday",
    ]) {
      expect(parseRfc3339(text)).toBeNull();
    }
  });

  test("the database form is SQLite's datetime() text, and reads back", () => {
    const ms = Date.UTC(2026, 10, 27, 1, 2, 3);
    expect(toSqlTime(ms)).toBe("2026-11-27 01:02:03");
    expect(toRfc3339(ms)).toBe("2026-11-27T01:02:03Z");
    expect(fromSqlTime("2026-11-27 01:02:03")).toBe(ms);
    expect(fromSqlTime("2026-11-27T01:02:03Z")).toBe(ms);
  });
});

describe("signature", () => {
  test("a tweetnacl signature over body, newline, timestamp verifies with node:crypto", () => {
    const keys = nacl.sign.keyPair();
    const body = new TextEncoder().encode('{"a":1}');
    const message = signedMessage(body, "2026-05-11T03:00:00Z");
    expect(new TextDecoder().decode(message)).toBe('{"a":1}\n2026-05-11T03:00:00Z');
    const header = formatSignatureHeader(nacl.sign.detached(message, keys.secretKey), keys.publicKey);
    const parsed = parseSignatureHeader(header)!;
    expect(verifyEd25519(message, parsed.signature, parsed.publicKey, parsed.publicKeyBase64)).toBe(true);
    const other = signedMessage(body, "2026-05-11T03:00:01Z");
    expect(verifyEd25519(other, parsed.signature, parsed.publicKey, parsed.publicKeyBase64)).toBe(false);
  });

  test("the header parser refuses anything but ed25519 <64 bytes> <32 bytes> in strict base64", () => {
    const sig = Buffer.alloc(64, 1).toString("base64");
    const pub = Buffer.alloc(32, 2).toString("base64");
    expect(parseSignatureHeader(`ed25519 ${sig} ${pub}`)).not.toBeNull();
    expect(parseSignatureHeader(`Ed25519  ${sig}  ${pub}`)).not.toBeNull();
    for (const header of [
      "",
      "ed25519",
      `ed448 ${sig} ${pub}`,
      `ed25519 ${pub} ${sig}`,
      `ed25519 ${sig} ${pub} extra`,
      `ed25519 ${sig.replace(/=+$/, "")} ${pub}`,
    ]) {
      expect(parseSignatureHeader(header)).toBeNull();
    }
  });

  test("base64 must be canonical, padded, and of the exact length", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    expect(fromBase64(key, 32)).not.toBeNull();
    expect(fromBase64(key.replace("=", ""), 32)).toBeNull();
    expect(fromBase64(`${key.slice(0, 42)}x=`, 32)).toBeNull(); // stray bits in the last character
    expect(fromBase64(key, 31)).toBeNull();
    expect(fromBase64(key.replace("B", "-"), 32)).toBeNull();
  });

  test("a malformed point does not throw", () => {
    expect(verifyEd25519(new Uint8Array(1), new Uint8Array(64), new Uint8Array(32).fill(255), "x")).toBe(
      false,
    );
  });
});

describe("validateReport", () => {
  const base = {
    schema_version: 2,
    session_id: "s",
    turn_index: 0,
    timestamp_utc: "2026-05-11T03:00:00Z",
    models: {
      m: { input_tokens: 1, output_tokens: 2, cache_read_tokens: 3, cache_write_tokens: 4, requests: 2 },
    },
  };

  test("keeps v2 extras only for schema_version 2", () => {
    const v2 = validateReport(base);
    expect(v2.ok && v2.value.models.m!.requests).toBe(2);
    const v1 = validateReport({ ...base, schema_version: 1 });
    expect(v1.ok && v1.value.models.m!.requests).toBeUndefined();
  });

  test("names the field that is wrong", () => {
    const result = validateReport({ ...base, models: { m: { ...base.models.m, cache_read_tokens: "3" } } });
    expect(result).toEqual({
      ok: false,
      message: 'models["m"].cache_read_tokens must be a whole number from 0 to 10000000000',
    });
  });

  test("v2 hours: a split of the four counts over whole UTC hours, adding up to them exactly", () => {
    const m = base.models.m;
    const withHours = (hours: unknown) => validateReport({ ...base, models: { m: { ...m, hours } } });
    const good = {
      "2026-05-11T02:00:00Z": {
        input_tokens: 1,
        output_tokens: 0,
        cache_read_tokens: 1,
        cache_write_tokens: 4,
      },
      "2026-05-11T03:00:00Z": {
        input_tokens: 0,
        output_tokens: 2,
        cache_read_tokens: 2,
        cache_write_tokens: 0,
      },
    };
    const ok = withHours(good);
    expect(ok.ok && ok.value.models.m!.hours).toEqual(good);
    const v1 = validateReport({ ...base, schema_version: 1, models: { m: { ...m, hours: good } } });
    expect(v1.ok && v1.value.models.m!.hours).toBeUndefined();
    const refused = (hours: unknown) => {
      const result = withHours(hours);
      return result.ok ? "accepted" : result.message;
    };
    expect(refused({ "2026-05-11T03:00:00Z": { ...m, output_tokens: 1 } })).toBe(
      'models["m"].hours must add up to the model\'s output_tokens',
    );
    expect(refused({ "2026-05-11T03:30:00Z": m })).toMatch(/whole UTC hours/);
    expect(refused({ "2026-02-31T03:00:00Z": m })).toMatch(/whole UTC hours/);
    expect(refused({ "2026-05-11T03:00:00+01:00": m })).toMatch(/whole UTC hours/);
    expect(refused({})).toMatch(/1 to 24 hours/);
    expect(refused([m])).toMatch(/must be an object/);
    expect(refused({ "2026-05-11T03:00:00Z": { ...m, input_tokens: -1 } })).toMatch(/whole number/);
    const many = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [
        `2026-05-${String(10 + Math.floor(i / 24)).padStart(2, "0")}T${String(i % 24).padStart(2, "0")}:00:00Z`,
        { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 },
      ]),
    );
    expect(refused(many)).toMatch(/1 to 24 hours/);
  });

  test("a missing timestamp is an empty one (the receiver then uses its own time)", () => {
    const { timestamp_utc: _, ...rest } = base;
    const result = validateReport(rest);
    expect(result.ok && result.value.timestamp_utc).toBe("");
  });
});
