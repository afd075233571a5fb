#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   tools/sanitize.sh                  the whole suite
#   tools/sanitize.sh --gc-stress      the C-heavy tests (tests/loop,
#                                      tests/watchers, tests/sources, the state
#                                      machines) with a collection every two
#                                      container allocations, each starting and
#                                      stopping watchers (PYEV_GC_STRESS=1, see
#                                      tests/conftest.py)
#   tools/sanitize.sh [--gc-stress[=N]] [--python 3.11] [--keep] [-- PYTEST ARGS]
#
# Copies the working tree (tracked and untracked files, not what .gitignore
# excludes) to a temporary directory, builds the C core (pyev/_c/) and
# the cffi shim (pyev/_linux/_build.py) there with
#   -fsanitize=address,undefined -fno-omit-frame-pointer
#   -fno-sanitize-recover=undefined -g
# into a fresh venv (Python 3.11 unless --python), non-editable, and runs
# pytest from the copy with:
#   LD_PRELOAD=libasan (+libubsan)  python itself is not instrumented, and the
#                        ASan runtime must be the first library loaded;
#   PYTHONMALLOC=malloc  Python's own allocator (pymalloc) carves objects out
#                        of 256 KiB arenas that ASan sees as one block: with
#                        malloc every object is its own block, so a read of a
#                        freed object or past the end of one is caught;
#   ASAN_OPTIONS=detect_leaks=0  CPython does not free everything at exit
#                        (interned strings, static types, module state,
#                        caches), so LeakSanitizer would report thousands of
#                        interpreter "leaks" in every process, and in every
#                        non-Python program the tests start (sh, true) that
#                        inherits LD_PRELOAD. Leaks of pyev's own are looked
#                        for by tests/stress/leakcheck.py instead;
#   log_path=...         reports go to files, one per process, so a report
#                        from a forked child or a subprocess is not lost in
#                        captured output. They are printed at the end, each
#                        with the test that was running when it was written.
# The first ASan or UBSan error ends its process (halt_on_error), which then
# fails or crashes the test run. Exit status: 0 only if pytest passed and no
# report was written.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

PYVER=3.11
GC_STRESS=0
KEEP=0
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --gc-stress) GC_STRESS=1 ;;
        --gc-stress=*) GC_STRESS=${1#*=} ;;
        --python) PYVER=$2; shift ;;
        --keep) KEEP=1 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ ${#PYTEST_ARGS[@]} -eq 0 ]; then
    PYTEST_ARGS=(-q)
    if [ "$GC_STRESS" != 0 ]; then
        PYTEST_ARGS+=(tests/loop tests/watchers tests/sources tests/test_loop_state_machine.py
                      tests/test_api_state_machine.py)
    fi
fi

make_work sanitize

PYTHON=$(find_python "$PYVER")
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
log "sanitizer build: $PYTHON, $SAN"
copy_tree "$WORK/src"
CFLAGS="$SAN" LDFLAGS="-fsanitize=address,undefined" install_copy "$WORK/src" "$PYTHON" "$WORK/venv"
build_warnings "$WORK/venv"

# Both compiled modules must really carry the runtime.
for so in "$WORK"/venv/lib/python*/site-packages/pyev/_core.*.so \
          "$WORK"/venv/lib/python*/site-packages/pyev/_linux/_kernel*.so; do
    case $(ldd "$so") in
        *libasan*) ;;
        *) echo "not built with ASan: $so" >&2; exit 1 ;;
    esac
done

mkdir -p "$WORK/logs"
LIBASAN=$(gcc -print-file-name=libasan.so)
LIBUBSAN=$(gcc -print-file-name=libubsan.so)
export LD_PRELOAD="$LIBASAN $LIBUBSAN${LD_PRELOAD:+ $LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:handle_abort=1:allow_user_segv_handler=0:detect_stack_use_after_return=1:log_path=$WORK/logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$WORK/logs/ubsan"
export PYTHONMALLOC=malloc
export PYEV_TEST_TRACE="$WORK/logs/tests.trace"
export PYEV_GC_STRESS="$GC_STRESS"
if [ "$GC_STRESS" != 0 ]; then
    # Every step is ~20x slower under GC stress: fewer state-machine examples
    # keep the whole run within a few minutes (and each test within its timeout).
    export PYEV_SM_EXAMPLES=${PYEV_SM_EXAMPLES:-12}
fi

log "pytest ${PYTEST_ARGS[*]} (PYEV_GC_STRESS=$GC_STRESS)"
cd "$WORK/src"
set +e
# A slower build: the per-test timeout is tripled.
"$WORK/venv/bin/python" -m pytest -p no:cacheprovider -o timeout=180 "${PYTEST_ARGS[@]}"
rc=$?
set -e
unset LD_PRELOAD

shopt -s nullglob
reports=("$WORK"/logs/asan.* "$WORK"/logs/ubsan.*)
for r in "${reports[@]}"; do
    log "sanitizer report $(basename "$r")"
    "$WORK/venv/bin/python" - "$r" "$PYEV_TEST_TRACE" <<'EOF'
import os, sys
report, trace = sys.argv[1:]
written = os.path.getmtime(report)
running = "(before the first test)"
try:
    for line in open(trace):
        t, _pid, nodeid = line.rstrip("\n").split(" ", 2)
        if float(t) <= written:
            running = nodeid
except FileNotFoundError:
    pass
print(f"test running when it was written: {running}")
EOF
    cat "$r"
done
log "pytest exit status $rc, ${#reports[@]} sanitizer report(s)"
if [ "$rc" != 0 ] || [ ${#reports[@]} -gt 0 ]; then
    exit 1
fi
