#!/usr/bin/env bash
# Measures the watcher of `vpo serve` on this machine. See docs/benchmarks.md,
# "Watched roots".
#
#   scripts/bench-watch.sh [BIN]      (default BIN=bin/vpo; run `make build` first)
#
# It makes a watched root of 10,000 directories (100 x 100, no files) in mode
# apply (policy: keep English audio), starts `vpo serve` on it (temporary HOME,
# loopback, a random free port, a clean environment, library.settle = 1,
# apply.settle = 1), and prints:
#   1. the time to set up the 10,000 watches (the "watching library root" log line's
#      duration_ms) beside `find` listing the same directories, and the time from
#      exec to the first GET /health 200;
#   2. idle CPU (utime + stime from /proc/PID/stat over 60 s, as % of one core) and
#      RSS (VmRSS) with the 10,000 watches, after the startup reconciliation;
#   3. for a small .mkv (video, English and French audio) copied in at once, 5
#      runs: the time from settled (1 s after the write) to catalogued (GET
#      /api/files) and to applied (its history has the apply: French audio
#      removed by mkvmerge), beside the floor: one ffprobe, and one ffprobe plus
#      one mkvmerge of the same edit, run by hand.
# BENCH_WATCH_OFF=1 runs the same daemon with watch = false, for the idle CPU and
# RSS of vpo without the watcher (steps 1 and 3 are then skipped).
# It stops the daemon and deletes its files on exit. It needs curl and
# fs.inotify.max_user_watches of at least 10,001 free watches.
set -euo pipefail

BIN=${1:-bin/vpo}
WATCH=true
[ -n "${BENCH_WATCH_OFF:-}" ] && WATCH=false
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -x "$BIN" ] || { echo "bench-watch: $BIN is not an executable (run make build)" >&2; exit 1; }

WORK=$(mktemp -d)
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/home/.vpo"
for i in $(seq -w 0 99); do
	mkdir -p $(printf "$ROOT/d$i/e%s " $(seq -w 0 98))
done
DIRS=$(find "$ROOT" -type d | wc -l)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/home/.vpo/config.toml" <<TOML
[server]
port = $PORT
[logging]
format = "json"
[jobs]
workers = 2
[library]
settle = 1
[apply]
settle = 1
[[library.roots]]
path = "$ROOT"
watch = $WATCH
mode = "apply"
policy = "english"
TOML
mkdir -p "$WORK/home/.vpo/policies"
cat > "$WORK/home/.vpo/policies/english.yaml" <<YAML
schema_version: 13
phases:
  - name: only
    keep_audio:
      languages: [eng]
YAML

# A small valid mkv for step 3: video, English and French audio.
MKV=$WORK/sample.mkv
ffmpeg -v error -f lavfi -i testsrc=size=160x120:rate=10 -f lavfi -i sine=frequency=440 -f lavfi -i sine=frequency=660 \
	-map 0 -map 1 -map 2 -t 1 -c:v mpeg4 -c:a ac3 -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra "$MKV"
msnow() { echo $(( $(date +%s%N) / 1000000 )); }
t=$(msnow); find "$ROOT" -type d >/dev/null; find_ms=$(( $(msnow) - t ))
t=$(msnow); ffprobe -v error -show_format -show_streams -of json "$MKV" >/dev/null; probe_ms=$(( $(msnow) - t ))
t=$(msnow); ffprobe -v error -show_format -show_streams -of json "$MKV" >/dev/null
mkvmerge -q -o "$WORK/floor.mkv" --audio-tracks 1 "$MKV" >/dev/null; mkvmerge_ms=$(( $(msnow) - t ))

start=$(date +%s%N)
env -i PATH="$PATH" HOME="$WORK/home" LANG=C.UTF-8 TZ=UTC "$BIN" serve 2>"$WORK/log" &
PID=$!
until curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do
	kill -0 "$PID" 2>/dev/null || { cat "$WORK/log" >&2; echo "bench-watch: vpo serve exited" >&2; exit 1; }
	sleep 0.005
done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
setup_ms=- state=off
if [ "$WATCH" = true ]; then
	until grep -q '"library root reconciled"' "$WORK/log"; do sleep 0.1; done
	setup_ms=$(grep '"watching library root"' "$WORK/log" | sed 's/.*"duration_ms":\([0-9]*\).*/\1/')
	state=$(grep '"watching library root"' "$WORK/log" | sed 's/.*"watch":"\([a-z]*\)".*/\1/')
fi

sleep 2
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
c0=$(cpu); t0=$(date +%s%N)
sleep 60
c1=$(cpu); t1=$(date +%s%N)
idle_cpu=$(awk -v c=$((c1 - c0)) -v hz="$ticks" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * (c / hz) / (ns / 1e9) }')
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")

lat=() app=()
[ "$WATCH" = true ] && for n in 1 2 3 4 5; do
	f=$(printf "%s/d%02d/e%02d/film-%d.mkv" "$ROOT" $((n * 7)) "$n" "$n")
	cp "$MKV" "$f"
	w=$(date +%s%N)
	q="http://127.0.0.1:$PORT/api/files?path_prefix=$(dirname "$f")"
	until curl -fs "$q" | grep -q '"probed_at":"'; do sleep 0.01; done
	lat+=($(( ($(date +%s%N) - w) / 1000000 - 1000 )))
	id=$(curl -fs "$q" | sed 's/^{"files":\[{"id":\([0-9]*\).*/\1/')
	until curl -fs "http://127.0.0.1:$PORT/api/files/$id/history" | grep -q '"result":"applied"'; do sleep 0.01; done
	app+=($(( ($(date +%s%N) - w) / 1000000 - 1000 )))
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "command: scripts/bench-watch.sh ${1:-}"
echo "directories under the root:      $DIRS (watch: $state)"
echo "watch setup, $DIRS directories:  ${setup_ms} ms (floor: find lists them in ${find_ms} ms)"
echo "exec to /health 200:             ${ready_ms} ms"
echo "idle CPU over 60 s:              ${idle_cpu} % of one core (target <= 1 %)"
echo "idle RSS:                        $((rss_kb / 1024)) MB (target <= 60 MB)"
echo "settled to catalogued, 5 runs:   ${lat[*]} ms (floor: one ffprobe, ${probe_ms} ms)"
echo "settled to applied, 5 runs:      ${app[*]} ms (floor: ffprobe + mkvmerge, ${mkvmerge_ms} ms)"
