# Shared by .ci/demo, .ci/test, .ci/run and .ci/lock: which Airflow x Python combinations exist, and a
# reproducible virtualenv per combination built from its lock file.
#   source .ci/lib.sh; ensure_venv "$(target_of 3.1 3.11)"   # or ensure_venv 3 (3.3) / ensure_venv 2 (2.11)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"
export PYTHONDONTWRITEBYTECODE="${PYTHONDONTWRITEBYTECODE:-}"

# Every combination CI tests: AIRFLOW_MINOR, or AIRFLOW_MINOR-pyPYTHON where the Python is not 3.11.
TARGETS=(2.11 3.0 3.1 3.2 3.3 3.3-py3.12 3.3-py3.13)
NEWEST_AIRFLOW="3.3"
OLDEST_AIRFLOW3="3.0"

# The target for an Airflow minor (2.11 ... 3.3; "2" and "3" mean 2.11 and 3.3) and a Python (3.11 default).
target_of() {
    local airflow="${1:-$NEWEST_AIRFLOW}" python="${2:-3.11}"
    case "$airflow" in
        2) airflow=2.11 ;;
        3) airflow="$NEWEST_AIRFLOW" ;;
    esac
    local target="$airflow"
    [ "$python" = 3.11 ] || target="$airflow-py$python"
    local known
    for known in "${TARGETS[@]}"; do
        if [ "$known" = "$target" ]; then
            echo "$target"
            return 0
        fi
    done
    echo "no lock for Airflow $airflow on Python $python; known: ${TARGETS[*]}" >&2
    return 1
}

# The two original locks keep their names (requirements-airflow2/3.txt, .venv-airflow2/3).
suffix_of() {
    case "$1" in
        2 | 2.11) echo 2 ;;
        3 | "$NEWEST_AIRFLOW") echo 3 ;;
        "$NEWEST_AIRFLOW"-py*) echo "3-py${1##*-py}" ;;
        *) echo "$1" ;;
    esac
}
python_of() {
    case "$1" in
        *-py*) echo "${1##*-py}" ;;
        *) echo 3.11 ;;
    esac
}
lock_of() { echo "$ROOT/.ci/requirements-airflow$(suffix_of "$1").txt"; }
# The Python 3.12/3.13 locks resolve the Python 3.11 lock's input.
in_of() { echo "$ROOT/.ci/requirements-airflow$(suffix_of "${1%%-py*}").in"; }
venv_of() { echo "$ROOT/.venv-airflow$(suffix_of "$1")"; }

# An interpreter for a Python version: $PYTHON if set, else pythonX.Y on PATH, else pyenv's.
find_python() {
    local version="$1" candidate
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
        return 0
    fi
    for candidate in "$(command -v "python$version" || true)" /root/.pyenv/versions/"$version".*/bin/python"$version"; do
        # A pyenv shim exists for every installed version but runs only the active ones: try it.
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'pass' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "no Python $version found (set PYTHON=/path/to/python$version)" >&2
    return 1
}

# Builds (once per lock content) the target's virtualenv; sets VENV.
ensure_venv() {
    local target="${1:-3}"
    VENV="$(venv_of "$target")"
    local lock
    lock="$(lock_of "$target")"
    local want
    want="$(cat "$lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.lock-stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    echo ">> building $VENV from $(basename "$lock")" >&2
    rm -rf "$VENV"
    local version python
    version="$(python_of "$target")"
    python="$(find_python "$version")"
    if ! "$python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))"; then
        echo ">> warning: $python is not Python $version; the locked versions may not install" >&2
    fi
    "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    # --compile-bytecode: with PYTHONDONTWRITEBYTECODE set, imports would otherwise stay ~2.5x slower.
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --compile-bytecode -r "$lock"
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --compile-bytecode --no-deps -e "$ROOT"
    echo "$want" > "$VENV/.lock-stamp"
}
