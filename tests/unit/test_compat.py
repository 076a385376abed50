"""The private Dash and Quart names Flash needs still exist (flash/compat/), and nothing outside
flash/compat/ imports a private Dash or Quart name. A Dash or Quart upgrade that removes or
renames one fails here, naming the entry and what Flash uses it for."""
import ast
import asyncio
import importlib
import pathlib
import re

import dash
import pytest
from quart import Quart

from flash import Flash, html, page_container
from flash.compat import dash as dash_compat
from flash.compat import quart as quart_compat

ROOT = pathlib.Path(__file__).resolve().parents[2]
INTERNAL_MODULES = {"quart.ctx"}  # public module names whose classes Flash uses through internals


def private_imports(source):
    """The imports in `source` of private Dash/Quart modules or names (each as written)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules, names = [node.module], [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [a.name for a in node.names], []
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] not in ("dash", "quart"):
                continue
            if (any(p.startswith("_") for p in parts) or module in INTERNAL_MODULES
                    or any(n.startswith("_") for n in names)):
                found.append(f"line {node.lineno}: {module} {', '.join(names)}".strip())
    return found


def _owner(spec):
    module, _, cls = spec.owner.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as err:
        pytest.fail(f"Flash needs the module {module} ({spec.why}); it is gone: {err}")
    return getattr(obj, cls) if cls else obj


def _instances():
    """A real instance of each class whose instance attributes Flash needs."""
    plain = dash.Dash(__name__, backend="quart")
    server = Quart(__name__)

    async def contexts():
        async with server.test_request_context("/"):
            from quart.globals import _cv_request  # this test's own check, not Flash code

            return _cv_request.get(), server.app_context()

    request_ctx, app_ctx = asyncio.run(contexts())
    return {
        "dash.dash:Dash": plain,
        "dash.backends._quart:QuartDashServer": plain.backend,
        "quart.ctx:RequestContext": request_ctx,
        "quart.ctx:AppContext": app_ctx,
    }


@pytest.mark.parametrize("library,spec", [("dash", s) for s in dash_compat.NEEDED] +
                         [("quart", s) for s in quart_compat.NEEDED],
                         ids=lambda v: v if isinstance(v, str) else f"{v.owner}.{v.name}")
def test_every_private_name_flash_needs_exists(library, spec):
    owner = _owner(spec)
    target = _instances()[spec.owner] if spec.instance else owner
    version = getattr(importlib.import_module(library), "__version__", "?")
    where = spec.owner.replace(":", ".")
    assert hasattr(target, spec.name), (
        f"Flash needs {where}.{spec.name} (used for: {spec.why}); {library} {version} removed or renamed "
        f"it: update flash/compat/{library}.py (and the code it names), then the pin in pyproject.toml."
    )


def test_the_registries_list_every_private_name_the_compat_modules_import():
    """A private module's names, or private names of any module: each needs its NEEDED entry."""
    for module, library in ((dash_compat, "dash"), (quart_compat, "quart")):
        tree = ast.parse(pathlib.Path(module.__file__).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == library:
                private_module = any(part.startswith("_") for part in node.module.split("."))
                imported |= {(node.module, a.name) for a in node.names if private_module or a.name.startswith("_")}
        listed = {(spec.owner, spec.name) for spec in module.NEEDED}
        missing = imported - listed
        assert imported and not missing, f"flash/compat/{library}.py imports {sorted(missing)} without a NEEDED entry"


def test_quarts_context_constructors_set_only_what_the_deferred_contexts_provide():
    """The direct path's placeholders skip Quart's constructors: they must set the same attributes."""
    instances = _instances()
    for key, covered in (("quart.ctx:RequestContext", quart_compat.REQUEST_CONTEXT_ATTRS),
                         ("quart.ctx:AppContext", quart_compat.APP_CONTEXT_ATTRS)):
        new = set(vars(instances[key])) - covered
        assert not new, (
            f"Quart's {key.split(':')[1]}.__init__ now sets {sorted(new)}, which Flash's deferred "
            "contexts (flash/server/deferred.py) do not: add them there and to flash/compat/quart.py."
        )


def test_no_module_outside_compat_imports_a_private_dash_or_quart_name():
    offenders = []
    for path in sorted((ROOT / "flash").rglob("*.py")):
        if "compat" in path.relative_to(ROOT / "flash").parts:
            continue
        offenders += [f"{path.relative_to(ROOT)} {hit}" for hit in private_imports(path.read_text())]
    assert not offenders, (
        "Private Dash/Quart names must be imported through flash/compat/ (with why, in NEEDED):\n"
        + "\n".join(offenders)
    )


def test_the_private_import_check_catches_each_form():
    for line in ("from dash._utils import to_json", "from dash.backends._quart import X",
                 "from dash import _pages, html", "from quart.globals import _cv_request",
                 "from quart.ctx import RequestContext", "import dash._callback"):
        assert private_imports(line), line
    for line in ("from dash import html", "from dash.dependencies import Input", "from quart import Quart",
                 "import dash", "from .compat.dash import to_json"):
        assert not private_imports(line), line


def test_dash_hands_its_pages_router_to_the_backend_and_flash_keeps_it_out_of_quarts_hooks():
    """Flash relies on Dash's enable_pages registering its router through `backend.before_request`
    (set aside by FlashServer): if Dash registers it some other way, it would run beside Flash's."""
    app = Flash(__name__, use_pages=True, pages_folder="")
    dash.register_page("home", path="/", layout=html.Div("home"))
    app.layout = html.Div([page_container])
    hooks = app.server.before_request_funcs.get(None, [])
    assert hooks == [app._setup_server], (
        f"Quart hooks after Flash(use_pages=True): {hooks}; Dash's enable_pages no longer registers "
        "its router through backend.before_request: see Flash.enable_pages and flash/pages.py."
    )
    with app.backend.set_aside() as set_aside:
        dash.Dash.enable_pages(app)
    assert len(set_aside) == 1 and callable(set_aside[0]), set_aside


def test_the_deferred_contexts_provide_every_attribute_quarts_constructors_set():
    from flash.server.deferred import DeferredAppContext, DeferredRequestContext

    server = Quart(__name__)
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    for context, names in ((DeferredRequestContext(server, scope, b""), quart_compat.REQUEST_CONTEXT_ATTRS),
                           (DeferredAppContext(server), quart_compat.APP_CONTEXT_ATTRS)):
        cls = type(context)
        absent = [n for n in names if n not in vars(context) and not isinstance(getattr(cls, n, None), property)]
        assert not absent, f"{cls.__name__} does not set {absent} (flash/server/deferred.py)"


# Dash-internal state that flash/compat/dash.py reads for everyone (named accessors there).
ACCESSOR_ONLY = ("_extra_components", "_inputs_to_vals", "_hooks", "_dev_tools", "_got_first_request")


def test_dash_internal_state_is_read_through_the_compat_accessors_only():
    offenders = []
    for path in sorted((ROOT / "flash").rglob("*.py")):
        if "compat" in path.relative_to(ROOT / "flash").parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            offenders += [f"{path.relative_to(ROOT)}:{number} .{name}" for name in ACCESSOR_ONLY
                          if re.search(rf"\.{name}\b", line)]
    assert not offenders, ("Read Dash's internal app state through flash/compat/dash.py's accessors "
                           "(extra_components, callback_args, layout_hooks, ...):\n" + "\n".join(offenders))


@pytest.mark.skipif(not hasattr(dash, "BaseSharedStorage"), reason="needs Dash 4.5 (streaming callbacks)")
def test_dash_keeps_a_streaming_callbacks_on_error_where_flash_reads_it():
    """`compat.dash.stream_on_error` reads the `on_error=` of a `dash.callback` stream from the
    closure of Dash's wrapper (Flash takes such streams over, with their on_error)."""
    from dash import _callback  # this test's own look at Dash's registry

    def handler(exc):
        return "failed"

    @dash.callback(dash.Output("compat-out", "children"), dash.Input("compat-in", "n_clicks"), on_error=handler)
    async def streams(n):
        yield "x"

    try:
        wrapper = _callback.GLOBAL_CALLBACK_MAP["compat-out.children"]["callback"]
        assert dash_compat.stream_on_error(wrapper) is handler, (
            "Dash no longer keeps a streaming callback's on_error in its wrapper's closure: update "
            "flash/compat/dash.py (stream_on_error) and flash/streaming/adopt.py."
        )
    finally:
        _callback.GLOBAL_CALLBACK_MAP.pop("compat-out.children", None)
        _callback.GLOBAL_CALLBACK_LIST[:] = [c for c in _callback.GLOBAL_CALLBACK_LIST
                                             if c.get("output") != "compat-out.children"]
