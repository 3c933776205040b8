#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded budget, on top of the seed corpora that
# `go test` already runs.
#
# The budget is a count of inputs (-fuzztime Nx), not a duration: with a duration,
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" at the deadline, with no failing input (golang/go#75804, fixed in Go
# 1.27). Counts are sized to about 10 s each on a 2-core machine. FUZZTIME overrides
# every budget (e.g. FUZZTIME=200000x, or a duration such as 60s).
set -euo pipefail
cd "$(dirname "$0")/.."
budget() {
	if [[ -n ${FUZZTIME:-} ]]; then echo "$FUZZTIME"; return; fi
	case $1 in
	FuzzLoad) echo 30000x ;; # writes a file per input
	FuzzQueries) echo 150000x ;;
	FuzzSubmitJob) echo 150000x ;;
	*) echo 400000x ;;
	esac
}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		b=$(budget "$target")
		echo "fuzz $pkg $target for $b"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$b" "$pkg"
	done
done
