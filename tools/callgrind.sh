#!/usr/bin/env bash
# Instructions per idle iteration and per ping-pong round trip, counted by
# callgrind: a figure that load on the machine does not move, for comparing
# the C core before and after a change.
#
#   tools/callgrind.sh                      the working tree
#   tools/callgrind.sh main core-split      each git revision (`.` is the
#                                           working tree), side by side
#   tools/callgrind.sh [--python 3.11] [--keep] [REV ...]
#
# Each revision is built into a fresh venv, non-editable, as the other tools
# build (the working tree through copy_tree, a revision through
# `git archive`), and two workloads run under
# `valgrind --tool=callgrind`, with PYTHONHASHSEED=0:
#   idle      an ev.Idle whose callback counts to N, then stops it;
#   pingpong  two ends of a socketpair, each with an Io watcher for READ,
#             bouncing one byte N times (the benchmark suite's pingpong).
# Each runs twice, with N and with a smaller N; the difference of the two
# totals over the difference of the Ns is the cost of one iteration (one
# round trip), interpreter start-up and set-up cancelling out. The counts
# are the whole process's (the interpreter, the callbacks, the C core, libc)
# and repeat to within a few instructions from one run to the next; the
# wall-clock re-read every 0.5 s (WALL_RECHECK) is the one thing that
# depends on time, and it costs well under one instruction per iteration.
# --keep keeps the work directory, with the callgrind.out files for
# callgrind_annotate.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

PYVER=3.11
KEEP=0
REVS=()
while [ $# -gt 0 ]; do
    case $1 in
        --python) PYVER=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
        *) REVS+=("$1") ;;
    esac
    shift
done
[ ${#REVS[@]} -gt 0 ] || REVS=(.)
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

make_work callgrind
PYTHON=$(find_python "$PYVER")

# (workload, small N, large N)
WORKLOADS=("idle 5000 25000" "pingpong 1000 5000")

cat >"$WORK/workload.py" <<'EOF'
import socket
import sys

import pyev as ev

workload, n = sys.argv[1], int(sys.argv[2])
loop = ev.Loop()
if workload == "idle":
    count = 0

    def on_idle(w, revents):
        global count
        count += 1
        if count >= n:
            w.stop()

    ev.Idle(on_idle).start(loop)
    loop.run()
    assert count == n, count
elif workload == "pingpong":
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    done = 0

    def on_a(w, revents):
        global done
        a.recv(1)
        done += 1
        if done < n:
            a.send(b"x")
        else:
            loop.break_()

    def on_b(w, revents):
        b.recv(1)
        b.send(b"x")

    ev.Io(a, ev.READ, on_a).start(loop)
    ev.Io(b, ev.READ, on_b).start(loop)
    loop.run(ev.RUN_NOWAIT)
    a.send(b"x")
    loop.run()
    assert done == n, done
else:
    sys.exit(f"unknown workload {workload}")
EOF

# Self cost per shared object, from a callgrind.out file: every cost line
# counts for the object of the function it is in (inlined code included),
# except the inclusive cost line after each calls= line. Prints the total
# and the part in pyev._core.
cat >"$WORK/by_object.py" <<'EOF'
import re
import sys

names, costs, ob, skip = {}, {}, None, False
with open(sys.argv[1]) as f:
    for line in f:
        if skip:
            skip = False
        elif line[0].isdigit() or line[0] in "+-*":
            parts = line.split()
            if len(parts) >= 2:
                costs[ob] = costs.get(ob, 0) + int(parts[1])
        elif line.startswith("calls="):
            skip = True
        elif m := re.match(r"(c?ob)=(?:\((\d+)\))?\s*(.*)", line.rstrip("\n")):
            kind, ident, name = m.groups()
            if ident is not None and name:
                names[ident] = name
            if kind == "ob":
                ob = names[ident] if ident is not None else name
print(sum(costs.values()), sum(v for k, v in costs.items() if k and "/pyev/_core." in k))
EOF

# instructions VENV WORKLOAD N -> "TOTAL CORE": the process's instruction
# count, and the part of it executed in the C core's own code (pyev._core's
# shared object: its functions, with what the compiler inlined into them).
instructions() {
    local venv=$1 workload=$2 n=$3 out
    out="$WORK/callgrind.out.$(basename "$(dirname "$venv")").$workload.$n"
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$venv/bin/python" "$WORK/workload.py" "$workload" "$n" 2>"$out.log" ||
        { cat "$out.log" >&2; return 1; }
    "$PYTHON" "$WORK/by_object.py" "$out"
}

ROWS=()
i=0
for rev in "${REVS[@]}"; do
    i=$((i + 1))
    dir="$WORK/$i"
    build_rev "$rev" "$dir" "$PYTHON"
    label=$REV_LABEL
    row="$label"
    for spec in "${WORKLOADS[@]}"; do
        read -r workload small large <<<"$spec"
        log "$label: $workload, N=$small and N=$large under callgrind"
        read -r lo lo_core <<<"$(instructions "$dir/venv" "$workload" "$small")"
        read -r hi hi_core <<<"$(instructions "$dir/venv" "$workload" "$large")"
        per() { awk -v lo="$1" -v hi="$2" -v n="$((large - small))" 'BEGIN { printf "%.1f", (hi - lo) / n }'; }
        row+=$'\t'$(per "$lo" "$hi")$'\t'$(per "$lo_core" "$hi_core")
    done
    ROWS+=("$row")
done

log "instructions per idle iteration and per pingpong round trip (callgrind, Python $PYVER);
    'in C core': those executed in pyev._core's own code; (%) against the first row"
{
    printf 'revision\tidle\tidle in C core\tpingpong\tpingpong in C core\n'
    base=()
    for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a cols <<<"$row"
        line=${cols[0]}
        for k in 1 2 3 4; do
            if [ ${#base[@]} -eq 0 ]; then
                line+=$'\t'${cols[$k]}
            else
                line+=$'\t'$(awk -v x="${cols[$k]}" -v b="${base[$k]}" \
                    'BEGIN { printf "%s (%+.2f%%)", x, b ? 100 * (x - b) / b : 0 }')
            fi
        done
        [ ${#base[@]} -gt 0 ] || base=("${cols[@]}")
        printf '%s\n' "$line"
    done
} | column -t -s $'\t'
