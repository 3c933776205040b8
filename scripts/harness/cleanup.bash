# Sourced by scripts/load.sh, scripts/soak.sh and scripts/bench-serve.sh: builds the
# harness (scripts/harness, a Go program) and runs it, with the EXIT trap that stops
# whatever it could not. Expects WORK (a temporary directory, deleted on exit) and
# PIDFILE (where the harness records "PID ARGV0" of every process it starts).
harness=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n "$harness" ]] && kill -0 "$harness" 2>/dev/null; then
		kill -TERM "$harness" 2>/dev/null || true # it stops its own children
		for _ in $(seq 100); do kill -0 "$harness" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$harness" 2>/dev/null || true
	fi
	# Anything the harness could not stop (e.g. it was killed): only the PIDs it
	# recorded, and only if they still run the program it started.
	local pid arg0 cur
	while read -r pid arg0; do
		[[ -r "/proc/$pid/cmdline" ]] || continue
		cur=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || continue
		[[ "$cur" == "$arg0" ]] || continue
		kill -TERM "$pid" 2>/dev/null || true
		sleep 0.5
		kill -KILL "$pid" 2>/dev/null || true
	done <"$PIDFILE"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_harness BIN SUBCOMMAND ARGS...: builds the harness into WORK and runs it on a
# private copy of BIN (so that a `make build` during the run cannot swap it), in the
# background so that a signal to the script is handled at once.
run_harness() {
	local bin=$1 sub=$2
	shift 2
	local repo
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	export PATH="$PATH:/usr/local/go/bin"
	command -v go >/dev/null || { echo "$sub: go is not installed (it builds scripts/harness)" >&2; exit 1; }
	(cd "$repo" && CGO_ENABLED=0 go build -o "$WORK/harness" ./scripts/harness) || { echo "$sub: could not build scripts/harness" >&2; exit 1; }
	cp "$bin" "$WORK/vpo"
	"$WORK/harness" "$sub" -bin "$WORK/vpo" -shown "$bin" -work "$WORK" -pidfile "$PIDFILE" "$@" &
	harness=$!
	local rc=0
	wait "$harness" || rc=$?
	harness=""
	return "$rc"
}
