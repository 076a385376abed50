"""The layers below the app reach it only through their protocols (flash/server/host.py's
`ServerHost`, flash/streaming/host.py's `StreamHost`), which `Flash` satisfies.

Why: a lower layer that imports `flash.app` (even for an annotation) or calls a private method of
the app depends on how the app is built today; a rename there breaks it with no import error to
say so, and the layering test (test_import_layers.py) cannot see it. Here:
- no module in a layer names a higher layer in any import, `if TYPE_CHECKING:` ones included;
- no module in flash/server or flash/streaming reads a private attribute of an app object
  (`app._x`, `dash_app._x`, `self.app._x`, `getattr(app, "_x")`...);
- every member of the protocols is used by its layer (so they list exactly what is used), and a
  real `Flash` app is a `ServerHost` (mypy checks the types: test_typing.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import dash
import pytest

from flash import Flash
from flash.server.host import ServerHost, as_host
from flash.streaming.host import StreamHost
from tests.unit.test_import_layers import PACKAGE, TIERS, import_graph, upward_imports

LOWER = ("server", "streaming")  # the packages under flash/ that sit below the app
# Names an app object goes by in those layers: a variable, or an attribute of `self`.
APP_NAMES = {"app", "dash_app", "host"}
SELF_APP_NAMES = {"app", "_app", "dash_app", "_dash_app", "host"}

# (module, what) -> why it is still there. Files another change owns right now; each entry fails
# the test once it is gone, so that it is removed with it. Nothing else removes entries.
KNOWN: dict[tuple[str, str], str] = {}


def _is_app(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in APP_NAMES
    return (
        isinstance(node, ast.Attribute)
        and node.attr in SELF_APP_NAMES
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_app_reads(source: str) -> list[tuple[str, int]]:
    """(`app._x`, line) for each private attribute of an app object the source reads or calls."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr) and _is_app(node.value):
            found.append((f"{ast.unparse(node.value).removeprefix('self.')}.{node.attr}", node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and _is_app(node.args[0])
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            found.append((f"{ast.unparse(node.args[0]).removeprefix('self.')}.{node.args[1].value}", node.lineno))
    return sorted(found, key=lambda item: item[1])


def _lower_modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path
        for layer in LOWER
        for path in sorted((PACKAGE / layer).rglob("*.py"))
    }


def _private_reads() -> list[tuple[str, str, int]]:
    return [
        (module, what, line)
        for module, path in _lower_modules().items()
        for what, line in private_app_reads(path.read_text(encoding="utf-8"))
    ]


def test_no_layer_names_a_higher_one_not_even_for_types():
    upward = [edge for edge in upward_imports(import_graph(type_checking=True), TIERS) if edge[:2] not in KNOWN]
    assert not upward, "a lower layer imports a higher one (use the layer's host protocol instead):\n" + "\n".join(
        f"{module} imports {target} (line {line})" for module, target, line in upward
    )


def test_no_lower_layer_reads_a_private_attribute_of_the_app():
    found = [item for item in _private_reads() if item[:2] not in KNOWN]
    assert not found, "private app attributes used below the app (add a public member to the host protocol):\n" + "\n".join(
        f"{module}:{line} {what}" for module, what, line in found
    )


def test_every_known_exception_still_exists():
    present = {edge[:2] for edge in upward_imports(import_graph(type_checking=True), TIERS)}
    present |= {item[:2] for item in _private_reads()} | set(_unused())
    stale = [entry for entry in KNOWN if entry not in present]
    assert not stale, f"these KNOWN entries no longer exist; remove them: {stale}"


def test_the_scan_sees_each_form_of_private_access():
    source = (
        "def f(app, dash_app, other):\n"
        "    app._initialize_context({})\n"
        "    x = dash_app._setup_done\n"
        "    getattr(app, '_streams_taken', False)\n"
        "    other._fine, app.public, app.__class__\n"
        "class C:\n"
        "    def g(self):\n"
        "        return self._dash_app._serving_loop, self._private\n"
    )
    assert private_app_reads(source) == [
        ("app._initialize_context", 2),
        ("dash_app._setup_done", 3),
        ("app._streams_taken", 4),
        ("_dash_app._serving_loop", 8),
    ]


def _members(protocol: type, own: bool = False) -> set[str]:
    classes = [protocol] if own else [cls for cls in protocol.__mro__ if cls.__module__.startswith("flash.")]
    return {name for cls in classes for name in (*vars(cls), *getattr(cls, "__annotations__", {})) if not name.startswith("_")}


def _used_in(layer: str) -> set[str]:
    """Attribute names the layer's modules (but its host.py) read: `x.name`, `getattr(x, "name")`."""
    names = set()
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if path.name == "host.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                names.add(str(node.args[1].value))
    return names


def _unused() -> list[tuple[str, str]]:
    """(protocol's module, protocol.member) for each member of a host protocol its layer never uses."""
    return [
        (protocol.__module__, f"{protocol.__name__}.{name}")
        for protocol, layer in ((ServerHost, "server"), (StreamHost, "streaming"))
        for name in sorted(_members(protocol, own=True) - _used_in(layer))
    ]


def test_every_member_of_a_host_protocol_is_used_by_its_layer():
    assert _members(ServerHost, own=True) and _members(StreamHost, own=True)
    unused = [item for item in _unused() if item not in KNOWN]
    assert not unused, f"host protocols list members their layer never uses (remove them): {unused}"


def test_a_flash_app_is_the_host_the_lower_layers_take_it_for():
    app = Flash(__name__)
    assert isinstance(app, ServerHost)
    assert as_host(app) is app
    missing = sorted(name for name in _members(StreamHost) if not hasattr(app, name))
    assert not missing, f"Flash lacks members of StreamHost: {missing}"
    assert app.setup_hook == app._setup_server  # the hook Dash registered (server/direct.py compares)
    assert app.serving_loop is None and not app.setup_done and not app.streams_taken


def test_the_backend_refuses_an_app_that_is_not_a_flash_app():
    with pytest.raises(TypeError, match="serves Flash apps, not Dash"):
        as_host(dash.Dash(__name__))
