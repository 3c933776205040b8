#!/usr/bin/env bash
# Benchmarks vpo's catalogue and scanner on this machine and prints a table against
# the targets. See docs/benchmarks.md, "Catalogue and scanning".
#
#   scripts/bench-catalog.sh [BIN]      (default BIN=bin/vpo; run `make build` first)
#
# It measures:
#   1. discovery: a generated tree of 100,000 small files (10,000 with a video
#      extension, scripts/gentree); `find DIR -type f | wc -l` (twice, the warm run is
#      the reference); the first scan and a no-change rescan by `vpo serve` scan jobs
#      (3 rescans), and the same with `vpo scan DIR` in the foreground. Discovery runs
#      use a FAKE ffprobe (a /bin/sh script that prints the real ffprobe's JSON for a
#      small mkv, so every file is recorded as probed with real tracks): the first
#      scan then measures walking + fingerprinting + catalogue writes + one cheap
#      exec per video, not ffprobe. The first scan with the REAL ffprobe (which
#      fails on the tree's junk "videos", each costing a full ffprobe start) is
#      measured on a 10,000-file tree (1,000 junk videos) and extrapolated to the
#      10,000 videos; BENCH_CATALOG_FULL_FFPROBE=1 measures the whole 100,000-file
#      tree instead (adds 5 to 10 minutes on 2 cores);
#   2. peak RSS of the daemon during the 100,000-file scans: VmHWM from
#      /proc/PID/status after each scan (reset with clear_refs before the rescan), and
#      VmRSS sampled every 100 ms;
#   3. probing with the real ffprobe: 200 small valid, distinct .mkv files
#      (internal/testmedia.WriteMany), one scan job each with [jobs] workers 1 and 2,
#      a fresh database each;
#   4. GET /api/files with the 10,000 catalogued videos of step 1, pages of 100, under
#      `wrk -t2 -c10 -d15s --latency`: first page, a cursor in the middle, a filter.
#
# It listens on loopback only (random free ports), uses temporary HOMEs (deleted on
# exit), passes vpo a clean environment, stops every process it starts, and takes
# about 3 to 4 minutes on 2 cores. It measures the CPU time the rest of the machine
# uses during each phase and flags the run NOISY when that exceeds 15% of a core. It
# reports rather than asserts: a missed target is marked MISSED and the exit status
# is still 0. It exits 1 if a step fails to run and 2 if wrk reports socket errors or
# non-2xx responses.
set -euo pipefail

BIN=${1:-bin/vpo}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FULL=${BENCH_CATALOG_FULL_FFPROBE:-0}
SCAN_TIMEOUT=400s
if [[ "$FULL" == 1 ]]; then SCAN_TIMEOUT=1800s; fi

die() { echo "bench-catalog: $*" >&2; exit 1; }
[[ -x "$BIN" ]] || die "$BIN is not an executable file (run \`make build\` first)"
export PATH="$PATH:/usr/local/go/bin"
for tool in go wrk ffmpeg ffprobe find curl; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-test-deps.sh)"
done
FFPROBE=$(command -v ffprobe)

T_BEGIN=$(date +%s.%N)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vpo-bench-catalog.XXXXXX")
SERVE_PID=""
CHILD=""

# child CMD...: runs CMD in the background and waits for it, so that a signal to this
# script is handled at once (bash defers traps until a foreground child exits) and
# cleanup can stop CMD.
child() {
	local rc=0
	"$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n "$CHILD" ]] && kill -0 "$CHILD" 2>/dev/null; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	if [[ -n "$SERVE_PID" ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[%5.1fs] %s\n' "$(calc "$(date +%s.%N) - $T_BEGIN")" "$*" >&2; }

# Results, as R[name.key]=value.
declare -A R
# load PREFIX FILE: reads key=value lines into R[PREFIX.key].
load() {
	local k v
	while IFS='=' read -r k v; do
		[[ -n "$k" ]] && R["$1.$k"]=$v
	done <"$2"
}
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }

# Other load on the machine: CPU time used by everything except the processes this
# script measures, in % of one core, per phase. cpu_snap [PID] prints "wall busy pid"
# (seconds): the machine's busy CPU time (user nice system irq softirq steal) and
# PID's CPU time including its reaped children (the ffprobe runs).
TCK=$(getconf CLK_TCK)
cpu_snap() {
	local pidt=0
	if [[ -n "${1:-}" && -r "/proc/$1/stat" ]]; then
		pidt=$(awk -v t="$TCK" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / t }' "/proc/$1/stat")
	fi
	awk -v now="$EPOCHREALTIME" -v t="$TCK" -v p="$pidt" \
		'NR == 1 { print now, ($2 + $3 + $4 + $7 + $8 + $9) / t, p; exit }' /proc/stat
}
# phase_begin NAME [PID]; ... ; phase_end NAME [PID] [OTHER_MEASURED_CPU_SECONDS]
phase_begin() { R["$1.cpu0"]=$(cpu_snap "${2:-}"); }
phase_end() {
	local a b
	read -r -a a <<<"${R[$1.cpu0]}"
	read -r -a b <<<"$(cpu_snap "${2:-}")"
	R["$1.other_pct"]=$(calc "((${b[1]} - ${a[1]}) - (${b[2]} - ${a[2]}) - ${3:-0}) / (${b[0]} - ${a[0]}) * 100" |
		awk '{ printf "%.0f", ($1 < 0 ? 0 : $1) }')
	R["$1.pid_cpu"]=$(calc "${b[2]} - ${a[2]}")
	R["$1.own_pct"]=$(calc "((${b[2]} - ${a[2]}) + ${3:-0}) / (${b[0]} - ${a[0]}) * 100" | xargs printf '%.0f')
	local other=${R[$1.other_pct]}
	((other <= OTHER_MAX)) || OTHER_MAX=$other
	PHASES+=("$1")
}
OTHER_MAX=0
PHASES=()

# --- helpers ------------------------------------------------------------------------
log "building helpers (go build ./scripts/benchcatalog ./scripts/gentree)"
{ child go -C "$REPO" build -o "$WORK/benchcatalog" ./scripts/benchcatalog && child go -C "$REPO" build -o "$WORK/gentree" ./scripts/gentree; } ||
	die "cannot build the helper programs"
BC="$WORK/benchcatalog"

# The clean environment vpo runs in; HOME, VPO_FFPROBE_PATH and VPO_JOBS_WORKERS are
# added per run.
VPO_ENV=(env -i "PATH=$PATH" LANG=C.UTF-8 TZ=UTC)

# start_serve NAME FFPROBE WORKERS: a daemon on a fresh HOME.
start_serve() {
	local name=$1 home="$WORK/home-$1"
	mkdir -p "$home"
	SERVE_PORT=$("$BC" port)
	SERVE_URL="http://127.0.0.1:$SERVE_PORT"
	SERVE_LOG="$WORK/serve-$name.log"
	"${VPO_ENV[@]}" "HOME=$home" "VPO_FFPROBE_PATH=$2" "VPO_JOBS_WORKERS=$3" "$BIN" serve --bind 127.0.0.1 --port "$SERVE_PORT" >"$SERVE_LOG" 2>&1 &
	SERVE_PID=$!
	if ! "$BC" wait -url "$SERVE_URL/health" -timeout 15s; then
		tail -n 20 "$SERVE_LOG" >&2
		die "vpo serve ($name) did not become ready"
	fi
}

stop_serve() {
	local rc=0
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	SERVE_PID=""
	[[ $rc -eq 0 ]] || { tail -n 20 "$SERVE_LOG" >&2; die "vpo serve exited with status $rc after SIGTERM"; }
}

# scan_job PREFIX DIR [-reset-hwm]: one scan job on the running daemon, results in R[PREFIX.*].
scan_job() {
	local prefix=$1 dir=$2
	shift 2
	phase_begin "$prefix" "$SERVE_PID"
	if ! child "$BC" scan -url "$SERVE_URL" -path "$dir" -pid "$SERVE_PID" -timeout "$SCAN_TIMEOUT" "$@" >"$WORK/$prefix.txt"; then
		cat "$WORK/$prefix.txt" >&2
		tail -n 20 "$SERVE_LOG" >&2
		die "scan job $prefix failed"
	fi
	phase_end "$prefix" "$SERVE_PID"
	load "$prefix" "$WORK/$prefix.txt"
	R["$prefix.rate"]=$(calc "${R[$prefix.found]} / ${R[$prefix.job_seconds]}")
	# The scanner's own time (Scanner.Scan, logged as duration_ms), without the job
	# engine's fetch and completion around it.
	local own
	own=$(grep 'message="scan finished"' "$SERVE_LOG" | grep -E "job_id=${R[$prefix.job_id]}( |\$)" |
		sed -nE 's/.* duration_ms=([0-9]+).*/\1/p' | tail -n1)
	R["$prefix.scan_seconds"]=$(calc "${own:-0} / 1000")
}

# fg_scan PREFIX HOME DIR: `vpo scan DIR` in the foreground, results in R[PREFIX.*].
fg_scan() {
	local prefix=$1 home=$2 dir=$3
	phase_begin "$prefix"
	if ! child "${VPO_ENV[@]}" "HOME=$home" "VPO_FFPROBE_PATH=$FAKE" "VPO_JOBS_WORKERS=$NPROC" "$BC" run -- "$BIN" scan "$dir" \
		>"$WORK/$prefix.out" 2>"$WORK/$prefix.err" 3>"$WORK/$prefix.txt"; then
		tail -n 20 "$WORK/$prefix.err" >&2
		die "vpo scan ($prefix) failed"
	fi
	load "$prefix" "$WORK/$prefix.txt"
	phase_end "$prefix" "" "$(calc "${R[$prefix.user_seconds]} + ${R[$prefix.sys_seconds]}")"
	R["$prefix.line"]=$(tail -n1 "$WORK/$prefix.out")
	local found
	found=$(sed -nE 's/.*: ([0-9]+) found.*/\1/p' "$WORK/$prefix.out" | tail -n1)
	R["$prefix.found"]=${found:-0}
	R["$prefix.rate"]=$(calc "${R[$prefix.found]} / ${R[$prefix.wall_seconds]}")
}

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

# --- machine ------------------------------------------------------------------------
NPROC=$(nproc)
CPU=$(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -n1)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
FS=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " (" $1 ")" }')
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. trees and find --------------------------------------------------------------
TREE="$WORK/tree"
SLICE="$WORK/slice"
MEDIA="$WORK/media"
log "generating 100,000 files (gentree)"
child "$WORK/gentree" -dir "$TREE" -files 100000 -video-ratio 10 >"$WORK/gentree.txt"
if [[ "$FULL" == 1 ]]; then SLICE=$TREE; else
	child "$WORK/gentree" -dir "$SLICE" -files 10000 -video-ratio 10 >"$WORK/gentree-slice.txt"
fi

TIMEFORMAT=%3R
find_time() { { time find "$TREE" -type f | wc -l >"$WORK/find.count"; } 2>&1; }
FIND_COLD=$(find_time)
FIND_WARM=$(find_time)
FIND_COUNT=$(tr -d ' ' <"$WORK/find.count")
log "find: $FIND_COLD s, then $FIND_WARM s ($FIND_COUNT files)"

# --- media and the fake ffprobe -----------------------------------------------------
log "writing 200 test .mkv files (testmedia.WriteMany)"
child "$BC" media -dir "$MEDIA" -n 200 >"$WORK/media.txt"
load media "$WORK/media.txt"
FAKE="$WORK/fake-ffprobe"
"$BC" fakeprobe -from "${R[media.first]}" -out "$FAKE" -ffprobe "$FFPROBE" >"$WORK/fake.txt"
load fake "$WORK/fake.txt"
FAKE_MS=$( { time (for _ in $(seq 100); do "$FAKE" -v error file:x >/dev/null; done); } 2>&1)
FAKE_MS=$(calc "$FAKE_MS * 10" | xargs printf '%.1f') # per fork+exec from bash, in ms (100 runs)

# --- 2. discovery by the daemon, fake ffprobe ---------------------------------------
log "vpo serve (fake ffprobe, workers $NPROC): first scan of the 100,000-file tree"
start_serve discovery "$FAKE" "$NPROC"
scan_job first "$TREE"
for i in 1 2 3; do
	log "no-change rescan $i"
	scan_job "rescan$i" "$TREE" -reset-hwm
done
for k in job_seconds scan_seconds client_seconds hwm_kb rss_max_sampled_kb; do
	R["rescan.$k"]=$(median3 "${R[rescan1.$k]}" "${R[rescan2.$k]}" "${R[rescan3.$k]}")
done
R[rescan.hwm_max_kb]=$(printf '%s\n' "${R[rescan1.hwm_kb]}" "${R[rescan2.hwm_kb]}" "${R[rescan3.hwm_kb]}" | sort -g | tail -n1)
R[rescan.found]=${R[rescan1.found]}
R[rescan.rate]=$(calc "${R[rescan.found]} / ${R[rescan.job_seconds]}")
RATIO=$(calc "${R[rescan.job_seconds]} / $FIND_WARM")
RATIO_SCAN=$(calc "${R[rescan.scan_seconds]} / $FIND_WARM")

# --- 4. GET /api/files on the same daemon -------------------------------------------
PAGE_BYTES=$(curl -s -o /dev/null -w '%{size_download}' "$SERVE_URL/api/files?limit=100")
WRK_FAIL=0
# wrk_run NAME QUERY: results in R[NAME.*].
wrk_run() {
	local name=$1 url="$SERVE_URL/api/files$2" out="$WORK/wrk-$1.txt"
	log "wrk -t2 -c10 -d15s --latency /api/files$2"
	R["$name.cmd"]="wrk -t2 -c10 -d15s --latency 'http://127.0.0.1:PORT/api/files$2'"
	phase_begin "$name" "$SERVE_PID"
	child "$BC" run -- wrk -t2 -c10 -d15s --latency "$url" >"$out" 2>&1 3>"$WORK/$name.rusage" || die "wrk failed: $(cat "$out")"
	load "$name" "$WORK/$name.rusage"
	phase_end "$name" "$SERVE_PID" "$(calc "${R[$name.user_seconds]} + ${R[$name.sys_seconds]}")"
	R["$name.rps"]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	local p
	for p in 50 90 99; do
		R["$name.p$p"]=$(awk -v p="$p%" '$1 == p && NF == 2 {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			m = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : 60000
			printf "%.2f", v * m; exit }' "$out")
	done
	R["$name.non2xx"]=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	R["$name.non2xx"]=${R[$name.non2xx]:-0}
	R["$name.sockerr"]=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
	R["$name.sockerr"]=${R[$name.sockerr]:-0}
	R["$name.requests"]=$(awk '/requests in/ { print $1 }' "$out")
	if [[ "${R[$name.non2xx]}" != 0 || "${R[$name.sockerr]}" != 0 ]]; then WRK_FAIL=1; fi
}
child wrk -t2 -c10 -d2s "$SERVE_URL/api/files?limit=100" >/dev/null 2>&1 || die "wrk warm-up failed"
wrk_run first_page "?limit=100"
wrk_run mid_cursor "?limit=100&cursor=5000"
wrk_run filtered "?limit=100&missing=false"
AFTER_WRK=$(awk '/^(VmRSS|VmHWM)/ { printf "%s %.1f MiB  ", $1, $2 / 1024 }' "/proc/$SERVE_PID/status")
CATALOGUED=${R[first.found]} # a fresh database: what the first scan recorded
stop_serve

# --- discovery in the foreground ----------------------------------------------------
log "vpo scan (foreground, fake ffprobe): first scan and 3 no-change rescans"
mkdir -p "$WORK/home-fg"
fg_scan fgfirst "$WORK/home-fg" "$TREE"
for i in 1 2 3; do fg_scan "fgrescan$i" "$WORK/home-fg" "$TREE"; done
for k in wall_seconds maxrss_kb; do
	R["fgrescan.$k"]=$(median3 "${R[fgrescan1.$k]}" "${R[fgrescan2.$k]}" "${R[fgrescan3.$k]}")
done
R[fgrescan.found]=${R[fgrescan1.found]}
R[fgrescan.line]=${R[fgrescan1.line]}
R[fgrescan.rate]=$(calc "${R[fgrescan.found]} / ${R[fgrescan.wall_seconds]}")
RATIO_FG=$(calc "${R[fgrescan.wall_seconds]} / $FIND_WARM")

# --- first scan with the real ffprobe (junk videos) ---------------------------------
if [[ "$FULL" == 1 ]]; then SLICE_DESC="the 100,000-file tree (10,000 junk videos)"; else
	SLICE_DESC="a 10,000-file gentree tree (1,000 junk videos)"; fi
log "vpo serve (real ffprobe, workers $NPROC): first scan of $SLICE_DESC"
start_serve realprobe "$FFPROBE" "$NPROC"
scan_job real "$SLICE"
R[real.extrapolated]=$(calc "10000 / ${R[real.rate]}")
stop_serve

# --- 3. probing 200 valid files with the real ffprobe --------------------------------
for w in 1 2; do
	log "vpo serve (real ffprobe, workers $w): scan of 200 small .mkv files"
	start_serve "probe$w" "$FFPROBE" "$w"
	scan_job "probe$w" "$MEDIA"
	stop_serve
done

# --- report -------------------------------------------------------------------------
mib() { calc "$1 / 1024" | xargs printf '%.1f'; }
ms() { calc "$1 * 1000" | xargs printf '%.0f'; }
f0() { printf '%.0f' "$1"; }
mark() { if awk "BEGIN { exit !($1) }"; then echo ok; else echo MISSED; fi; }
ELAPSED=$(calc "$(date +%s.%N) - $T_BEGIN" | xargs printf '%.0f')
if [[ "$FULL" == 1 ]]; then NJUNK="10,000"; EXTRA=""; else NJUNK="1,000"; EXTRA=" (extrapolated)"; fi

echo "vpo catalogue and scanning benchmark"
echo "===================================="
echo
echo "Machine"
printf '  %-9s %s\n' nproc "$NPROC" cpu "$CPU" memory "$MEM" kernel "$(uname -sr)" \
	fs "$FS (temp dirs under ${TMPDIR:-/tmp})" go "$(go version)" vpo "$("$BIN" --version)" \
	ffprobe "$("$FFPROBE" -version | head -n1 | cut -d' ' -f1-3)" wrk "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)" \
	loadavg "$LOADAVG (1, 5, 15 min, at start)"
echo
echo "Commands (PORT: a random free loopback port; every daemon and foreground scan gets a fresh temporary HOME)"
echo "  daemon     env -i PATH=\$PATH HOME=<tmp> LANG=C.UTF-8 TZ=UTC VPO_FFPROBE_PATH=<ffprobe> VPO_JOBS_WORKERS=<n> \\"
echo "               $BIN serve --bind 127.0.0.1 --port PORT"
echo "  tree       gentree -dir TREE -files 100000 -video-ratio 10   (built from ./scripts/gentree)"
echo "  find       time (find TREE -type f | wc -l), twice; the second (warm) run is the reference"
echo "  fake       VPO_FFPROBE_PATH=fake-ffprobe, a #!/bin/sh script whose builtin printf prints the real ffprobe's JSON"
echo "             for a testmedia .mkv (${R[fake.tracks]} tracks, ${R[fake.json_bytes]} bytes): every file is recorded as probed,"
echo "             with tracks, for the cost of one fork+exec of /bin/sh (${FAKE_MS} ms from bash, measured here)"
echo "  scan job   POST /api/jobs {\"type\":\"scan\",\"path\":DIR}, then GET /api/jobs/ID every 100 ms until it ends;"
echo "             job time = finished_at - started_at; scanner time = the daemon's \"scan finished\" duration_ms;"
echo "             VmRSS of the daemon sampled at each poll, VmHWM read after the job (reset via clear_refs before rescans)"
echo "  rescan     the same scan job 3 more times, nothing changed on disk (median reported)"
echo "  fg scan    env -i ... VPO_FFPROBE_PATH=fake-ffprobe VPO_JOBS_WORKERS=$NPROC $BIN scan TREE: first, then 3 rescans;"
echo "             wall time includes process start and opening the database"
echo "  real scan  the scan job with the real ffprobe (workers $NPROC) on $SLICE_DESC, fresh database"
echo "  probe      testmedia.WriteMany(DIR, 200) (${R[media.bytes_each]}-byte .mkv files), scan job with the real ffprobe,"
echo "             VPO_JOBS_WORKERS=1 then 2, fresh database each"
echo "  api        on the discovery daemon ($CATALOGUED catalogued files; a page of 100 is ${PAGE_BYTES} bytes):"
echo "             wrk -t2 -c10 -d2s (warm-up), then wrk -t2 -c10 -d15s --latency 'http://127.0.0.1:PORT/api/files?QUERY'"
echo

SEP=$'\x1f'
rows=()
row() { rows+=("$1$SEP$2$SEP$3$SEP$4"); }
row "find TREE -type f | wc -l, 100,000 files: cold / warm" "$(ms "$FIND_COLD") / $(ms "$FIND_WARM") ms" "" ""
row "first scan, daemon job, fake ffprobe (${R[first.found]} videos)" \
	"$(ms "${R[first.job_seconds]}") ms = $(f0 "${R[first.rate]}") videos/s, $(f0 "$(calc "100000 / ${R[first.job_seconds]}")") entries/s" "" ""
row "no-change rescan, daemon job (median of 3)" \
	"$(ms "${R[rescan.job_seconds]}") ms = $(f0 "${R[rescan.rate]}") videos/s, $(f0 "$(calc "100000 / ${R[rescan.job_seconds]}")") entries/s" "" ""
row "  rescan / warm find, daemon job time" "$(printf '%.2f' "$RATIO") x" "<= 2 x" "$(mark "$RATIO <= 2")"
row "  rescan / warm find, daemon scanner time (duration_ms)" "$(printf '%.2f' "$RATIO_SCAN") x ($(ms "${R[rescan.scan_seconds]}") ms)" "<= 2 x" "$(mark "$RATIO_SCAN <= 2")"
row "first scan, vpo scan in the foreground, fake ffprobe" \
	"$(ms "${R[fgfirst.wall_seconds]}") ms = $(f0 "${R[fgfirst.rate]}") videos/s" "" ""
row "no-change rescan, vpo scan in the foreground (median of 3)" \
	"$(ms "${R[fgrescan.wall_seconds]}") ms = $(f0 "${R[fgrescan.rate]}") videos/s" "" ""
row "  rescan / warm find, foreground wall time" "$(printf '%.2f' "$RATIO_FG") x" "<= 2 x" "$(mark "$RATIO_FG <= 2")"
row "first scan, daemon job, REAL ffprobe ($NJUNK junk videos)" \
	"$(ms "${R[real.job_seconds]}") ms = $(printf '%.1f' "${R[real.rate]}") videos/s" "" ""
row "  the same for the 10,000 videos of the 100,000-file tree" "$(f0 "${R[real.extrapolated]}") s$EXTRA" "" ""
row "peak RSS, first 100,000-file scan (VmHWM / max sampled VmRSS)" \
	"$(mib "${R[first.hwm_kb]}") / $(mib "${R[first.rss_max_sampled_kb]}") MiB" "<= 100 MB" "$(mark "${R[first.hwm_kb]} * 1024 <= 100000000")"
row "peak RSS, no-change rescans (max VmHWM / median max VmRSS)" \
	"$(mib "${R[rescan.hwm_max_kb]}") / $(mib "${R[rescan.rss_max_sampled_kb]}") MiB" "<= 100 MB" "$(mark "${R[rescan.hwm_max_kb]} * 1024 <= 100000000")"
row "peak RSS, vpo scan in the foreground (first / rescan, maxrss)" \
	"$(mib "${R[fgfirst.maxrss_kb]}") / $(mib "${R[fgrescan.maxrss_kb]}") MiB" "" ""
row "peak RSS, real-ffprobe scan (VmHWM)" "$(mib "${R[real.hwm_kb]}") MiB" "" ""
for w in 1 2; do
	row "probe 200 valid .mkv, real ffprobe, workers $w" \
		"$(printf '%.1f' "${R[probe$w.rate]}") files/s ($(ms "${R[probe$w.job_seconds]}") ms; ${R[probe$w.probed]} probed, ${R[probe$w.failed]} failed)" "" ""
done
for n in first_page mid_cursor filtered; do
	case $n in first_page) q="?limit=100" ;; mid_cursor) q="?limit=100&cursor=5000" ;; filtered) q="?limit=100&missing=false" ;; esac
	row "GET /api/files$q: p50 / p99" "${R[$n.p50]} / ${R[$n.p99]} ms ($(f0 "${R[$n.rps]}") req/s, daemon $(printf '%.2f' "$(calc "${R[$n.pid_cpu]} * 1000 / ${R[$n.requests]}")") ms CPU/req)" "p99 <= 20 ms" "$(mark "${R[$n.p99]} <= 20")"
	row "  non-2xx / socket errors" "${R[$n.non2xx]} / ${R[$n.sockerr]}" "0 / 0" \
		"$(mark "${R[$n.non2xx]} == 0 && ${R[$n.sockerr]} == 0")"
done
row "other CPU load on the machine (max over the phases)" "$OTHER_MAX% of one core" "~0%" \
	"$(if ((OTHER_MAX < 15)); then echo quiet; else echo NOISY; fi)"

echo "Results"
printf '%s\n' "metric${SEP}measured${SEP}target${SEP}status" "${rows[@]}" | awk -F"$SEP" '
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
	END {
		for (r = 1; r <= NR; r++) {
			line = "  "
			for (i = 1; i <= 4; i++) line = line sprintf("%-" w[i] "s", c[r, i]) (i < 4 ? " | " : "")
			sub(/ +$/, "", line); print line
			if (r == 1) { s = "  "; for (i = 1; i <= 4; i++) { d = sprintf("%" w[i] "s", ""); gsub(/ /, "-", d); s = s d (i < 4 ? "-+-" : "") } print s }
		}
	}'
echo
echo "Details"
echo "  find counted $FIND_COUNT files; gentree: $(cat "$WORK/gentree.txt")"
for p in first rescan1 rescan2 rescan3 real probe1 probe2; do
	printf '  %-8s job %-3s %-9s found %-6s probed %-6s unchanged %-6s failed %-5s missing %-2s job %7.3f s, scanner %7.3f s, client %7.3f s, VmHWM %5.1f MiB, max VmRSS %5.1f MiB (%s samples)\n' \
		"$p" "${R[$p.job_id]}" "${R[$p.state]}" "${R[$p.found]}" "${R[$p.probed]}" "${R[$p.unchanged]}" "${R[$p.failed]}" \
		"${R[$p.missing]}" "${R[$p.job_seconds]}" "${R[$p.scan_seconds]}" "${R[$p.client_seconds]}" "$(mib "${R[$p.hwm_kb]}")" \
		"$(mib "${R[$p.rss_max_sampled_kb]}")" "${R[$p.samples]}"
done
for p in fgfirst fgrescan1 fgrescan2 fgrescan3; do
	printf '  %-9s %7.3f s wall, user %.2f s, sys %.2f s (with children), maxrss %.1f MiB: %s\n' "$p" "${R[$p.wall_seconds]}" \
		"${R[$p.user_seconds]}" "${R[$p.sys_seconds]}" "$(mib "${R[$p.maxrss_kb]}")" "${R[$p.line]}"
done
echo "  discovery daemon after the wrk runs: $AFTER_WRK"
echo "  CPU per phase, % of one core (measured = daemon incl. its ffprobe children, or vpo scan, or wrk; other = the rest of the machine):"
for p in "${PHASES[@]}"; do
	printf '    %-11s measured %4s%%  other %4s%%\n' "$p" "${R[$p.own_pct]}" "${R[$p.other_pct]}"
done
for n in first_page mid_cursor filtered; do
	echo
	echo "  \$ ${R[$n.cmd]}"
	sed -e 's/^/    /' -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:PORT/' "$WORK/wrk-$n.txt"
done
echo
if ((OTHER_MAX >= 15)); then
	echo "WARNING: other processes used up to $OTHER_MAX% of a core during the measurements; the figures"
	echo "         are not representative of an idle machine. Re-run when it is quiet."
fi
echo "(benchmark took $ELAPSED s)"
if [[ $WRK_FAIL != 0 ]]; then
	echo "bench-catalog: wrk reported non-2xx responses or socket errors" >&2
	exit 2
fi
