#!/usr/bin/env bash
# Run the peer suites against pyev.aio, each beside its stock-asyncio
# baseline: CPython's test_asyncio (tests/peers/cpython_asyncio.py --compare)
# and uvloop's own tests (tests/peers/uvloop_suite.py).
#
#   tools/peers.sh                   Python 3.11 and 3.13 (the oldest and newest)
#   tools/peers.sh 3.12              only these
#   tools/peers.sh -- -v             extra arguments for both harnesses (after --)
#
# For each version: copies the working tree to a temporary directory, makes a
# venv there with that Python, installs '.[test,peers]' non-editable (as
# tools/pythons.sh does, without -Werror), and runs both harnesses from the
# copy with -j2. uvloop's suite is fetched from the package index on first use
# and kept in ~/.cache/pyev-peers (see uvloop_suite.py). Exit status: 0 only
# if every version built and pyev.aio passed every test the baseline passed.
set -uo pipefail
source "$(dirname "$0")/_lib.sh"

parse_versions "$@"
EXTRA=("${REST[@]}")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.11 3.13)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyev-peers.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
status=0
for v in "${VERSIONS[@]}"; do
    start=$SECONDS
    python=$(find_python "$v") || { SUMMARY+=("$v: no interpreter"); status=1; continue; }
    log "Python $v ($python): build"
    copy_tree "$WORK/$v/src"
    if ! install_copy "$WORK/$v/src" "$python" "$WORK/$v/venv" "test,peers" >/dev/null 2>&1; then
        tail -n 20 "$WORK/$v/venv/build.log" >&2
        SUMMARY+=("$v: BUILD FAILED")
        status=1
        continue
    fi
    py="$WORK/$v/venv/bin/python"
    for harness in cpython_asyncio uvloop_suite; do
        args=(-j2 "${EXTRA[@]}")
        [ $harness = cpython_asyncio ] && args=(--compare "${args[@]}")
        t0=$SECONDS
        log "Python $v: $harness ${args[*]}"
        if (cd "$WORK/$v/src" && "$py" "tests/peers/$harness.py" "${args[@]}"); then
            SUMMARY+=("$v: $harness passed ($((SECONDS - t0)) s)")
        else
            SUMMARY+=("$v: $harness FAILED ($((SECONDS - t0)) s)")
            status=1
        fi
    done
    SUMMARY+=("$v: $((SECONDS - start)) s with the build")
done
log "summary"
printf '  %s\n' "${SUMMARY[@]}"
exit $status
