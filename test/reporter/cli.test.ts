// The `ccflux` command line: exit codes and what it prints (the hook: nothing, ever).

import { afterEach, expect, test } from "bun:test";
import { VERSION } from "../../src/protocol/version.ts";
import { ccflux as run } from "./helpers.ts";
import { type FakeHome, fakeHome } from "./session.ts";

let home: FakeHome;
afterEach(() => home?.remove());

const ccflux = (args: string[], stdin = "") => run(home.env, args, stdin);

test("--version prints the version; --help the commands; an unknown command is bad usage (2)", () => {
  home = fakeHome();
  expect(ccflux(["--version"])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  expect(ccflux(["--help"]).stdout).toContain("ccflux hook <event>");
  const unknown = ccflux(["frobnicate"]);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain("usage:");
});

test("a hook given garbage, or nothing, on stdin still exits 0 and prints nothing", () => {
  home = fakeHome();
  for (const stdin of [
    "",
    "not json",
    '{"session_id": 42}',
    "[]",
    JSON.stringify({ session_id: "x".repeat(65) }),
  ]) {
    expect(ccflux(["hook", "stop"], stdin)).toEqual({ code: 0, stdout: "", stderr: "" });
  }
});

test("a hook whose state folder cannot be written exits 0 silently", () => {
  home = fakeHome({ CLAUDE_CONFIG_DIR: "/proc/ccflux-cannot-write-here" });
  home.append(home.transcript("s1"), "{}\n");
  expect(ccflux(["hook", "stop"], home.hookInput("s1"))).toEqual({ code: 0, stdout: "", stderr: "" });
});
