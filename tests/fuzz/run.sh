#!/bin/sh
# Run one libFuzzer harness for a bounded time. libFuzzer writes new
# inputs into the first corpus directory, so that is a temporary one and
# the committed seeds come second: a test run never changes the tree.
# Usage: run.sh HARNESS SEED_DIR    (FUZZ_SECONDS, default 10)
# A crash is kept as $FUZZ_ARTIFACTS (default: the current dir)/NAME-crash-*.
# libFuzzer's own exit code for a crash is 77, which meson reads as
# "skipped": a crash must fail the test, so it exits 1 instead.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dict=
base=$(basename "$2")
if [ -f "$2/../../$base.dict" ]; then dict="-dict=$2/../../$base.dict"; fi
exec "$1" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=10 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -rss_limit_mb=2048 -print_final_stats=1 $dict \
    -artifact_prefix="${FUZZ_ARTIFACTS:-$PWD}/$base-" "$tmp" "$2"
