#!/usr/bin/env bash
# Build with warnings as errors and run the test suite on every supported
# Python.
#
#   tools/pythons.sh                 3.11, 3.12 and 3.13
#   tools/pythons.sh 3.12 3.13       only these
#   tools/pythons.sh -- -x tests/loop   extra pytest arguments (after --)
#
# For each version: copies the working tree (tracked and untracked files, not
# what .gitignore excludes) to a temporary directory, makes a venv there with
# that Python (from PATH, else from pyenv), installs '.[test]' non-editable
# with CFLAGS=-Werror (so the C core and the cffi shim must compile without
# a single warning under -Wall), and runs pytest from the copy. Every version
# is tried even if one fails; a summary says which built and which passed.
# Exit status: 0 only if every version built and passed.
set -uo pipefail
source "$(dirname "$0")/_lib.sh"

parse_versions "$@"
PYTEST_ARGS=(-q)
[ ${#REST[@]} -eq 0 ] || PYTEST_ARGS=("${REST[@]}")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.11 3.12 3.13)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyev-pythons.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
status=0
for v in "${VERSIONS[@]}"; do
    start=$SECONDS
    python=$(find_python "$v") || { SUMMARY+=("$v: no interpreter"); status=1; continue; }
    log "Python $v ($python): build with CFLAGS=-Werror"
    copy_tree "$WORK/$v/src"
    if ! CFLAGS="-Werror" install_copy "$WORK/$v/src" "$python" "$WORK/$v/venv" >/dev/null 2>&1; then
        echo "BUILD FAILED on Python $v; the compiler said:" >&2
        build_warnings "$WORK/$v/venv" >&2
        grep -E -m5 '^error:|error: command' "$WORK/$v/venv/build.log" >&2 || true
        SUMMARY+=("$v: BUILD FAILED with -Werror ($((SECONDS - start)) s)")
        status=1
        continue
    fi
    log "Python $v: pytest ${PYTEST_ARGS[*]}"
    if (cd "$WORK/$v/src" && "$WORK/$v/venv/bin/python" -m pytest -p no:cacheprovider "${PYTEST_ARGS[@]}"); then
        SUMMARY+=("$v: built without warnings, tests passed ($((SECONDS - start)) s)")
    else
        SUMMARY+=("$v: built without warnings, TESTS FAILED ($((SECONDS - start)) s)")
        status=1
    fi
done
log "summary"
printf '  %s\n' "${SUMMARY[@]}"
exit $status
