"""Dash 4.5 as a contender: a venv of its own, made once and reused (issue 23, item 4).

Flash pins the Dash it runs on, so Dash 4.5 cannot share the benchmark's interpreter. The first
run that needs it makes `benchmarks/.venv-dash45` (git-ignored: `.venv-dash45/` in .gitignore)
with the same Python as the suite and the same server versions as the main environment, so the
only difference between the contenders is the framework. A marker file records what was
installed; a changed `SPEC` (or `rm -rf benchmarks/.venv-dash45`) makes it again.

`python -m benchmarks.dash45` makes (or checks) the venv and prints its interpreter.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import venv
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv-dash45"
DASH = "dash==4.5.0rc2"  # the newest Dash 4.5 the registry serves (rc0-rc2); `pip install --pre`
# Dash 4.5 has no `quart` extra (its wheel lists none), so Quart comes by name. Servers and JSON
# at the main environment's versions when it has them, so both sides run the same server code.
PINNED = ("quart", "uvicorn", "hypercorn", "orjson", "uvloop", "httptools", "redis", "hiredis")
MARKER = VENV / "flash-bench-spec.txt"


def spec() -> list[str]:
    """What the venv holds: Dash 4.5 (+ its redis extra for shared storage) and the pinned parts."""
    out = [DASH.replace("dash==", "dash[redis]==")]
    for dist in PINNED:
        try:
            out.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(dist)
    return out + ["psutil"]


def python() -> Path:
    return VENV / "bin" / "python"


def ensure() -> Path:
    """The venv's interpreter, making the venv first if it is missing or was made for another spec."""
    wanted = "\n".join(spec())
    if python().exists() and MARKER.exists() and MARKER.read_text() == wanted:
        return python()
    print(f"benchmarks: making the Dash 4.5 venv {VENV} (once): {' '.join(spec())}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    cmd = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--pre", *spec()]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"could not make the Dash 4.5 venv ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    MARKER.write_text(wanted)
    return python()


def version() -> str:
    """The Dash version in the venv (for the results' meta), or "missing"."""
    if not python().exists():
        return "missing"
    done = subprocess.run(
        [str(python()), "-c", "import dash; print(dash.__version__)"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "missing"


if __name__ == "__main__":
    print(ensure(), version())
    sys.exit(0)
