// Package jobs is vpo's job engine: a thin layer over River
// (github.com/riverqueue/river) with its SQLite driver (riversqlite), running
// on the very same SQLite file as vpo's catalogue.
//
// # Why River on SQLite, and how it is tuned
//
// vpo is a single daemon process with a single SQLite database. River gives us
// durable jobs, per-job timeouts, cancellation, retries, finished-job cleanup
// and an attempt/error history without a second store. The catalogue opens the
// database as
//
//	file:PATH?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)
//	    &_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate
//
// with a handful of pooled connections (SetMaxOpenConns(4) or so), and this
// package uses that *sql.DB as is. Facts measured with River on SQLite, which
// drive the settings below:
//
//   - _txlock=immediate is required. With deferred transactions, concurrent
//     inserts upgrade read locks to write locks mid-transaction and fail with
//     SQLITE_BUSY regardless of busy_timeout; BEGIN IMMEDIATE takes the write
//     lock up front, where busy_timeout can wait for it.
//   - River's default FetchPollInterval (1 s) and FetchCooldown (100 ms) make
//     a freshly submitted job wait up to a second. SQLite has no LISTEN/NOTIFY;
//     riversqlite emulates it with an outbox table (river_notification) that
//     its listener polls every 50 ms, so an insert usually wakes the producer
//     within ~50 ms. But River sends at most one insert notification per
//     FetchCooldown, so some inserts wait for the next poll. We use
//     FetchCooldown = 20 ms and FetchPollInterval = 50 ms (see
//     [FetchCooldown], [FetchPollInterval]). Measured insert-to-start latency
//     (150 single inserts, no -race): median 15 ms, p99 34 ms, max 65 ms. The
//     price is ~3% of a core while idle (two 50 ms polls).
//   - River's completer writes job outcomes in batches, up to 250 ms after the
//     worker returns (not configurable). The worker slot is free at once, but
//     Get shows "running" for that long. A crash in that window leaves the job
//     `running`, so it runs again after RequeueInterrupted: workers must be
//     idempotent.
//   - River's default JobTimeout (1 min) would kill long probes and
//     transcodes. [Config.JobTimeout] defaults to 6 h and is always finite, and
//     RescueStuckJobsAfter is set to JobTimeout + 30 min (River requires it to
//     be larger than JobTimeout).
//   - After a crash, River's rescuer only picks up a job left `running` after
//     RescueStuckJobsAfter (+ up to 30 s), i.e. hours here. vpo is the only
//     process on its database, so at startup, before [Engine.Start], the daemon
//     calls [Engine.RequeueInterrupted], which puts every job left `running` by
//     a dead process back to `available` at once (and logs each one).
//
// # Shutdown
//
// [Engine.Stop] first stops fetching and lets running jobs finish for a soft
// period, then cancels their contexts and waits (bounded by
// [Config.HardStopTimeout]) for the workers to return. A worker whose context
// is cancelled must return an error wrapping ctx.Err(). River v0.51.2 then
// treats the job as interrupted by shutdown (verified by the tests): it is set
// back to `available` with scheduled_at = the stop time, its attempt counter
// is decremented (the interrupted attempt does not count, so even a job with
// MaxAttempts 1 runs again) and no error is recorded, so it runs again at
// once at the next start, with no retry backoff. An engine middleware enforces the contract: if a worker
// returns some other error (e.g. "signal: killed" from an exec'd tool) after
// shutdown cancelled its context, the error is wrapped with context.Canceled
// so River still sees an interruption rather than a failure. Should a job
// nevertheless end `retryable` with an "interrupted by shutdown" error (older
// or newer River behaviour), RequeueInterrupted makes it `available` now too.
//
// # Vocabulary
//
// vpo reports job states in its own words (see [Job]): River's available,
// scheduled, retryable and pending are "queued"; running is "running";
// completed is "completed"; discarded (errored on its last attempt) is
// "failed"; cancelled is "cancelled".
//
// Progress is kept by vpo in its own tables; River's metadata is exposed
// read-only in [Job.Metadata] (it holds, for instance, River's recorded output
// under "output" when a worker calls river.RecordOutput).
package jobs
