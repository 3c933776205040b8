#!/usr/bin/env bash
# Benchmarks applying plans, and prints each figure beside its physical floor
# measured in the same run. See docs/benchmarks.md, "Apply".
#
#   scripts/bench-apply.sh [BIN] [N] [GB]   (defaults: bin/vpo, 200 files, 1 GB; GB 0 skips the remux)
#
# 1. Metadata only: N small MKV files (made with ffmpeg, then copied) whose
#    default audio flag a policy moves. `vpo policy run --yes` over the
#    directory, after a `vpo scan` of it, with in_place = auto (mkvpropedit in
#    place under a journal) and in_place = never (a copy edited, verified,
#    renamed), with [apply] workers = $WORKERS (default 2). Floors: mkvpropedit alone
#    on each file, one after the other, and two at once (xargs -P 2).
#    Target: in place >= 50 files/s on 2 cores.
# 2. Remux: a GB-sized MKV (PCM audio, so generating it is fast), one audio
#    track dropped and the subtitle moved before the audio (mkvmerge into a
#    temp file, fsync, verify, rename). Timed by farm-bench, paired with `cp`
#    of the same file (the floor); also beside `mkvmerge` alone writing the
#    same output, and `cp` + fsync. vpo's own peak RSS (VmHWM of the vpo
#    process, sampled every 20 ms) and mkvmerge's, reported separately.
#    Targets: <= 1.5x cp; vpo's RSS <= 50 MB.
# It reports rather than asserts; exit 1 only if a step fails.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(realpath "${1:-$REPO/bin/vpo}")
N=${2:-200}
GB=${3:-1}
TMP=$(mktemp -d "${BENCH_TMP:-$REPO/build}/bench-apply.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export PATH

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "filesystem: $(df -T "$TMP" | awk 'NR==2 {print $2}') ($TMP)"
echo "tools: $(mkvmerge --version | head -1); $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"

ff() { ffmpeg -hide_banner -nostdin -loglevel error -y "$@"; }

# setup HOME MODE: a vpo home with the bench policies and in_place = MODE.
setup() {
	mkdir -p "$1/.vpo/policies"
	cat >"$1/.vpo/config.toml" <<EOF
[apply]
settle = 0
in_place = "$2"
workers = ${WORKERS:-2}
EOF
	cat >"$1/.vpo/policies/flags.yaml" <<'EOF'
schema_version: 13
config:
  audio_languages: [eng]
phases:
  - name: flags
    default_flags: {}
EOF
	cat >"$1/.vpo/policies/remux.yaml" <<'EOF'
schema_version: 13
phases:
  - name: remux
    keep_audio:
      languages: [eng]
    track_order: [video, subtitle_main, subtitle_forced, audio_main, audio_alternate]
EOF
}

# --- 1. metadata-only changes ---------------------------------------------------
printf '1\n00:00:00,000 --> 00:00:01,000\nhello\n' >"$TMP/sub.srt"
ff -f lavfi -i testsrc=size=160x120:rate=25:duration=2 -f lavfi -i sine=frequency=440:duration=2 \
	-f lavfi -i sine=frequency=660:duration=2 -i "$TMP/sub.srt" \
	-map 0:v -map 1:a -map 2:a -map 3:s -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -c:s srt \
	-metadata:s:a:0 language=fra -metadata:s:a:1 language=eng -metadata:s:s:0 language=eng \
	-disposition:a:0 default -disposition:a:1 0 "$TMP/small.mkv"
echo "metadata: $N files of $(stat -c %s "$TMP/small.mkv") bytes (video, French audio default, English audio, subtitle)"

printf '%-22s %6s %9s %9s\n' mode files seconds files/s
for mode in floor floor2 auto never; do
	lib="$TMP/meta-$mode"
	mkdir -p "$lib"
	for i in $(seq -w 1 "$N"); do cp "$TMP/small.mkv" "$lib/f$i.mkv"; done
	sync
	if [ "$mode" = floor ]; then
		t0=$(date +%s.%N)
		for f in "$lib"/*.mkv; do
			mkvpropedit -q "$f" --edit track:a1 --set flag-default=0 --edit track:a2 --set flag-default=1
		done
		t1=$(date +%s.%N)
		label="mkvpropedit alone"
	elif [ "$mode" = floor2 ]; then
		t0=$(date +%s.%N)
		printf '%s\0' "$lib"/*.mkv | xargs -0 -P 2 -I{} mkvpropedit -q {} --edit track:a1 --set flag-default=0 --edit track:a2 --set flag-default=1
		t1=$(date +%s.%N)
		label="mkvpropedit, 2 at once"
	else
		home="$TMP/home-$mode"
		setup "$home" "$mode"
		HOME=$home "$BIN" scan "$lib" >/dev/null 2>>"$TMP/vpo.log"
		t0=$(date +%s.%N)
		out=$(HOME=$home "$BIN" policy run --yes --policy flags "$lib" 2>>"$TMP/vpo.log" | tail -1)
		t1=$(date +%s.%N)
		label="vpo in_place=$mode"
		grep -q "^$N files: $N changed" <<<"$out" || { echo "unexpected: $out" >&2; exit 1; }
	fi
	awk -v l="$label" -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {printf "%-22s %6d %9.2f %9.1f\n", l, n, b-a, n/(b-a)}'
done

echo "load after the metadata runs: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$GB" -gt 0 ] || exit 0

# --- 2. remux of a large file ----------------------------------------------------
secs=$((GB * 1000 * 1000 * 1000 / (48000 * 6 * 4)))
ff -f lavfi -i "testsrc=size=320x240:rate=5:duration=$secs" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$secs" \
	-f lavfi -i "sine=frequency=660:sample_rate=8000:duration=$secs" -i "$TMP/sub.srt" \
	-map 0:v -map 1:a -map 2:a -map 3:s -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
	-c:a:0 pcm_s32le -ac:a:0 6 -c:a:1 pcm_s16le -c:s srt \
	-metadata:s:a:0 language=eng -metadata:s:a:1 language=fra -metadata:s:s:0 language=eng \
	-disposition:a:0 default "$TMP/big.mkv"
size=$(stat -c %s "$TMP/big.mkv")
echo "remux: $size bytes, $secs s (video, English PCM 6ch, French PCM, subtitle); drop the French track, subtitle before audio"
home="$TMP/home-remux"
setup "$home" never
mkdir -p "$TMP/remux"
ln -f "$TMP/big.mkv" "$TMP/remux/big.mkv"
HOME=$home "$BIN" scan "$TMP/remux" >/dev/null 2>>"$TMP/vpo.log"
sync

# One run with the RSS sampled: vpo's own VmHWM and its mkvmerge child's.
ln -f "$TMP/big.mkv" "$TMP/remux/big.mkv"
HOME=$home "$BIN" policy run --yes --policy remux "$TMP/remux/big.mkv" >"$TMP/run.out" 2>>"$TMP/vpo.log" &
pid=$!
vpo_hwm=0 tool_hwm=0
while kill -0 "$pid" 2>/dev/null; do
	h=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
	[ -n "$h" ] && [ "$h" -gt "$vpo_hwm" ] && vpo_hwm=$h
	for c in $(pgrep -P "$pid" 2>/dev/null || true); do
		h=$(awk '/^VmHWM/ {print $2}' "/proc/$c/status" 2>/dev/null || true)
		[ -n "$h" ] && [ "$h" -gt "$tool_hwm" ] && tool_hwm=$h
	done
	sleep 0.02
done
wait "$pid"
grep -q '1 changed' "$TMP/run.out" || { echo "unexpected: $(cat "$TMP/run.out")" >&2; exit 1; }
mkvmerge -J "$TMP/remux/big.mkv" | grep -c '"type": "audio"' | grep -qx 1 || { echo "remux result has the wrong tracks" >&2; exit 1; }
echo "peak RSS: vpo $((vpo_hwm / 1024)) MB (VmHWM of the vpo process), mkvmerge $((tool_hwm / 1024)) MB"

# Each timed run first relinks the original under the file's name (the rename
# of the last run left the new version there; the link costs nothing).
cat >"$TMP/vpo-remux.sh" <<EOF
#!/bin/sh
ln -f "$TMP/big.mkv" "$TMP/remux/big.mkv" && HOME=$home exec "$BIN" policy run --yes --policy remux "$TMP/remux/big.mkv"
EOF
cat >"$TMP/cp-sync.sh" <<EOF
#!/bin/sh
cp "$TMP/big.mkv" "$TMP/x.mkv" && exec sync -f "$TMP/x.mkv"
EOF
cat >"$TMP/mkvmerge-alone.sh" <<EOF
#!/bin/sh
exec mkvmerge -q -o "$TMP/y.mkv" --audio-tracks 1 --track-order 0:0,0:3,0:1 "$TMP/big.mkv"
EOF
chmod +x "$TMP"/*.sh
echo "vpo policy run (remux) vs cp:"
farm-bench -n "${RUNS:-5}" --timeout 900 --vs "cp $TMP/big.mkv $TMP/x.mkv" -- "$TMP/vpo-remux.sh" | sed 's/^/  /'
echo "mkvmerge alone vs cp + fsync:"
farm-bench -n "${RUNS:-5}" --timeout 900 --vs "$TMP/cp-sync.sh" -- "$TMP/mkvmerge-alone.sh" | sed 's/^/  /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
