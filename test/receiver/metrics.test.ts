import { expect, test } from "bun:test";
import { Metrics } from "../../src/receiver/metrics.ts";
import { startReceiver } from "../support/receiver.ts";

/** The metric family a sample belongs to: its name without labels or histogram suffixes. */
function family(sample: string, histograms: Set<string>): string {
  const name = sample.split(/[{ ]/)[0]!;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return histograms.has(base) ? base : name;
}

/** Every family has one # HELP with text and one # TYPE, both before its first sample. */
function checkExposition(text: string): string[] {
  const lines = text.trimEnd().split("\n");
  const help = new Map<string, number>();
  const type = new Map<string, { at: number; kind: string }>();
  lines.forEach((line, at) => {
    const m = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (!m) return;
    if (m[1] === "HELP") {
      expect(help.has(m[2]!)).toBe(false);
      help.set(m[2]!, at);
    } else {
      expect(type.has(m[2]!)).toBe(false);
      type.set(m[2]!, { at, kind: m[3]! });
    }
  });
  const histograms = new Set([...type].filter(([, t]) => t.kind === "histogram").map(([name]) => name));
  const families = new Set<string>();
  lines.forEach((line, at) => {
    if (line.startsWith("#")) return;
    const name = family(line, histograms);
    families.add(name);
    expect(`${name} HELP before sample: ${(help.get(name) ?? Infinity) < at}`).toBe(
      `${name} HELP before sample: true`,
    );
    expect(`${name} TYPE before sample: ${(type.get(name)?.at ?? Infinity) < at}`).toBe(
      `${name} TYPE before sample: true`,
    );
  });
  for (const name of help.keys()) expect(families.has(name) || type.get(name)?.kind === "counter").toBe(true);
  return [...families];
}

test("every metric of the exposition has # HELP and # TYPE lines before its samples", () => {
  const metrics = new Metrics();
  metrics.increment("reports_accepted");
  metrics.observeRequest("/report", 200, 3);
  metrics.observeRequest("/admin", 404, 30);
  const families = checkExposition(
    metrics.render({
      active_access_tokens: { value: 2, help: "Live access tokens." },
      rate_limiter_keys: { value: 1, help: "Tracked tokens." },
    }),
  );
  expect(families).toContain("ccflux_reports_accepted_total");
  expect(families).toContain("ccflux_active_access_tokens");
  expect(families).toContain("ccflux_http_requests_total");
  expect(families).toContain("ccflux_http_request_duration_seconds");
});

test("GET /metrics of the running receiver passes the same check", async () => {
  const receiver = await startReceiver();
  try {
    await fetch(`${receiver.url}/health`);
    const text = await (await fetch(`${receiver.url}/metrics`)).text();
    expect(checkExposition(text).length).toBeGreaterThan(8);
  } finally {
    await receiver.stop();
    receiver.cleanup();
  }
});
