#!/bin/bash
# test/systemd/mirror.sh -- self-test of lib.sh's vpo_sd_mirror, which finds the
# Debian mirror for the test rootfs in the host's apt sources (the repository
# names no mirror of its own). Runs in a second, needs nothing but bash and awk;
# run.sh runs it first. Fixture hosts are under the reserved .example domain.
#
#   test/systemd/mirror.sh        exit 0 if every case passed, 1 otherwise
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
unset VPO_SD_MIRROR
VPO_SD_SUITE=bookworm

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 n=0

# case NAME WANT [FILE CONTENT]...: lay out sources.list / sources.list.d from
# the FILE CONTENT pairs ("list" is sources.list, other names go in the .d dir)
# and check what vpo_sd_mirror prints; WANT "" means it must fail and say why.
case_() {
	local name=$1 want=$2 got rc=0 err
	shift 2
	rm -rf "$tmp/c" && mkdir -p "$tmp/c/d"
	while (($#)); do
		if [[ $1 == list ]]; then printf '%s\n' "$2" >"$tmp/c/sources.list"; else printf '%s\n' "$2" >"$tmp/c/d/$1"; fi
		shift 2
	done
	got=$(VPO_SD_APT_SOURCES=$tmp/c/sources.list VPO_SD_APT_SOURCES_D=$tmp/c/d vpo_sd_mirror 2>"$tmp/err") || rc=$?
	err=$(cat "$tmp/err")
	n=$((n + 1))
	if [[ -n $want && $rc == 0 && $got == "$want" ]] ||
		[[ -z $want && $rc != 0 && -z $got && $err == *"no Debian mirror for suite 'bookworm'"*"VPO_SD_MIRROR"* ]]; then
		printf 'PASS  mirror: %s\n' "$name"
	else
		printf 'FAIL  mirror: %s: got %q (rc=%s, stderr %q), want %q\n' "$name" "$got" "$rc" "$err" "${want:-an error}"
		fails=$((fails + 1))
	fi
}

case_ "one-line sources.list" http://a.example/debian \
	list 'deb http://a.example/debian bookworm main contrib'
case_ "one-line with [options], security and updates lines around it" http://b.example/debian/ \
	list '# comment
deb http://b.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://b.example/debian/ bookworm main
deb http://b.example/debian bookworm-updates main'
case_ "deb822 stanza with a comment line, after a security stanza" http://c.example/debian \
	debian.sources 'Types: deb
URIs: http://c.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a snapshot URI in a comment is not a URI
URIs: http://c.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
case_ "deb822 with several URIs takes the first Debian one" http://d2.example/debian \
	debian.sources 'Types: deb deb-src
URIs: http://d1.example/other http://d2.example/debian http://d3.example/debian
Suites: bookworm
Components: main'
case_ "sources.list wins over sources.list.d" http://e1.example/debian \
	list 'deb http://e1.example/debian bookworm main' \
	x.sources 'Types: deb
URIs: http://e2.example/debian
Suites: bookworm
Components: main'
case_ "a third-party repository of the same suite (no main) is not a mirror" http://f2.example/debian \
	docker.list 'deb [arch=amd64] https://f1.example/linux/debian bookworm stable' \
	z.list 'deb http://f2.example/debian bookworm main'
case_ "no sources at all: a clear error" ""
case_ "only other suites, deb-src, a disabled stanza and a third-party repo: a clear error" "" \
	list 'deb http://g.example/debian bullseye main
deb-src http://g.example/debian bookworm main' \
	off.sources 'Types: deb
URIs: http://g.example/debian
Suites: bookworm
Components: main
Enabled: no' \
	src.sources 'Types: deb-src
URIs: http://g.example/debian
Suites: bookworm
Components: main' \
	docker.list 'deb https://g.example/linux/debian bookworm stable'
printf 'mirror.sh: %d passed, %d failed\n' "$((n - fails))" "$fails"
((fails == 0))
