#!/usr/bin/env bash
# Creates (idempotently) the Dash 4.5 venv that the differential tests (tests/differential, marker
# `dash45`) serve the oracle from: `.venv-dash45` in the repo root, or $DASH45_VENV. Prints nothing
# unless something fails. The tests find its python at .venv-dash45/bin/python, or wherever
# $FLASH_DASH45_PYTHON points.
#
#   bash scripts/dash45_venv.sh                      # .venv-dash45 with dash==4.5.0rc2
#   DASH45_VERSION=4.5.0 bash scripts/dash45_venv.sh # another 4.5 (re-installs when it differs)
#
# The oracle needs Dash with its Quart backend (`dash[quart]`) and uvicorn (tests/differential/serve.py
# serves both sides on uvicorn); it never imports Flash.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${DASH45_VENV:-.venv-dash45}"
VERSION="${DASH45_VERSION:-4.5.0rc2}"
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"

ready() {
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" - "$VERSION" <<'PY' 2>/dev/null
import sys
import dash, quart, uvicorn  # noqa: F401
sys.exit(0 if dash.__version__ == sys.argv[1] else 1)
PY
}

ready && exit 0
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP_ROOT_USER_ACTION=ignore "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --pre \
    "dash[quart]==$VERSION" uvicorn >/dev/null
ready || { echo "scripts/dash45_venv.sh: $VENV has no working dash==$VERSION with quart and uvicorn" >&2; exit 1; }
