"""requirements/*.txt agree with pyproject.toml, the source of truth.

Every package pyproject names for a pinned set must be pinned there, to a version its specifier
allows; a range changed in pyproject without rerunning scripts/update_requirements.py fails here.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import update_requirements  # noqa: E402

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def pins(name: str) -> dict[str, Version]:
    """Canonical name -> pinned version; every non-comment line must be an exact pin."""
    found: dict[str, Version] = {}
    for number, line in enumerate((ROOT / "requirements" / name).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"requirements/{name}:{number}: {line!r} is not a name==version pin"
        dist = canonicalize_name(match[1])
        assert dist not in found, f"requirements/{name}:{number}: {dist} pinned twice"
        found[dist] = Version(match[2])
    return found


def named(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject's requirements for the base install plus `extras` that apply on this platform."""
    return [r for r in update_requirements.roots(extras) if r.marker is None or r.marker.evaluate({"extra": ""})]


@pytest.mark.parametrize("name, extras", sorted(update_requirements.SETS.items()))
def test_every_named_package_is_pinned_within_its_range(name, extras):
    pinned = pins(name)
    problems = []
    for requirement in named(extras):
        dist = canonicalize_name(requirement.name)
        if dist not in pinned:
            problems.append(f"{requirement} is not in requirements/{name}")
        elif not requirement.specifier.contains(pinned[dist], prereleases=True):
            problems.append(f"requirements/{name} pins {dist}=={pinned[dist]}, outside {requirement}")
    assert not problems, "\n".join(problems) + "\nRun: python scripts/update_requirements.py"


def test_the_sets_cover_what_ci_and_development_install():
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert update_requirements.SETS["test.txt"] == ("test", "ci")  # what scripts/test installs
    assert set(update_requirements.SETS["dev.txt"]) == set(optional)  # every extra
    assert set(pins("test.txt")) <= set(pins("dev.txt"))


def test_the_files_say_where_they_come_from():
    for name in update_requirements.SETS:
        text = (ROOT / "requirements" / name).read_text()
        assert "pyproject.toml is the source of truth" in text
        assert "python scripts/update_requirements.py" in text
        assert "dash-flash" not in pins(name)  # the project itself is installed from the checkout


def test_the_check_fails_on_a_range_the_pin_leaves_and_on_a_missing_package(monkeypatch):
    real = update_requirements.project()
    dash = pins("test.txt")["dash"]
    changed = dict(real, dependencies=[*real["dependencies"], f"dash>{dash}", "no-such-package>=1"])
    monkeypatch.setattr(update_requirements, "project", lambda: changed)
    with pytest.raises(AssertionError) as failure:
        test_every_named_package_is_pinned_within_its_range("test.txt", ("test",))
    assert f"pins dash=={dash}, outside dash>{dash}" in str(failure.value)
    assert "no-such-package>=1 is not in requirements/test.txt" in str(failure.value)


def test_lowest_pins_each_direct_requirement_at_its_floor():
    """requirements/lowest.txt (scripts/test's .venv-lowest) holds the floor of every range the test
    install (the `test` and `ci` extras) names directly: the version the range starts at, or the first release above it that
    exists (e.g. `>=2.3` -> 2.3.1 when 2.3.0 was never released)."""
    pinned = pins("lowest.txt")
    problems = []
    for requirement in named(("test", "ci")):
        floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        if not floors:
            continue
        dist = canonicalize_name(requirement.name)
        floor = max(floors)
        if dist not in pinned:
            problems.append(f"{dist} (>= {floor}) is not in requirements/lowest.txt")
            continue
        version = pinned[dist]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"requirements/lowest.txt pins {dist}=={version}, outside {requirement}")
        elif version.release[: len(floor.release)] != floor.release and version.release[:2] != floor.release[:2]:
            problems.append(f"requirements/lowest.txt pins {dist}=={version}, not the floor {floor} of {requirement}")
    assert not problems, "\n".join(problems)
