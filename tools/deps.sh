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
# Test tools such as Dovecot and fail2ban are daemons too: installing
# them must not start them on this machine (a fail2ban with its sshd
# jail, a Dovecot on port 24). policy-rc.d says "no" to invoke-rc.d and
# deb-systemd-invoke while we install; one that was there is kept.
policy=/usr/sbin/policy-rc.d
ours=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	ours=1
fi
rc=0
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends $missing || rc=$?
[ -n "$ours" ] && rm -f "$policy"
exit $rc
