#!/usr/bin/env bash
# Soak test of `vpo serve`, on loopback only, bounded in time:
#
#   scripts/soak.sh [BIN] [SECONDS]      (defaults: bin/vpo, 600; `make build` first)
#
# For SECONDS, one daemon (VPO_JOBS_WORKERS=2, the real ffprobe) gets: a scan of a
# 1,000-file library of small real .mkv files every SECONDS/20 s (30 s for 600); a
# mutation of the library every SECONDS/10 s (touch, remove and add 10 files each, so
# that the scans probe and mark files); steady API traffic of about 20 requests/s
# (health, file pages through the whole catalogue, single files, jobs); and a short
# `wrk -t1 -c4` burst every scan period (after a `wrk -c16` burst at the start that
# fills the daemon's database connection pool). Every SECONDS/60 s (10 s for 600, at least
# 1 s) it samples the daemon's VmRSS and threads (/proc/PID/status), open file
# descriptors (/proc/PID/fd) and goroutines (the "goroutines" field of GET /health,
# when this vpo has it). After a warm-up of the first 20% it fits a least-squares
# slope per metric and projects it over the rest of the run; it fails when RSS grows
# by more than 10% or more than 5 MiB, goroutines by more than 3, threads by more
# than 5, or open fds other than the database's by more than 2 (the database's fds
# follow the SQLite connection pools, so they must only stay within the pools'
# bound). It prints every sample and writes them as
# CSV to $SOAK_CSV (default ${TMPDIR:-/tmp}/vpo-soak-YYYYmmdd-HHMMSS.csv).
# LOADSOAK_SELFTEST_LEAK=1 fakes a leak (the harness keeps one more idle keep-alive
# connection per sample) to show that the check catches one: the run must then fail.
#
# Exit status 1 (VERDICT: FAIL) on growth, any failed request (non-2xx or transport
# error, steady client or wrk), a scan that did not complete, the daemon dying, or a
# non-zero exit on SIGTERM. It builds only its Go harness (scripts/harness, into the
# work dir), uses a temporary HOME and work dir (deleted on exit), a random free
# port, and stops every process it starts. It takes SECONDS plus about 5-10 s. See
# docs/reliability.md, "Load and soak".
set -euo pipefail

BIN=${1:-bin/vpo}
SECONDS_ARG=${2:-600}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CSV=${SOAK_CSV:-${TMPDIR:-/tmp}/vpo-soak-$(date +%Y%m%d-%H%M%S).csv}
[[ -x "$BIN" ]] || { echo "soak: $BIN is not an executable file (run \`make build\` first)" >&2; exit 1; }
[[ "$SECONDS_ARG" =~ ^[0-9]+$ && "$SECONDS_ARG" -ge 20 ]] || { echo "soak: SECONDS must be an integer >= 20" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vpo-soak.XXXXXX")
PIDFILE="$WORK/pids" # "PID ARGV0" of every process the harness starts
: >"$PIDFILE"
source "$HERE/harness/cleanup.bash" # the EXIT trap, and run_harness

rc=0
run_harness "$BIN" soak -seconds "$SECONDS_ARG" -csv "$CSV" || rc=$?
exit "$rc"
