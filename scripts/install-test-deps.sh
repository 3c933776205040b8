#!/usr/bin/env bash
# Installs what vpo's tests need on Debian 12: ffmpeg (the real ffprobe, and ffmpeg
# to make test media), mkvtoolnix (mkvmerge and mkvpropedit for apply), chromium (the
# browser tests of the web UI), wrk and hyperfine (benchmarks), sqlite3 (fault tests), gcc
# (the race detector needs cgo), debootstrap, systemd-container and jq (the
# real-systemd tests), postgresql (initdb and pg_ctl: internal/pgtest starts a
# throwaway server for the PostgreSQL backend's tests). Quick when everything is already there. The Go tools
# (golangci-lint, at the version pinned in the Makefile) come from `make tools`,
# which `make test-deps` runs after this script.
set -euo pipefail
pkgs=(ffmpeg mkvtoolnix chromium wrk hyperfine sqlite3 gcc libc6-dev debootstrap systemd-container curl ca-certificates procps iproute2 jq postgresql)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing test dependencies: ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
for i in 1 2 3; do
	if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		exit 0
	fi
	echo "apt-get failed (attempt $i); retrying" >&2
	sleep 5
done
exit 1
