// Counters for GET /metrics (Prometheus text format). Process-local: they restart at zero.

const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

export const COUNTERS = [
  "reports_accepted",
  "reports_auth_rejected",
  "reports_sig_rejected",
  "reports_rate_limited",
  "token_exchanges",
  "key_registrations",
  "limit_events_accepted",
] as const;
export type CounterName = (typeof COUNTERS)[number];

export class Metrics {
  private readonly counters = new Map<CounterName, number>(COUNTERS.map((name) => [name, 0]));
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

  render(gauges: Record<string, number>): string {
    const lines: string[] = [];
    for (const [name, value] of this.counters) {
      lines.push(`# TYPE ccflux_${name}_total counter`, `ccflux_${name}_total ${value}`);
    }
    for (const [name, value] of Object.entries(gauges)) {
      lines.push(`# TYPE ccflux_${name} gauge`, `ccflux_${name} ${value}`);
    }
    lines.push("# TYPE ccflux_http_requests_total counter");
    for (const [key, value] of this.requests) {
      const [route, statusClass] = key.split("\u0000");
      lines.push(`ccflux_http_requests_total{route="${route}",status="${statusClass}"} ${value}`);
    }
    lines.push("# TYPE ccflux_http_request_duration_seconds histogram");
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
