#!/usr/bin/env bash
# Benchmarks `vpo serve` on loopback and prints a table against the targets and the
# original (Python) vpo. See docs/benchmarks.md.
#
#   scripts/bench-serve.sh [BIN]        (default BIN=bin/vpo; `make bench` builds first)
#
# It measures, on this machine:
#   1. exec -> first GET /health 200: 15 runs on a fresh data dir and 15 on an existing
#      database (interleaved), each timed by the harness's poller (Go's monotonic
#      clock, raw socket GET every ~0.5 ms);
#   2. SIGTERM -> process exit when idle: 15 runs (kill() to exit, seen by the
#      harness's wait4);
#   3. RSS (VmRSS, VmHWM from /proc/PID/status) after startup + 2 s idle, and after wrk;
#   4. /health under `wrk -t2 -c50 -d15s --latency` and `wrk -t2 -c10 -d15s --latency`
#      (wrk runs on the same cores as the daemon), then, for comparison, vpo pinned to
#      CPU 0 and `taskset -c 1 wrk -t1 -c50 -d10s --latency` on CPU 1.
#
# Other load on the machine skews every figure, so it also measures the CPU time the
# rest of the machine uses during each phase (/proc/stat minus vpo, wrk and itself)
# and marks the run NOISY above 15% of a core.
#
# The work is done by the Go harness (scripts/harness, `harness bench-serve`), which
# this script builds into its work dir. BENCH_SERVE_SHORT=1 runs 3 startups and 3 s
# of wrk instead, to check that the benchmark works (its figures are then not the
# documented ones). It listens on loopback only (random free ports), uses a temporary
# HOME, stops every process it starts, and finishes in well under 2 minutes. It
# reports rather than asserts: a missed target is marked MISSED and the exit status is
# still 0. It exits non-zero only if the daemon fails to start (1) or wrk reports
# socket errors or non-2xx responses (2).
set -euo pipefail

BIN=${1:-bin/vpo}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ! -x "$BIN" ]]; then
	echo "bench-serve: $BIN is not an executable file (run \`make build\` first)" >&2
	exit 1
fi
command -v wrk >/dev/null || { echo "bench-serve: wrk is not installed" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vpo-bench.XXXXXX")
PIDFILE="$WORK/pids" # "PID ARGV0" of every process the harness starts
: >"$PIDFILE"
source "$HERE/harness/cleanup.bash" # the EXIT trap, and run_harness

rc=0
run_harness "$BIN" bench-serve || rc=$?
exit "$rc"
