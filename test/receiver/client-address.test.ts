import { expect, test } from "bun:test";
import { addressLimitKey, clientAddress } from "../../src/receiver/client-address.ts";

const request = (headers: Record<string, string>) => new Request("http://receiver/admin/", { headers });

test("with TRUST_PROXY only X-Real-IP, the header the shipped proxies overwrite, names the client", () => {
  const forged = { "X-Forwarded-For": "198.51.100.1", Forwarded: "for=192.0.2.1" };
  expect(clientAddress(request({ ...forged, "X-Real-IP": " 203.0.113.5 " }), true)).toBe("203.0.113.5");
  expect(clientAddress(request(forged), true)).toBe("unknown"); // no peer lookup outside a server
  expect(clientAddress(request({ "X-Real-IP": "203.0.113.5" }), false)).toBe("unknown");
});

test("limits count IPv4 addresses one by one and IPv6 addresses by their /64", () => {
  expect(addressLimitKey("203.0.113.5")).toBe("203.0.113.5");
  expect(addressLimitKey("::ffff:203.0.113.5")).toBe("203.0.113.5");
  const block = "2001:db8:a:b::/64";
  for (const address of [
    "2001:db8:a:b::1",
    "2001:DB8:A:B:ffff:ffff:ffff:ffff",
    "2001:0db8:000a:000b:1:2:3:4",
    "2001:db8:a:b:1:2:3.4.5.6",
  ]) {
    expect(addressLimitKey(address)).toBe(block);
  }
  expect(addressLimitKey("2001:db8:a:c::1")).not.toBe(block);
  expect(addressLimitKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
  expect(addressLimitKey("1:2:3::5:6:7.8.9.10")).toBe("1:2:3:0::/64");
  expect(addressLimitKey("1:2::4:5:6:7.8.9.10")).toBe("1:2:0:4::/64");
  expect(addressLimitKey("::1")).toBe("0:0:0:0::/64");
  expect(addressLimitKey("unknown")).toBe("unknown");
});
