#!/usr/bin/env bash
# Benchmarks a policy dry run over a large catalogue and prints a table against the
# targets. See docs/benchmarks.md, "Policy dry run".
#
#   scripts/bench-policy.sh [N]        (default N=100000 catalogued files)
#
# It builds a catalogue of N files with varied tracks (1 video, 1-4 audio, 0-6
# subtitles, sometimes a font; about 6.8 tracks a file) through the store's own
# RecordFile, in a temporary directory, then streams it three times, each in a
# fresh process (scripts/benchpolicy run):
#   floor     only read the files and their tracks (catalog.Store.EachFile);
#   evaluate  read, and evaluate scripts/benchpolicy/policy.yaml (three phases:
#             filters, order and flags, a rule) and take each plan's outcome, as
#             `vpo policy run --dry-run` does per file;
#   json      the same, and encode every plan as JSON (`--json`).
# For each: files/s of wall time, files per CPU-second (the steadier figure on a
# shared machine) and the peak RSS (VmHWM). Targets: >= 50,000 files/s evaluated,
# peak RSS <= 100 MB. It reports rather than asserts; exit 1 only if a step fails.
set -euo pipefail

N=${1:-100000}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cd "$REPO"
go build -o "$TMP/benchpolicy" ./scripts/benchpolicy
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "building a catalogue of $N files..."
"$TMP/benchpolicy" build -db "$TMP/bench.db" -n "$N" | sed 's/^/  /'
echo "database: $(du -h "$TMP/bench.db" | cut -f1)"

printf '%-9s %8s %9s %12s %12s %10s\n' mode files seconds files/s files/cpu-s peak_rss
for mode in floor evaluate json; do
	out=$("$TMP/benchpolicy" run -db "$TMP/bench.db" -policy scripts/benchpolicy/policy.yaml -mode "$mode")
	get() { sed -n "s/^$1=//p" <<<"$out"; }
	printf '%-9s %8s %9s %12s %12s %7s MB\n' "$mode" "$(get files)" "$(get seconds)" "$(get files_per_s)" \
		"$(get files_per_cpu_s)" "$(( $(get peak_rss_kb) / 1024 ))"
	if [ "$mode" = evaluate ]; then
		outcomes="conformant=$(get conformant) would_change=$(get would_change) unsupported=$(get unsupported) error=$(get error)"
	fi
done
echo "outcomes: $outcomes"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
