#!/bin/sh
# SPDX-License-Identifier: ISC
# tools/deps.sh PKG... - apt-get install the Debian packages of the list
# that are not installed yet (make deps-run, make deps-test). Needs root
# only when something is missing.
set -eu
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends $missing
