#!/usr/bin/env bash
# The benchmark suite's pyev workloads for two builds of pyev in one run:
# the "before and after" figures for a change to the C core (beside
# tools/callgrind.sh's instruction counts, which load does not move).
#
#   tools/bench_revs.sh main .              main against the working tree
#   tools/bench_revs.sh --quick 3e77fb6 HEAD
#                                           smoke check: small sizes, 1 repetition
#   tools/bench_revs.sh main main           the same revision twice: this
#                                           machine's noise, as ratios
#   tools/bench_revs.sh [--python 3.11] [--quick] [--repeat N]
#                       [--only W[,W...]] [--keep] REV_BEFORE REV_AFTER
#
# Each revision (`.` is the working tree) is built into a fresh venv,
# non-editable, as the other tools build (the working tree through
# copy_tree, a revision through `git archive`), with pyev and cffi only.
# Then tests/benchmarks/run.py --pyev-python runs every pyev workload of the
# suite under each build: each measurement a fresh process, repetitions
# interleaved (before, after, before, after, ...), so a busy stretch of the
# machine hits both builds. The workload code is the working tree's, copied
# when the run starts, for both builds.
#
# Prints a Markdown report: per workload, each build's median (min–max) and
# AFTER vs BEFORE, oriented so that > 1 means AFTER is better (after/before
# for rates, before/after for latencies and bytes), with the min–max of the
# per-repetition ratios; then every value with the load average. --quick,
# --repeat (default 5; --quick: 1) and --only are run.py's options. --keep
# keeps the work directory (the venvs, their build.log). Exit status: 0 if
# both builds built and every measurement succeeded.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

PYVER=3.11
KEEP=0
RUN_ARGS=()
REVS=()
while [ $# -gt 0 ]; do
    case $1 in
        --python) PYVER=$2; shift ;;
        --keep) KEEP=1 ;;
        --quick) RUN_ARGS+=(--quick) ;;
        --repeat|--only) RUN_ARGS+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
        *) REVS+=("$1") ;;
    esac
    shift
done
[ ${#REVS[@]} -eq 2 ] || { echo "want two revisions, REV_BEFORE REV_AFTER (see --help)" >&2; exit 2; }

make_work bench-revs
PYTHON=$(find_python "$PYVER")

# The suite as it is now, so edits during the run do not reach it.
copy_tree "$WORK/suite" tests/benchmarks

BUILDS=()
i=0
for rev in "${REVS[@]}"; do
    i=$((i + 1))
    build_rev "$rev" "$WORK/$i" "$PYTHON"
    [ "$i" = 1 ] || [ "$REV_LABEL" != "$first" ] || REV_LABEL+=" again"  # an A/A run
    first=${first:-$REV_LABEL}
    BUILDS+=(--pyev-python "$REV_LABEL=$WORK/$i/venv/bin/python")
done

t0=$SECONDS
log "run.py${RUN_ARGS[*]:+ ${RUN_ARGS[*]}}: both builds, interleaved"
status=0
"$PYTHON" "$WORK/suite/tests/benchmarks/run.py" "${RUN_ARGS[@]}" "${BUILDS[@]}" || status=$?
log "measured in $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"
exit $status
