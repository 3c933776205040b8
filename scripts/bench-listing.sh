#!/usr/bin/env bash
# Benchmarks GET /api/files pages of 100 on catalogues of 10,000 and 100,000 files
# and prints, for each, the p50/p99 of the listing beside two floors measured in the
# same run: the in-process query time (catalog.Store.ListFileEntries, serially, no HTTP)
# and GET /health under the same wrk load (the HTTP stack, middleware and a database
# ping, no listing). See docs/benchmarks.md, "Catalogue listing".
#
#   scripts/bench-listing.sh [BIN]      (default BIN=bin/vpo; run `make build` first)
#   BENCH_LISTING_SIZES="10000" BENCH_LISTING_SECONDS=10 scripts/bench-listing.sh
#
# Each catalogue is written by `benchcatalog fill` (catalog.Store.RecordFile, as a
# scan records files: 2 to 4 tracks each) into a fresh HOME; `vpo serve` then runs on
# it (loopback, random port, clean environment) and wrk -c10 --latency measures
# the first page, a cursor in the middle, a language filter and /health. vpo and
# wrk run on separate CPUs (taskset: vpo on CPU 0, wrk -t1 on CPU 1), so that the
# figure is not the two fighting for a core; BENCH_LISTING_SHARED=1 lets them share
# every CPU instead (wrk -t2), as the earlier runs did. It reports
# rather than asserts; it exits 1 if a step fails and 2 if wrk saw socket errors or
# non-2xx answers. About 2 minutes per size on 2 cores (the 100,000-file fill ~1 min).
set -euo pipefail

BIN=${1:-bin/vpo}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZES=${BENCH_LISTING_SIZES:-10000 100000}
SECS=${BENCH_LISTING_SECONDS:-15}
SHARED=${BENCH_LISTING_SHARED:-0}

die() { echo "bench-listing: $*" >&2; exit 1; }
[[ -x "$BIN" ]] || die "$BIN is not an executable file (run \`make build\` first)"
export PATH="$PATH:/usr/local/go/bin"
tools="go wrk curl"
[[ "$SHARED" == 1 ]] || tools+=" taskset"
for tool in $tools; do command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-test-deps.sh)"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vpo-bench-listing.XXXXXX")
SERVE_PID=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n "$SERVE_PID" ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

go -C "$REPO" build -o "$WORK/benchcatalog" ./scripts/benchcatalog || die "cannot build scripts/benchcatalog"
BC="$WORK/benchcatalog"
VPO_ENV=(env -i "PATH=$PATH" LANG=C.UTF-8 TZ=UTC)
# Where vpo and wrk run: CPU 0 and CPU 1 (vpo then sees one CPU: GOMAXPROCS 1).
if [[ "$SHARED" == 1 ]]; then
	VPO_CPU=() WRK=(wrk -t2) PLACEMENT="vpo and wrk -t2 share every CPU"
else
	(($(nproc) >= 2)) || die "pinning vpo and wrk to separate CPUs needs 2 CPUs (BENCH_LISTING_SHARED=1 to share one)"
	VPO_CPU=(taskset -c 0) WRK=(taskset -c 1 wrk -t1) PLACEMENT="vpo on CPU 0, wrk -t1 on CPU 1 (taskset)"
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WRK_FAIL=0
declare -A R

TCK=$(getconf CLK_TCK)
# cpu_of PID: its user + system CPU time in seconds.
cpu_of() { awk -v t="$TCK" '{ sub(/^.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

# wrk_run KEY URL: p50, p99 (ms), req/s and the daemon's CPU per request (ms) in R[KEY.*].
wrk_run() {
	local key=$1 out="$WORK/wrk-$1.txt" c0 c1
	c0=$(cpu_of "$SERVE_PID")
	"${WRK[@]}" -c10 -d"${SECS}s" --latency "$2" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
	R["$key.load"]=$(cut -d' ' -f1 /proc/loadavg)
	c1=$(cpu_of "$SERVE_PID")
	R["$key.rps"]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	R["$key.cpu"]=$(awk -v a="$c0" -v b="$c1" '/requests in/ { printf "%.3f", (b - a) * 1000 / $1 }' "$out")
	local p
	for p in 50 99; do
		R["$key.p$p"]=$(awk -v p="$p%" '$1 == p && NF == 2 {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			m = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : 60000
			printf "%.2f", v * m; exit }' "$out")
	done
	if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$out"; then WRK_FAIL=1; grep -E 'Non-2xx|Socket errors' "$out" >&2; fi
}

for n in $SIZES; do
	home="$WORK/home-$n"
	mkdir -p "$home/.vpo"
	db="$home/.vpo/library.db"
	log "filling a catalogue of $n files"
	"$BC" fill -db "$db" -files "$n" >"$WORK/fill-$n.txt" || die "fill failed"
	R["$n.fill"]=$(sed -n 's/^fill_seconds=//p' "$WORK/fill-$n.txt")
	mid=$((n / 2))
	log "in-process ListFileEntries, 2,000 pages from the start and from cursor $mid"
	"$BC" query -db "$db" -n 2000 >"$WORK/q0-$n.txt" || die "query failed"
	"$BC" query -db "$db" -n 2000 -cursor "$mid" >"$WORK/qm-$n.txt" || die "query failed"
	R["$n.q0"]="$(sed -n 's/^query_p50_ms=//p' "$WORK/q0-$n.txt") / $(sed -n 's/^query_p99_ms=//p' "$WORK/q0-$n.txt")"
	R["$n.qm"]="$(sed -n 's/^query_p50_ms=//p' "$WORK/qm-$n.txt") / $(sed -n 's/^query_p99_ms=//p' "$WORK/qm-$n.txt")"

	port=$("$BC" port)
	url="http://127.0.0.1:$port"
	"${VPO_ENV[@]}" "HOME=$home" "${VPO_CPU[@]}" "$BIN" serve --bind 127.0.0.1 --port "$port" >"$WORK/serve-$n.log" 2>&1 &
	SERVE_PID=$!
	"$BC" wait -url "$url/health" -timeout 30s || { tail -n 20 "$WORK/serve-$n.log" >&2; die "vpo serve did not become ready"; }
	R["$n.bytes"]=$(curl -s -o /dev/null -w '%{size_download}' "$url/api/files?limit=100")
	"${WRK[@]}" -c10 -d2s "$url/api/files?limit=100" >/dev/null 2>&1 || die "wrk warm-up failed"
	for spec in "first:?limit=100" "mid:?limit=100&cursor=$mid" "lang:?limit=100&language=fra"; do
		log "wrk -c10 -d${SECS}s /api/files${spec#*:} ($n files)"
		wrk_run "$n.${spec%%:*}" "$url/api/files${spec#*:}"
	done
	log "wrk -c10 -d${SECS}s /health ($n files)"
	wrk_run "$n.health" "$url/health"
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || die "vpo serve exited with status $? after SIGTERM"
	SERVE_PID=""
done

echo "vpo catalogue listing benchmark"
echo "  machine: $(nproc) CPUs, $(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -n1), $(uname -sr)"
echo "  vpo: $("$BIN" --version)   load average at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  $PLACEMENT; wrk -c10 -d${SECS}s --latency"
echo "  p50 / p99 in ms (requests/s, vpo's CPU ms per request, 1-minute load average after the run)"
echo
printf '%-8s | %-46s | %-46s | %-46s | %-46s | %-16s | %-16s\n' files "page 1" "cursor middle" "language=fra" "/health (floor)" "query page 1" "query middle"
for n in $SIZES; do
	cell() { printf '%s / %s (%s/s, %s, load %s)' "${R[$1.p50]}" "${R[$1.p99]}" "${R[$1.rps]}" "${R[$1.cpu]}" "${R[$1.load]}"; }
	printf '%-8s | %-46s | %-46s | %-46s | %-46s | %-16s | %-16s\n' "$n" "$(cell "$n.first")" "$(cell "$n.mid")" \
		"$(cell "$n.lang")" "$(cell "$n.health")" "${R[$n.q0]}" "${R[$n.qm]}"
done
echo
for n in $SIZES; do echo "  $n files: fill ${R[$n.fill]} s, page of 100 = ${R[$n.bytes]} bytes"; done
exit $((WRK_FAIL * 2))
