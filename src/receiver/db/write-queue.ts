// Group commit: report writes that arrive in the same turn of the event loop share one SQLite
// commit. Each request's writes still run in their own savepoint, so they are all-or-nothing on
// their own, and no request is answered before the commit that holds its writes has returned.
// On this class of disk the commit (and its share of WAL checkpoints) costs more than the writes;
// sharing it is what lets ingest keep up with signature verification.
import type { Database } from "bun:sqlite";

interface Job<S> {
  run: (services: S) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteQueue<S extends { db: Database }> {
  private jobs: Job<S>[] = [];
  private scheduled = false;

  /** `current` gives the services on the database now at the path (it may throw when there is none). */
  constructor(private readonly current: () => S) {}

  run<T>(job: (services: S) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ run: job, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.jobs;
    this.jobs = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      const services = this.current();
      services.db
        .transaction(() => {
          for (const job of jobs) {
            try {
              // A nested transaction is a savepoint: a failing job undoes only its own writes.
              outcomes.push({ ok: true, value: services.db.transaction(job.run)(services) });
            } catch (error) {
              outcomes.push({ ok: false, value: error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const job of jobs) job.reject(error); // nothing was committed
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.value);
    });
  }
}
