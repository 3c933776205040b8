#!/bin/bash
# test/systemd/deb.sh -- install the Debian package on a clean Debian 12 with a
# REAL systemd (PID 1 in systemd-nspawn, test/systemd/lib.sh) and check what
# docs/systemd.md promises about it:
#
#   sudo test/systemd/deb.sh build/vpo_VERSION_amd64.deb     (`make deb`)
#
#   D1 dpkg -i on the clean cached root: installed, files where the package
#      says (/usr/bin/vpo, units in /lib/systemd/system, /etc/vpo/config.toml
#      a conffile), `systemd-analyze verify` finds ExecStart=/usr/bin/vpo;
#      nothing enabled or started by the install
#   D2 systemctl enable --now vpo -> /health 200 at once, `vpo health` 0, as a
#      dynamic user owning /var/lib/private/vpo (0700) with the database
#   D3 man pages (gzipped troff, one per command) and completions in the
#      bash/zsh/fish vendor paths; bash-completion loads the bash one on demand
#      and it completes subcommands
#   D4 reinstall over itself (the upgrade path): the operator's edit of the
#      conffile is kept, a running vpo is restarted, healthy
#   D5 dpkg -r: vpo stopped, binary and units gone, config and catalogue kept;
#      installing again finds the catalogue and the enablement
#   D6 dpkg --purge: config, catalogue and enable links gone, package unknown
#
# Called by test/systemd/run.sh (check D) after its own container is off;
# prints PASS/FAIL lines like it. Exit status: 0 if every check passed, 1 if
# any failed, 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VPO_SD_EXEC_TIMEOUT=${VPO_SD_EXEC_TIMEOUT:-60}
# shellcheck source=lib.sh
. "$here/lib.sh"

usage_die() { echo "deb.sh: $*" >&2; exit 2; }
DEB=${1:-}
[[ -n $DEB && $# -eq 1 ]] || usage_die "usage: deb.sh PACKAGE.deb"
[[ -r $DEB ]] || usage_die "cannot read $DEB (run \`make deb\` first)"
[[ $EUID -eq 0 ]] || usage_die "must run as root"

fails=0
npass=0
pass() { printf 'PASS  %s\n' "$*"; npass=$((npass + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}
info() { printf '      %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
cleanup() {
	local rc=$?
	set +e
	vpo_sd_cleanup
	return "$rc"
}
trap cleanup EXIT
trap 'echo "deb.sh: interrupted" >&2; exit 130' INT TERM

cx() { vpo_sd_exec "$@"; }
prop() { cx systemctl show -p "$1" --value "${2:-vpo.service}" 2>/dev/null || true; }
health_code() {
	cx curl -sS -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:8321/health 2>/dev/null || true
}
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}
# out CMD...: CMD's stdout+stderr inside the container, never failing.
out() { cx "$@" 2>&1 || true; }
exists() { cx test -e "$1"; }
gone() { ! cx test -e "$1" && ! cx test -L "$1"; }

# What the package should hold, besides the man pages.
FILES=(/usr/bin/vpo /lib/systemd/system/vpo.service /lib/systemd/system/vpo.socket
	/etc/vpo/config.toml /usr/share/bash-completion/completions/vpo
	/usr/share/zsh/vendor-completions/_vpo /usr/share/fish/vendor_completions.d/vpo.fish)
PKG=/var/tmp/vpo.deb

section "rootfs and boot (clean cached root)"
vpo_sd_root || { fail "D  prepare the rootfs"; exit 1; }
R=$VPO_SD_ROOT
install -D -m 0644 "$DEB" "$R$PKG"
vpo_sd_boot "$R" || { fail "D  boot the container"; exit 1; }
VERSION=$(out dpkg-deb -f "$PKG" Version)
info "package $(basename "$DEB"): version $VERSION"
check "D1 the root is clean: no vpo package, binary or unit before the install" \
	test "$(out dpkg-query -W -f='${Status}' vpo | grep -c 'install ok')/$(out sh -c 'ls /usr/bin/vpo /usr/local/bin/vpo /lib/systemd/system/vpo.service /etc/systemd/system/vpo.service 2>/dev/null' | wc -l)" = 0/0

# ---- D1 install ---------------------------------------------------------------------
section "D1 dpkg -i"
rc=0
cx dpkg -i "$PKG" >"$VPO_SD_RUN/install.log" 2>&1 || rc=$?
sed 's/^/      | /' "$VPO_SD_RUN/install.log"
check "D1 dpkg -i exits 0 (rc=$rc)" test "$rc" = 0
check "D1 dpkg: vpo $VERSION 'install ok installed'" \
	test "$(out dpkg-query -W -f='${Status} ${Version}' vpo)" = "install ok installed $VERSION"
listed=$(out dpkg-query -L vpo)
missing=()
for f in "${FILES[@]}"; do
	grep -qx "$f" <<<"$listed" && exists "$f" || missing+=("$f")
done
check "D1 installed and listed by dpkg: ${FILES[*]}${missing:+ (missing: ${missing[*]})}" test "${#missing[@]}" = 0
modes=$(out stat -c '%a %U:%G %n' "${FILES[@]}")
info "$(tr '\n' ';' <<<"$modes")"
check "D1 modes: /usr/bin/vpo 0755, the rest 0644, all root:root" \
	test "$(awk '$3 == "/usr/bin/vpo" { print ($1 == "755" && $2 == "root:root") } $3 != "/usr/bin/vpo" { print ($1 == "644" && $2 == "root:root") }' <<<"$modes" | sort -u)" = 1
conff=$(out dpkg-query -W -f='${Conffiles}' vpo)
check "D1 /etc/vpo/config.toml is a conffile, and the only one ($(xargs <<<"$conff"))" \
	test "$(awk 'NF { print $1 }' <<<"$conff")" = /etc/vpo/config.toml
check "D1 the installed binary runs: $(out vpo --version)" grep -q '^vpo ' <<<"$(out /usr/bin/vpo --version)"
execstart=$(prop ExecStart)
check "D1 the unit's ExecStart is the package's binary (${execstart%% ;*})" grep -q 'path=/usr/bin/vpo ;' <<<"$execstart"
# verify also fails when ExecStart= names a binary that does not exist.
v=$(out systemd-analyze verify vpo.service vpo.socket)
[[ -z $v ]] || sed 's/^/      | /' <<<"$v"
check "D1 systemd-analyze verify vpo.service vpo.socket: no complaints" test -z "$v"
check "D1 the install enables and starts nothing (vpo.service $(prop UnitFileState)/$(prop ActiveState), vpo.socket $(prop UnitFileState vpo.socket)/$(prop ActiveState vpo.socket))" \
	test "$(prop UnitFileState)/$(prop ActiveState)/$(prop UnitFileState vpo.socket)/$(prop ActiveState vpo.socket)" = disabled/inactive/disabled/inactive
check "D1 no vpo system account created (the unit runs as a DynamicUser=)" \
	test -z "$(out getent -s files passwd vpo)"

# ---- D2 enable --now ---------------------------------------------------------------------
section "D2 systemctl enable --now vpo"
read -r rc code < <(cx sh -c 'systemctl enable --now vpo.service >/dev/null 2>&1; rc=$?
	code=$(curl -sS -m 3 -o /dev/null -w "%{http_code}" http://127.0.0.1:8321/health 2>/dev/null)
	echo "$rc ${code:-000}"' || echo "x 000") || true
check "D2 systemctl enable --now vpo: rc=$rc, first /health $code, enabled and active" \
	test "$rc/$code/$(prop UnitFileState)/$(prop ActiveState)" = 0/200/enabled/active
rc=0
h=$(cx vpo health --config /etc/vpo/config.toml 2>&1) || rc=$?
check "D2 \`vpo health --config /etc/vpo/config.toml\` exits 0 ($(head -c 100 <<<"$h"))" test "$rc" = 0
st=$(out stat -c '%a %U %n' /var/lib/private/vpo /var/lib/private/vpo/library.db)
info "$(tr '\n' ';' <<<"$st")"
check "D2 state dir /var/lib/private/vpo 0700 and the database owned by the service's dynamic user 'vpo'" \
	grep -qx '700 vpo /var/lib/private/vpo' <<<"$st"
check "D2 ... the database /var/lib/private/vpo/library.db is there, owned by it too" \
	grep -q '^[0-7]* vpo /var/lib/private/vpo/library.db$' <<<"$st"
uid=$(out stat -c %u "/proc/$(prop MainPID)")
check "D2 vpo runs unprivileged (uid ${uid:-?})" test -n "$uid" -a "${uid:-0}" != 0

# ---- D3 man pages and completions -------------------------------------------------------
section "D3 man pages and shell completions"
pages=$(grep -E '^/usr/share/man/man1/vpo(-[a-z-]+)?\.1\.gz$' <<<"$listed" || true)
npages=$(grep -c . <<<"$pages" || true)
bad=()
for p in $pages; do
	name=$(basename "$p" .1.gz)
	head=$(cx sh -c "gzip -dc $p | grep -m1 '^\.TH '" 2>/dev/null || true)
	[[ $head == ".TH \"${name^^}\" \"1\" "* ]] || bad+=("$name: ${head:-no .TH}")
done
check "D3 $npages man pages in /usr/share/man/man1, each gzipped troff titled after its command${bad:+ (bad: ${bad[*]})}" \
	test "$npages" -ge 10 -a "${#bad[@]}" = 0
for p in vpo vpo-serve vpo-completion vpo-jobs-list; do
	grep -qx "/usr/share/man/man1/$p.1.gz" <<<"$pages" || bad+=("$p missing")
done
check "D3 pages for vpo, vpo-serve, vpo-completion, vpo-jobs-list${bad:+ (${bad[*]})}" test "${#bad[@]}" = 0
# bash-completion loads /usr/share/bash-completion/completions/vpo on demand
# (__load_completion), then the completion asks vpo itself.
comp() { # comp WORD... (last may be ""): what TAB offers after "vpo WORD..."
	local words="vpo" w
	for w in "$@"; do words+=" '$w'"; done
	cx bash -c '. /usr/share/bash-completion/bash_completion
		__load_completion vpo || { echo "no completion loaded for vpo" >&2; exit 1; }
		COMP_WORDS=('"$words"'); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		complete -p vpo >&2
		__start_vpo vpo "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' 2>"$VPO_SD_RUN/comp.err" || true
}
# offers "WANT..." LIST: every word of WANT is in the space-separated LIST.
offers() {
	local w
	for w in $1; do [[ " $2 " == *" $w "* ]] || return 1; done
}
top=$(comp "" | awk '{ print $1 }' | sort | xargs)
info "vpo <TAB>: $top ($(tr '\n' ' ' <"$VPO_SD_RUN/comp.err"))"
check "D3 bash: \`vpo <TAB>\` offers the commands (the packaged file, found by bash-completion): $top" \
	offers "completion files health help inspect jobs scan serve" "$top"
jobs=$(comp jobs "" | awk '{ print $1 }' | sort | xargs)
check "D3 bash: \`vpo jobs <TAB>\` offers cancel list show ($jobs)" offers "cancel list show" "$jobs"
one=$(comp serv | xargs)
check "D3 bash: \`vpo serv<TAB>\` completes to serve ($one)" test "$one" = serve
zsh1=$(out head -n1 /usr/share/zsh/vendor-completions/_vpo)
nfish=$(out grep -c '^complete -c vpo ' /usr/share/fish/vendor_completions.d/vpo.fish)
check "D3 zsh: _vpo starts with '#compdef vpo' ($zsh1); fish: vpo.fish has $nfish 'complete -c vpo' lines" \
	test "$zsh1" = "#compdef vpo" -a "${nfish:-0}" -gt 0

# ---- D4 reinstall (upgrade path) ----------------------------------------------------------
section "D4 dpkg -i again over the installed package (the upgrade path)"
# The operator's edit: one more worker (a valid config, so vpo starts with it).
cx sed -i 's/^workers = 2$/workers = 3  # edited by deb.sh/' /etc/vpo/config.toml || true
check "D4 operator edits /etc/vpo/config.toml (workers = 3)" \
	grep -q '^workers = 3  # edited by deb.sh$' <<<"$(out cat /etc/vpo/config.toml)"
# Something in the catalogue, to find again after remove + install (D5).
cx mkdir -p /srv/media
cx sh -c 'ffmpeg -nostdin -v error -f lavfi -i testsrc=duration=1:size=64x48:rate=5 -c:v mpeg4 /srv/media/a.mkv && chmod -R a+rX /srv/media' || true
job=$(cx curl -sS -m 5 -X POST -H 'Content-Type: application/json' -d '{"type":"scan","path":"/srv/media"}' \
	http://127.0.0.1:8321/api/jobs 2>/dev/null | jq -r '.id // empty' 2>/dev/null || true)
scanned() { [[ $(cx curl -sS -m 3 "http://127.0.0.1:8321/api/jobs/$job" 2>/dev/null | jq -r '.state // empty' 2>/dev/null) == completed ]]; }
ok=0
[[ -n $job ]] && wait_for 30 scanned && ok=1
check "D4 a scan (job ${job:-?}) catalogues /srv/media/a.mkv" test "$ok" = 1
pid0=$(prop MainPID)
rc=0
cx dpkg -i "$PKG" >"$VPO_SD_RUN/reinstall.log" 2>&1 || rc=$?
sed 's/^/      | /' "$VPO_SD_RUN/reinstall.log"
check "D4 dpkg -i again exits 0 without a conffile prompt (rc=$rc)" test "$rc" = 0
check "D4 the edited conffile is kept" grep -q '^workers = 3  # edited by deb.sh$' <<<"$(out cat /etc/vpo/config.toml)"
healthy_new() { [[ $(prop MainPID) != "$pid0" && $(prop ActiveState) == active && $(health_code) == 200 ]]; }
ok=0
wait_for 15 healthy_new && ok=1
check "D4 the running vpo was restarted on the new package (MainPID $pid0 -> $(prop MainPID)), /health 200" test "$ok" = 1

# ---- D5 remove --------------------------------------------------------------------------
section "D5 dpkg -r vpo"
rc=0
cx dpkg -r vpo >"$VPO_SD_RUN/remove.log" 2>&1 || rc=$?
sed 's/^/      | /' "$VPO_SD_RUN/remove.log"
check "D5 dpkg -r exits 0 (rc=$rc), status 'deinstall ok config-files'" \
	test "$rc/$(out dpkg-query -W -f='${Status}' vpo)" = "0/deinstall ok config-files"
check "D5 vpo stopped: nothing answers on 127.0.0.1:8321, unit $(prop LoadState)/$(prop ActiveState)" \
	test "$(health_code)/$(prop LoadState)/$(prop ActiveState)" = "000/not-found/inactive"
left=()
for f in /usr/bin/vpo /lib/systemd/system/vpo.service /lib/systemd/system/vpo.socket /usr/share/man/man1/vpo.1.gz /usr/share/bash-completion/completions/vpo; do
	gone "$f" || left+=("$f")
done
check "D5 binary, units, man pages and completions removed${left:+ (left: ${left[*]})}" test "${#left[@]}" = 0
check "D5 the edited config and the catalogue database are kept" \
	test "$(out grep -c '^workers = 3  # edited by deb.sh$' /etc/vpo/config.toml)/$(out test -s /var/lib/private/vpo/library.db && echo db)" = "1/db"
rc=0
cx dpkg -i "$PKG" >/dev/null 2>&1 || rc=$?
cx systemctl start vpo.service || true
files=$(cx curl -sS -m 3 'http://127.0.0.1:8321/api/files?limit=10' 2>/dev/null || true)
check "D5 installed again (rc=$rc): still enabled ($(prop UnitFileState)), healthy ($(health_code)), the catalogue still has /srv/media/a.mkv" \
	test "$rc/$(prop UnitFileState)/$(health_code)" = 0/enabled/200 -a -n "$(grep -o '/srv/media/a.mkv' <<<"$files")"

# ---- D6 purge ---------------------------------------------------------------------------
section "D6 dpkg --purge vpo"
rc=0
cx dpkg --purge vpo >"$VPO_SD_RUN/purge.log" 2>&1 || rc=$?
sed 's/^/      | /' "$VPO_SD_RUN/purge.log"
check "D6 dpkg --purge exits 0 (rc=$rc); dpkg no longer knows vpo" \
	test "$rc/$(out dpkg-query -W -f='${Status}' vpo | grep -c installed)" = 0/0
check "D6 vpo stopped ($(health_code)), unit $(prop LoadState)" test "$(health_code)/$(prop LoadState)" = 000/not-found
left=()
for f in /etc/vpo /var/lib/private/vpo /var/lib/vpo /etc/systemd/system/multi-user.target.wants/vpo.service /usr/bin/vpo; do
	gone "$f" || left+=("$f")
done
check "D6 config, catalogue (/var/lib/private/vpo, /var/lib/vpo) and the enable link removed${left:+ (left: ${left[*]})}" test "${#left[@]}" = 0
check "D6 systemd has no trace: no vpo unit listed, loaded or failed" \
	test -z "$(out systemctl list-units --all --no-legend 'vpo*')"

section "poweroff"
vpo_sd_poweroff || true
printf 'deb.sh: %d passed, %d failed\n' "$npass" "$fails"
((fails == 0))
