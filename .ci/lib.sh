# Shared by .ci/demo, .ci/test and .ci/run: builds a reproducible virtualenv from the lock file.
# Usage: source .ci/lib.sh; ensure_venv 3   (or 2 for Airflow 2.11)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"
export PYTHONDONTWRITEBYTECODE="${PYTHONDONTWRITEBYTECODE:-}"

ensure_venv() {
    local flavour="${1:-3}"
    VENV="$ROOT/.venv-airflow$flavour"
    local lock="$ROOT/.ci/requirements-airflow$flavour.txt"
    local want
    want="$(cat "$lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.lock-stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    echo ">> building $VENV from $(basename "$lock")" >&2
    rm -rf "$VENV"
    # The lock files are resolved for Python 3.11: prefer it, and say so when only another one exists.
    local python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo ">> warning: $python is not Python 3.11; the locked versions may not install" >&2
    fi
    "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    # --compile-bytecode: with PYTHONDONTWRITEBYTECODE set, imports would otherwise stay ~2.5x slower.
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --compile-bytecode -r "$lock"
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --compile-bytecode --no-deps -e "$ROOT"
    echo "$want" > "$VENV/.lock-stamp"
}
