#!/usr/bin/env python
"""Write requirements/*.txt: the exact versions this environment runs, for the sets CI and
development install.

pyproject.toml stays the source of truth (its ranges are what users get); these files pin one
known-good resolution of them, so a CI run or a new checkout installs what the last green run
used. Each file lists the whole dependency closure of its extras (what `pip freeze` shows,
filtered to what those extras pull in), as resolved on this machine's platform and Python.

    pip install -e ".[test]"            # or every extra, for dev.txt
    python scripts/update_requirements.py

Use them as constraints next to the editable install:

    pip install -e ".[test]" -c requirements/test.txt

tests/unit/test_requirements_sync.py fails when pyproject.toml and these files disagree.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# File name -> the extras of pyproject.toml it pins (the base dependencies are always in).
SETS = {
    "test.txt": ("test", "ci"),  # scripts/test, .ci/run
    "dev.txt": ("test", "uvicorn", "diskcache", "celery", "redis", "examples", "metrics", "otel", "mcp", "ci", "bench"),
}
HEADER = """\
# {name}: pinned dependencies of dash-flash{extras}, as resolved on {platform}, Python {python}.
# pyproject.toml is the source of truth; this file pins one known-good resolution of it.
# Regenerate (after changing pyproject.toml or upgrading): pip install -e ".{extras}" and run
#     python scripts/update_requirements.py
# Use: pip install -e ".{extras}" -c requirements/{name}
"""


def project() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]  # type: ignore[no-any-return]


def roots(extras: tuple[str, ...]) -> list[Requirement]:
    """The requirements pyproject.toml names for the base install plus `extras`."""
    data = project()
    optional: dict[str, list[str]] = data["optional-dependencies"]  # type: ignore[assignment]
    lines = list(data["dependencies"])  # type: ignore[call-overload]
    for extra in extras:
        lines += optional[extra]
    return [Requirement(line) for line in lines]


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether a requirement holds here (its markers) for a distribution installed with `extras`."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """Canonical name -> installed version of every distribution `requirements` pull in."""
    pinned: dict[str, str] = {}
    done: dict[str, set[str]] = {}
    todo = [(req, frozenset[str]()) for req in requirements]
    while todo:
        requirement, parent_extras = todo.pop()
        if not applies(requirement, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        wanted = set(requirement.extras)
        if name in done and wanted <= done[name]:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"{requirement.name} is not installed: pip install the extras first (see this script's docstring)."
            ) from None
        done[name] = done.get(name, set()) | wanted
        pinned[name] = dist.version
        extras = frozenset(done[name])
        todo += [(Requirement(line), extras) for line in dist.requires or ()]
    return pinned


def render(name: str, extras: tuple[str, ...]) -> str:
    pins = closure(roots(extras))
    pins.pop(canonicalize_name(str(project()["name"])), None)
    header = HEADER.format(
        name=name, extras="[" + ",".join(extras) + "]", platform=sys.platform, python=".".join(map(str, sys.version_info[:2]))
    )
    return header + "".join(f"{dist}=={version}\n" for dist, version in sorted(pins.items()))


def main() -> None:
    folder = ROOT / "requirements"
    folder.mkdir(exist_ok=True)
    for name, extras in SETS.items():
        (folder / name).write_text(render(name, extras))
        print(f"wrote requirements/{name}")


if __name__ == "__main__":
    main()
