// Package jobs is vpo's job engine: a thin layer over River
// (github.com/riverqueue/river) with its SQLite driver (riversqlite), running
// on the very same SQLite file as vpo's catalogue.
//
// # Database
//
// The engine uses the catalogue's *sql.DB as it is. That pool must open
// write transactions with BEGIN IMMEDIATE (_txlock=immediate): with deferred
// transactions, concurrent inserts upgrade read locks to write locks
// mid-transaction and fail with SQLITE_BUSY whatever busy_timeout says.
//
// # Latency
//
// SQLite has no LISTEN/NOTIFY; riversqlite emulates it with an outbox table
// that every client polls every 50 ms, idle or not. The engine does without it:
// River runs in poll-only mode, where an insert made by this process wakes the
// producer in memory at once (at most one fetch per [FetchCooldown]), and the
// queue is polled every [FetchPollInterval] for what other processes inserted.
// The figures behind these settings are in docs/benchmarks.md, "Job engine"
// and "Idle CPU".
//
// River's completer records a job's outcome in batches, shortly after its
// worker returns: the worker slot is free at once, but [Engine.Get] may show
// "running" for a moment longer. A crash in that window leaves the job
// running, so it runs again after [Engine.RequeueInterrupted]: workers must
// be idempotent.
//
// # Timeouts and crash recovery
//
// [Config.JobTimeout] is always finite (River's own default would cut long
// probes and transcodes short), and River's stuck-job rescuer runs only well
// after it. vpo is the only process on its database, so at startup, before
// [Engine.Start], the daemon calls [Engine.RequeueInterrupted], which puts
// every job left running by a dead process back to available at once (and
// logs each one).
//
// # Shutdown
//
// [Engine.Stop] first stops fetching and lets running jobs finish for a soft
// period, then cancels their contexts and waits (bounded by
// [Config.HardStopTimeout]) for the workers to return. A worker whose context
// is cancelled must return an error wrapping ctx.Err(). Such a job is
// interrupted, not failed: it is available again, its interrupted attempt
// does not count against its maximum, no error is recorded, and it runs again
// at the next start with no retry backoff. An engine middleware enforces the
// contract: if a worker returns some other error (e.g. "signal: killed" from
// an exec'd tool) after shutdown cancelled its context, the error is wrapped
// with context.Canceled so that River still sees an interruption. Should a
// job nevertheless end retryable with an "interrupted by shutdown" error,
// [Engine.RequeueInterrupted] makes it available at once too. The tests
// (TestStopHardInterrupts, TestCrashRequeue) hold River to this.
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
