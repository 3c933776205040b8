# Sourced by scripts/load.sh, scripts/soak.sh and scripts/bench-serve.sh: the EXIT trap. Expects WORK, PIDFILE
# and harness (the PID of the Python harness, or empty).
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
