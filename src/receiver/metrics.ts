// Counters for GET /metrics (Prometheus text format). Process-local: they restart at zero.

const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

/** Each counter with its # HELP text. */
export const COUNTERS = {
  reports_accepted: "Reports answered 200 (stored, or already stored by an earlier retry).",
  reports_auth_rejected: "Report and limit-event requests refused for a missing or invalid access token.",
  reports_sig_rejected: "Report and limit-event requests refused over their signature (403).",
  reports_rate_limited: "Report and limit-event requests refused by a rate limit (429).",
  token_exchanges: "Refresh tokens exchanged for access tokens at POST /token.",
  key_registrations: "Device keys registered or re-registered at POST /register-key.",
  limit_events_accepted: "Limit events answered 200 (stored, or already stored).",
  delivery_gaps:
    "Signed deliveries that arrived with earlier ones of their device missing (after a restore): each makes its reporter send the missing ones again.",
} as const;
export type CounterName = keyof typeof COUNTERS;

/** A gauge's current value and its # HELP text. */
export interface Gauge {
  value: number;
  help: string;
}

export class Metrics {
  private readonly counters = new Map<CounterName, number>(
    (Object.keys(COUNTERS) as CounterName[]).map((name) => [name, 0]),
  );
  private readonly requests = new Map<string, number>();
  private readonly bucketCounts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  private latencyCount = 0;
  private latencySumMs = 0;

  increment(name: CounterName): void {
    this.counters.set(name, this.counters.get(name)! + 1);
  }

  /** `route` is the matched route pattern, never the raw path, so label sets stay few. */
  observeRequest(route: string, status: number, ms: number): void {
    const key = `${route}\u0000${Math.floor(status / 100)}xx`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.latencyCount++;
    this.latencySumMs += ms;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      if (ms <= LATENCY_BUCKETS_MS[i]!) this.bucketCounts[i]!++;
    }
  }

  render(gauges: Record<string, Gauge>): string {
    const lines: string[] = [];
    const head = (name: string, type: string, help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [name, value] of this.counters) {
      head(`ccflux_${name}_total`, "counter", COUNTERS[name]);
      lines.push(`ccflux_${name}_total ${value}`);
    }
    for (const [name, gauge] of Object.entries(gauges)) {
      head(`ccflux_${name}`, "gauge", gauge.help);
      lines.push(`ccflux_${name} ${gauge.value}`);
    }
    head("ccflux_http_requests_total", "counter", "HTTP requests answered, by route and status class.");
    for (const [key, value] of this.requests) {
      const [route, statusClass] = key.split("\u0000");
      lines.push(`ccflux_http_requests_total{route="${route}",status="${statusClass}"} ${value}`);
    }
    head(
      "ccflux_http_request_duration_seconds",
      "histogram",
      "Time from a request's arrival to its answer, in seconds.",
    );
    LATENCY_BUCKETS_MS.forEach((le, i) => {
      lines.push(`ccflux_http_request_duration_seconds_bucket{le="${le / 1000}"} ${this.bucketCounts[i]}`);
    });
    lines.push(
      `ccflux_http_request_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `ccflux_http_request_duration_seconds_sum ${this.latencySumMs / 1000}`,
      `ccflux_http_request_duration_seconds_count ${this.latencyCount}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
