#!/bin/sh
# packaging/deb-version.sh VERSION EPOCH -- the Debian package version for a
# `git describe --tags --always --dirty` VERSION and the commit time EPOCH
# (seconds). Debian versions must start with a digit and sort in release order:
#
#   v1.2.3              -> 1.2.3
#   v1.2.3-4-gabc1234   -> 1.2.3+4+gabc1234     (after 1.2.3, before 1.2.4)
#   abc1234[-dirty]     -> 0.0~git20261202013000.abc1234[+dirty]  (untagged:
#                          before any release, ordered by commit time)
set -eu
v=${1:?usage: deb-version.sh VERSION EPOCH}
epoch=${2:?usage: deb-version.sh VERSION EPOCH}
# A release tag is vN.N[.N...] (or N.N...); anything else, such as a bare
# commit hash (which may well start with a digit), is an untagged build.
if printf '%s\n' "$v" | grep -Eq '^v?[0-9]+(\.[0-9]+)+([-+~].*)?$'; then
	v=${v#v}
else
	v="0.0~git$(date -u -d "@$epoch" +%Y%m%d%H%M%S).$v"
fi
printf '%s\n' "$v" | tr -- '-' '+'
