"""The one place Flash touches private names of Dash (`compat.dash`) and Quart (`compat.quart`).

Flash reuses Dash's and Quart's code wherever it can (super(), delegation, hooks). Where no
public API does what Flash needs, the private name is imported or reached here only, with a
line saying why, and listed in the module's `NEEDED` registry: `tests/unit/test_compat.py`
checks every entry against the installed Dash/Quart and fails with a message naming what to
update, and it fails too if a module outside this package imports a private Dash/Quart name.
`pyproject.toml` pins `dash` and `quart` to the minor versions these were checked against.
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
