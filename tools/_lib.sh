# Shared by the tools/*.sh scripts (sourced, not run).
#
# They never build in the working tree: the C parts are built into a copy
# (`copy_tree`) and installed non-editable into a fresh venv, so the
# in-place build a developer uses (`pip install -e .`) is left alone.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\n=== %s\n' "$*" >&2; }

# find_python 3.12 -> the absolute path of a python3.12 interpreter: the one
# on PATH if it runs, else the newest pyenv-installed 3.12.x.
find_python() {
    local v=$1 exe pv
    if exe=$(command -v "python$v") && "$exe" -c 'pass' >/dev/null 2>&1; then
        # The interpreter itself, also when PATH leads to a venv's.
        "$exe" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))'
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        pv=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -n 1)
        if [ -n "$pv" ] && [ -x "$(pyenv root)/versions/$pv/bin/python$v" ]; then
            echo "$(pyenv root)/versions/$pv/bin/python$v"
            return
        fi
    fi
    echo "no python$v found (on PATH or in pyenv)" >&2
    return 1
}

# make_work NAME: sets WORK to a fresh directory under $TMPDIR, removed on
# exit unless KEEP is 1 (--keep), in which case its path is printed.
make_work() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyev-$1.XXXXXX")
    if [ "${KEEP:-0}" = 1 ]; then
        echo "work directory (kept): $WORK" >&2
    else
        trap 'rm -rf "$WORK"' EXIT
    fi
}

# copy_tree DEST [PATH ...]: the repository's files (those under PATHs) as
# they are in the working tree (tracked and untracked, minus what .gitignore
# excludes: no .venv, no build/, no built .so) copied into DEST.
copy_tree() {
    local dest=$1
    mkdir -p "$dest"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- "${@:2}" |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -x -C "$dest"
}

# build_rev REV DIR PYTHON: git revision REV built with PYTHON into the venv
# DIR/venv by install_copy, with pyev's run dependencies only; its sources in
# DIR/src (`.`: the working tree, through copy_tree; else through `git
# archive`). Sets REV_LABEL, the revision's name for output.
build_rev() {
    local rev=$1 dir=$2 python=$3 commit t0=$SECONDS
    if [ "$rev" = . ]; then
        REV_LABEL="working tree"
        copy_tree "$dir/src"
    else
        commit=$(git -C "$ROOT" rev-parse --verify --short "$rev^{commit}")
        REV_LABEL=$rev
        [ "$commit" = "$rev" ] || REV_LABEL="$rev ($commit)"
        mkdir -p "$dir/src"
        git -C "$ROOT" archive --format=tar "$commit" | tar -x -C "$dir/src"
    fi
    log "$REV_LABEL: build ($python)"
    install_copy "$dir/src" "$python" "$dir/venv" ""
    log "$REV_LABEL: built in $((SECONDS - t0)) s"
}

# install_copy SRC PYTHON VENV [EXTRAS]: make VENV with PYTHON and install
# SRC with its extras (default: test) into it, non-editable, with whatever
# CFLAGS/LDFLAGS are in the environment. Then SRC/pyev is moved aside, so tests run from SRC can
# only import the installed build (a `python -c` subprocess puts the current
# directory first on sys.path).
install_copy() {
    local src=$1 python=$2 venv=$3 extras=${4:-test}
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-cache-dir -v "$src[$extras]" \
        >"$venv/build.log" 2>&1 || { cat "$venv/build.log" >&2; return 1; }
    mv "$src/pyev" "$src/pyev.source-not-imported"
}

# build_warnings VENV: the compiler's diagnostics in install_copy's log.
build_warnings() {
    grep -E -A4 '\.(c|h):[0-9]+:([0-9]+:)? (warning|error):' "$1/build.log" || true
}

# parse_versions ARGS...: the tools' shared command line, "[3.N ...] [-- REST]"
# and -h/--help (the script's header comment). Sets VERSIONS (Python
# versions, empty if none given) and REST (what followed --).
parse_versions() {
    VERSIONS=()
    REST=()
    while [ $# -gt 0 ]; do
        case $1 in
            --) shift; REST=("$@"); break ;;
            -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            3.*) VERSIONS+=("$1") ;;
            *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
}
