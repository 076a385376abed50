"""The one place Flash touches private names of other libraries: Dash (`compat.dash`), Quart
(`compat.quart`), Hypercorn's worker layout (`compat.hypercorn`) and redis-py's connection writer
(`compat.redis`).

Flash reuses Dash's and Quart's code wherever it can (super(), delegation, hooks). Where no
public API does what Flash needs, the private name is imported or reached here only, with a
line saying why, and listed in the module's `NEEDED` registry: `tests/unit/test_compat.py`
checks every entry against the installed library and fails with a message naming what to
update. It also fails if a module outside this package imports a private Dash/Quart name,
reaches a private attribute Flash does not define itself (``obj._name``, ``getattr(obj,
"_name")``), or sets attributes on another library's classes or modules.
`pyproject.toml` pins `dash`, `quart` and `hypercorn` to the minor versions these were checked against.
"""

from __future__ import annotations

from typing import NamedTuple


class Private(NamedTuple):
    """One private name Flash needs: `owner` is a module path, or `module:Class` for a class
    (or its instances', when `instance` is set) attribute; `why` says what Flash uses it for."""

    owner: str
    name: str
    why: str
    instance: bool = False
