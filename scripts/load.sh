#!/usr/bin/env bash
# Load test of `vpo serve`, on loopback only, bounded in time:
#
#   scripts/load.sh [BIN] [SECONDS]      (defaults: bin/vpo, 60; `make build` first)
#
# For SECONDS, `wrk -t1 -c20 --latency` runs against GET /health and, at the same
# time, against GET /api/files?limit=100 (a catalogue of 300+ files), while two scan
# jobs run (VPO_JOBS_WORKERS=2, the real ffprobe on two trees of small, distinct,
# real .mkv files, sized from a timing of ffprobe so that both scans outlast the
# window). It prints requests, req/s and p50/p90/p99 per endpoint, the job states
# and progress when wrk started and ended, and the daemon's RSS, threads, fds and
# CPU; then it cancels the scans and stops the daemon with SIGTERM.
#
# Exit status 1 (VERDICT: FAIL) on any socket error (including wrk's 2 s timeout),
# any non-2xx response, the daemon dying or not exiting 0 on SIGTERM, or a scan
# that was not running for the whole window. It builds only its Go harness
# (scripts/harness, into the work dir), uses a temporary HOME and work dir (deleted
# on exit), a random free port, and stops every process it starts. It takes SECONDS
# plus about 10-20 s. See docs/reliability.md, "Load and soak".
set -euo pipefail

BIN=${1:-bin/vpo}
SECONDS_ARG=${2:-60}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -x "$BIN" ]] || { echo "load: $BIN is not an executable file (run \`make build\` first)" >&2; exit 1; }
[[ "$SECONDS_ARG" =~ ^[0-9]+$ && "$SECONDS_ARG" -ge 1 ]] || { echo "load: SECONDS must be a positive integer" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vpo-load.XXXXXX")
PIDFILE="$WORK/pids" # "PID ARGV0" of every process the harness starts
: >"$PIDFILE"
source "$HERE/harness/cleanup.bash" # the EXIT trap, and run_harness

rc=0
run_harness "$BIN" load -seconds "$SECONDS_ARG" || rc=$?
exit "$rc"
