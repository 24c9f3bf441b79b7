#!/bin/sh
# SPDX-License-Identifier: ISC
# tools/beside.sh LOG BACKGROUND FOREGROUND
#
# Run the shell command BACKGROUND at the lowest CPU and I/O priority,
# its output into LOG, while FOREGROUND runs as usual; wait for both,
# print LOG, and exit non-zero when either failed (saying which).
# `make test` uses it to build and smoke-run the fuzzers in the CPU the
# parallel integration tests leave idle.
set -u
[ $# -eq 3 ] || { echo "usage: $0 LOG BACKGROUND FOREGROUND" >&2; exit 2; }
log=$1 bg=$2 fg=$3
mkdir -p "$(dirname "$log")"
nice -n 19 ionice -c 2 -n 7 sh -c "$bg" >"$log" 2>&1 &
pid=$!
sh -c "$fg"
fg_rc=$?
wait "$pid"
bg_rc=$?
echo "== beside: '$bg' (exit $bg_rc), its output:"
cat "$log"
[ "$fg_rc" -eq 0 ] || echo "beside: '$fg' failed (exit $fg_rc)" >&2
[ "$bg_rc" -eq 0 ] || echo "beside: '$bg' failed (exit $bg_rc), see $log" >&2
[ "$fg_rc" -eq 0 ] && [ "$bg_rc" -eq 0 ]
