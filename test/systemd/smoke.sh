#!/bin/bash
# test/systemd/smoke.sh -- prove the systemd-in-nspawn harness end to end.
#
#   sudo test/systemd/smoke.sh          (needs root; see lib.sh for tunables)
#
# Builds/reuses the cached Debian rootfs, boots a fresh copy under a real
# systemd, installs packaging/vpo.service + packaging/config.toml, checks the
# unit with systemd-analyze (verify + security exposure <= 2.0), then runs the
# STAND-IN daemon (test/systemd/standin/vpo, a bash script) through
# start / status / journal / stop, checks that a config error (exit 78) is not
# restarted, and powers off.
#
# The stand-in exists only because vpo's Go code is being written right now;
# the real systemd tests must install and exercise the real vpo binary.
#
# Exit status: 0 if every check passed, 1 otherwise. All waits are bounded.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# Hard upper bound for the whole script (the first debootstrap is ~75 s here).
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-900}
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
VPO_SD_EXEC_TIMEOUT=${VPO_SD_EXEC_TIMEOUT:-60}

[[ $EUID -eq 0 ]] || { echo "smoke.sh: must run as root" >&2; exit 2; }
for t in debootstrap systemd-nspawn nsenter setsid flock timeout; do
	command -v "$t" >/dev/null || { echo "smoke.sh: missing $t (apt-get install debootstrap systemd-container)" >&2; exit 2; }
done

# Watchdog for the whole script: kill ourselves (the EXIT trap still cleans
# up) if something hangs despite the per-step timeouts.
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$SMOKE_TIMEOUT" &
	s=$!
	wait "$s" && echo "smoke.sh: global timeout ${SMOKE_TIMEOUT}s" >&2 && kill -TERM $$
) 2>/dev/null &
watchdog=$!
trap 'kill $watchdog 2>/dev/null; vpo_sd_cleanup' EXIT
trap 'exit 130' INT TERM

fails=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }
check() { # check DESC CMD... : PASS if CMD succeeds
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}
show() { vpo_sd_exec systemctl show "$@" vpo.service; }
prop() { vpo_sd_exec systemctl show -p "$1" --value vpo.service; }
# Poll until a unit property has a value (bounded).
wait_prop() { # wait_prop PROP VALUE SECONDS
	local deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)); do
		[[ $(prop "$1") == "$2" ]] && return 0
		sleep 0.5
	done
	return 1
}

echo "== rootfs"
t0=$SECONDS
vpo_sd_root || exit 1
echo "rootfs copy ready in $((SECONDS - t0)) s: $VPO_SD_ROOT"

# Populate the copy before boot (it's a plain directory / overlay mount).
install -D -m 0644 "$repo/packaging/vpo.service" "$VPO_SD_ROOT/etc/systemd/system/vpo.service"
install -D -m 0644 "$repo/packaging/config.toml" "$VPO_SD_ROOT/etc/vpo/config.toml"
install -D -m 0755 "$here/standin/vpo" "$VPO_SD_ROOT/usr/local/bin/vpo"
install -d -m 0755 "$VPO_SD_ROOT/srv/media"

echo "== boot"
t0=$SECONDS
vpo_sd_boot "$VPO_SD_ROOT" || { fail "boot"; exit 1; }
pass "boot to $(vpo_sd_exec systemctl is-system-running) in $((SECONDS - t0)) s"

# Harness self-check: systemd inside must really enforce BPF-based settings
# (IPAddressDeny= in vpo.service). A denied connect() times out (curl exit
# 28); without bpf(2) in the container it would be refused at once (exit 7).
vpo_sd_exec systemd-run --wait --pipe -q -p IPAddressDeny=any \
	curl -sS -m 2 -o /dev/null http://127.0.0.1:1/ 2>/dev/null
rc=$?
check "BPF IP firewall enforced inside the container (curl rc=$rc, want 28)" test "$rc" = 28

echo "== unit analysis (packaged unit, no test drop-ins)"
out=$(vpo_sd_exec systemd-analyze verify vpo.service 2>&1)
printf '%s\n' "$out"
# Only complaints about the unit's own content count.
check "systemd-analyze verify vpo.service" \
	test -z "$(printf '%s\n' "$out" | grep -v -e '^$')"
vpo_sd_exec systemd-analyze security --no-pager vpo.service >"$VPO_SD_RUN/security.txt" 2>&1
grep -E '^✗|Overall exposure' "$VPO_SD_RUN/security.txt"
score=$(sed -n 's/.*Overall exposure level for vpo.service: \([0-9.]*\).*/\1/p' "$VPO_SD_RUN/security.txt")
check "exposure ${score:-?} <= $MAX_EXPOSURE" \
	awk -v s="${score:-99}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'

echo "== stand-in daemon"
# A tiny real video for the stand-in's ffprobe run (made outside the sandbox).
check "generate /srv/media/sample.mkv" vpo_sd_exec ffmpeg -nostdin -v error \
	-f lavfi -i testsrc=duration=1:size=64x48:rate=5 -c:v mpeg4 /srv/media/sample.mkv
install -D -m 0644 "$here/standin/vpo.service.d/standin.conf" \
	"$VPO_SD_ROOT/etc/systemd/system/vpo.service.d/standin.conf"
vpo_sd_exec systemctl daemon-reload
t0=$SECONDS
check "systemctl start vpo (Type=notify waits for READY=1)" vpo_sd_exec systemctl start vpo.service
echo "start took $((SECONDS - t0)) s"
show -p Type -p ActiveState -p SubState -p Result -p MainPID -p NRestarts \
	-p NotifyAccess -p WatchdogUSec -p StatusText -p User
check "ActiveState=active SubState=running" \
	test "$(prop ActiveState)/$(prop SubState)" = active/running
check "Type=notify" test "$(prop Type)" = notify
vpo_sd_exec journalctl -u vpo.service --no-pager -o short-monotonic
journal=$(vpo_sd_exec journalctl -u vpo.service --no-pager -o cat)
check "ffprobe ran inside the sandbox" \
	grep -q "ffprobe ok /srv/media/sample.mkv" <<<"$journal"
main_pid=$(prop MainPID)
# shellcheck disable=SC2016 # $2 is awk's
svc_uid=$(vpo_sd_exec awk '/^Uid:/ { print $2 }' "/proc/$main_pid/status")
db_uid=$(vpo_sd_exec stat -c %u /var/lib/private/vpo/library.db)
check "state dir file owned by the dynamic user (uid $svc_uid = $db_uid, name $(vpo_sd_exec stat -c %U /var/lib/private/vpo/library.db))" \
	test -n "$svc_uid" -a "$svc_uid" = "$db_uid" -a "$svc_uid" != 0

t0=$SECONDS
check "systemctl stop vpo" vpo_sd_exec systemctl stop vpo.service
echo "stop took $((SECONDS - t0)) s"
show -p ActiveState -p Result -p ExecMainStatus
vpo_sd_exec journalctl -u vpo.service --no-pager -o short-monotonic -n 4
check "stopped cleanly (inactive, Result=success)" \
	test "$(prop ActiveState)/$(prop Result)" = inactive/success

echo "== config error -> exit 78, no restart"
vpo_sd_exec mv /etc/vpo/config.toml /etc/vpo/config.toml.off
vpo_sd_exec systemctl reset-failed vpo.service 2>/dev/null
vpo_sd_exec systemctl start vpo.service 2>&1 | sed 's/^/  systemctl: /'
# RestartSec=2s: give a (wrong) restart the chance to happen before checking.
wait_prop ActiveState failed 10
sleep 3
show -p ActiveState -p Result -p ExecMainStatus -p NRestarts
check "failed with Result=exit-code, status 78, NRestarts=0" \
	test "$(prop ActiveState)/$(prop Result)/$(prop ExecMainStatus)/$(prop NRestarts)" = failed/exit-code/78/0
vpo_sd_exec mv /etc/vpo/config.toml.off /etc/vpo/config.toml

echo "== poweroff"
t0=$SECONDS
vpo_sd_poweroff
echo "poweroff took $((SECONDS - t0)) s"

if ((fails)); then
	echo "smoke.sh: $fails check(s) FAILED"
	exit 1
fi
echo "smoke.sh: all checks passed"
