#!/usr/bin/env bash
# Soak the Hypothesis state machines (tests/test_api_state_machine.py and
# tests/test_loop_state_machine.py, both backends) under load, looking for
# flakes.
#
#   tools/soak_state_machines.sh                        20 runs, 500 examples each
#   tools/soak_state_machines.sh --runs 5 --examples 2000 --steps 60
#   tools/soak_state_machines.sh --no-load
#
# Builds the working tree's copy into a fresh Python 3.11 venv (as
# tools/pythons.sh does, without -Werror), then runs the machines --runs
# times, two runs at a time, with one busy loop per core competing for the
# CPU all along (--no-load: none of that, one run at a time). Each run has
# PYEV_SM_EXAMPLES examples of PYEV_SM_STEPS steps per machine and a random
# seed; a failing run keeps its log (the falsifying example and the seed to
# reproduce it) and is reported at the end. Exit status 0 only if every run
# passed.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

RUNS=20
EXAMPLES=500
STEPS=40
LOAD=1
while [ $# -gt 0 ]; do
    case $1 in
        --runs) RUNS=$2; shift ;;
        --examples) EXAMPLES=$2; shift ;;
        --steps) STEPS=$2; shift ;;
        --no-load) LOAD=0 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyev-smsoak.XXXXXX")
BUSY=()
cleanup() {
    for pid in "${BUSY[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

copy_tree "$WORK/src"
install_copy "$WORK/src" "$(find_python 3.11)" "$WORK/venv"
mkdir -p "$WORK/logs"

if [ "$LOAD" = 1 ]; then
    for _ in $(seq "$(nproc)"); do
        "$WORK/venv/bin/python" -c 'while True: pass' &
        BUSY+=($!)
    done
    PARALLEL=2
else
    PARALLEL=1
fi
log "$RUNS runs of $EXAMPLES examples x $STEPS steps, $PARALLEL at a time, $([ "$LOAD" = 1 ] && echo "with ${#BUSY[@]} busy loops" || echo "no load")"

one_run() {
    local k=$1 seed=$2 start=$SECONDS
    if (cd "$WORK/src" && PYEV_SM_EXAMPLES=$EXAMPLES PYEV_SM_STEPS=$STEPS \
            "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider -o timeout=1800 \
            --hypothesis-seed="$seed" --hypothesis-show-statistics \
            tests/test_api_state_machine.py tests/test_loop_state_machine.py) >"$WORK/logs/run$k.log" 2>&1; then
        echo "run $k (seed $seed): passed ($((SECONDS - start)) s): $(tail -n 1 "$WORK/logs/run$k.log")"
    else
        echo "run $k (seed $seed): FAILED ($((SECONDS - start)) s); its log:"
        cat "$WORK/logs/run$k.log"
        return 1
    fi
}

failed=0
k=0
while [ "$k" -lt "$RUNS" ]; do
    pids=()
    for _ in $(seq "$PARALLEL"); do
        [ "$k" -lt "$RUNS" ] || break
        k=$((k + 1))
        one_run "$k" "$((RANDOM * 32768 + RANDOM))" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=$((failed + 1))
    done
done
log "$((RUNS - failed)) of $RUNS runs passed"
[ "$failed" = 0 ]
