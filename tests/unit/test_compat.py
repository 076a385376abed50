"""The private Dash, Quart and Hypercorn names Flash needs still exist (flash/compat/), and nothing
outside flash/compat/ imports a private Dash or Quart name, reaches a private attribute of another
library, or patches another library's classes or modules. An upgrade that removes or renames one
fails here, naming the entry and what Flash uses it for."""

import ast
import asyncio
import importlib
import importlib.metadata
import multiprocessing
import pathlib
import re

import dash
import pytest
from quart import Quart

from flash import Flash, html, page_container
from flash.compat import dash as dash_compat
from flash.compat import hypercorn as hypercorn_compat
from flash.compat import quart as quart_compat
from flash.compat import redis as redis_compat

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
            if any(p.startswith("_") for p in parts) or module in INTERNAL_MODULES or any(n.startswith("_") for n in names):
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
        "dash.resources:Resources": plain.scripts._resources,
        "dash._hooks:_Hooks": plain._hooks.hooks,
        "quart.ctx:RequestContext": request_ctx,
        "quart.ctx:AppContext": app_ctx,
        "multiprocessing.process:BaseProcess": multiprocessing.get_context("spawn").Process(target=print, kwargs={}),
        "redis.asyncio.connection:Connection": _redis_connection(),
    }


def _redis_connection():
    from redis.asyncio.connection import Connection

    return Connection()  # not connected: the attributes exist from the constructor on


@pytest.mark.parametrize(
    "library,spec",
    [("dash", s) for s in dash_compat.NEEDED]
    + [("quart", s) for s in quart_compat.NEEDED]
    + [("hypercorn", s) for s in hypercorn_compat.NEEDED]
    + [("redis", s) for s in redis_compat.NEEDED],
    ids=lambda v: v if isinstance(v, str) else f"{v.owner}.{v.name}",
)
def test_every_private_name_flash_needs_exists(library, spec):
    owner = _owner(spec)
    target = _instances()[spec.owner] if spec.instance else owner
    version = importlib.metadata.version(library)
    where = spec.owner.replace(":", ".")
    assert hasattr(target, spec.name), (
        f"Flash needs {where}.{spec.name} (used for: {spec.why}); {library} {version} removed or renamed "
        f"it: update flash/compat/{library}.py (and the code it names), then the pin in pyproject.toml."
    )


def test_the_registries_list_every_private_name_the_compat_modules_import():
    """A private module's names, or private names of any module: each needs its NEEDED entry."""
    dash_files = sorted(pathlib.Path(dash_compat.__file__).parent.glob("dash*.py"))  # dash.py, dash_45.py
    for module, library, files in (
        (dash_compat, "dash", dash_files),
        (quart_compat, "quart", [pathlib.Path(quart_compat.__file__)]),
    ):
        nodes = [node for path in files for node in ast.walk(ast.parse(path.read_text()))]
        imported = set()
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == library:
                private_module = any(part.startswith("_") for part in node.module.split("."))
                imported |= {(node.module, a.name) for a in node.names if private_module or a.name.startswith("_")}
        listed = {(spec.owner, spec.name) for spec in module.NEEDED}
        missing = imported - listed
        assert imported and not missing, f"flash/compat/{library}.py imports {sorted(missing)} without a NEEDED entry"


def test_quarts_context_constructors_set_only_what_the_deferred_contexts_provide():
    """The direct path's placeholders skip Quart's constructors: they must set the same attributes."""
    instances = _instances()
    for key, covered in (
        ("quart.ctx:RequestContext", quart_compat.REQUEST_CONTEXT_ATTRS),
        ("quart.ctx:AppContext", quart_compat.APP_CONTEXT_ATTRS),
    ):
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
    assert not offenders, "Private Dash/Quart names must be imported through flash/compat/ (with why, in NEEDED):\n" + "\n".join(
        offenders
    )


def test_the_private_import_check_catches_each_form():
    for line in (
        "from dash._utils import to_json",
        "from dash.backends._quart import X",
        "from dash import _pages, html",
        "from quart.globals import _cv_request",
        "from quart.ctx import RequestContext",
        "import dash._callback",
    ):
        assert private_imports(line), line
    for line in (
        "from dash import html",
        "from dash.dependencies import Input",
        "from quart import Quart",
        "import dash",
        "from .compat.dash import to_json",
    ):
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
    for context, names in (
        (DeferredRequestContext(server, scope, b""), quart_compat.REQUEST_CONTEXT_ATTRS),
        (DeferredAppContext(server), quart_compat.APP_CONTEXT_ATTRS),
    ):
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
            offenders += [
                f"{path.relative_to(ROOT)}:{number} .{name}" for name in ACCESSOR_ONLY if re.search(rf"\.{name}\b", line)
            ]
    assert not offenders, (
        "Read Dash's internal app state through flash/compat/dash.py's accessors "
        "(extra_components, callback_args, layout_hooks, ...):\n" + "\n".join(offenders)
    )


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
            "flash/compat/dash_45.py (stream_on_error) and flash/streaming/declare/adopt.py."
        )
    finally:
        _callback.GLOBAL_CALLBACK_MAP.pop("compat-out.children", None)
        _callback.GLOBAL_CALLBACK_LIST[:] = [
            c for c in _callback.GLOBAL_CALLBACK_LIST if c.get("output") != "compat-out.children"
        ]


# --- Hypercorn's worker layout and Dash's callback-context class ------------------------------------
def test_hypercorns_worker_processes_carry_the_shutdown_event_flash_polls():
    """Hypercorn's own `_populate` (what `hypercorn --workers N` runs) starts each worker; the
    process it makes must hand Flash the very event Hypercorn sets to stop that worker."""
    from hypercorn import run as hypercorn_run  # this test's own check: the function Hypercorn runs
    from hypercorn.config import Config

    made = []

    class Recording:
        """A spawn context whose processes are built for real but never started."""

        def Process(self, **kwargs):  # noqa: N802  # multiprocessing's context API
            process = multiprocessing.get_context("spawn").Process(**kwargs)
            process.start = lambda: None
            made.append(process)
            return process

    config, event = Config(), multiprocessing.get_context("spawn").Event()
    config.workers = 2
    hypercorn_run._populate([], config, print, None, event, Recording())
    version = importlib.metadata.version("hypercorn")
    assert len(made) == 2, f"Hypercorn {version} no longer starts workers as multiprocessing processes"
    assert all(hypercorn_compat.shutdown_event_of(p) is event for p in made), (
        f"Hypercorn {version} passes its workers their stop event some other way: update "
        "flash/compat/hypercorn.py (Flash's streams would only end at the lifespan shutdown)."
    )
    assert hypercorn_compat.worker_shutdown_event() is None  # not a Hypercorn worker: nothing to poll


def test_dash_ctx_is_an_instance_of_the_class_flash_extends():
    assert type(dash.callback_context) is dash_compat.DashCallbackContext, (
        "dash.ctx is no longer an instance of dash._callback_context.CallbackContext: ctx.shared_storage "
        "would be added to the wrong class (flash/compat/dash.py add_context_property)."
    )
    Flash(__name__)  # installs ctx.shared_storage where Dash has none
    assert hasattr(type(dash.callback_context), "shared_storage")


# --- attribute-level private names and patches of other libraries ------------------------------------
def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_name_argument(node):
    """ "_x" in getattr/setattr/hasattr/delattr(obj, "_x") or object.__setattr__(obj, "_x", v)."""
    func = node.func
    named = (isinstance(func, ast.Name) and func.id in ("getattr", "setattr", "hasattr", "delattr")) or (
        isinstance(func, ast.Attribute) and func.attr in ("__setattr__", "__getattribute__", "__delattr__")
    )
    if named and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        value = node.args[1].value
        return value if isinstance(value, str) and _is_private(value) else None
    return None


def defined_private_names(sources):
    """Private names Flash's own code defines: functions, classes, variables, arguments, attributes
    it sets on `self`/`cls` (or by name through setattr), `__slots__` entries, and `_flash*` tags
    it puts on other objects."""
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and ((isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")) or node.attr.startswith("_flash"))
            ):
                names.add(node.attr)
            elif (
                isinstance(node, ast.Call)
                and _private_name_argument(node)
                and (isinstance(node.func, ast.Attribute) or node.func.id == "setattr")
            ):
                names.add(_private_name_argument(node))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_flash"):
                names.add(node.value)
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__slots__" for t in node.targets):
                names |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return {name for name in names if _is_private(name)}


def foreign_private_attributes(source, defined):
    """`obj._name` reads/writes (also via getattr & co. or vars(obj)["_name"]) of a private name
    that Flash does not define itself: another library's internals, e.g. werkzeug's `Map._rules`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            name, where = node.attr, ast.unparse(node.value)
        elif isinstance(node, ast.Call):
            name, where = _private_name_argument(node), ast.unparse(node.args[0]) if node.args else ""
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
            and _is_private(node.slice.value)
            and (ast.unparse(node.value).endswith("__dict__") or ast.unparse(node.value).startswith("vars("))
        ):
            name, where = node.slice.value, ast.unparse(node.value)
        if name and name not in defined:
            found.append(f"line {node.lineno}: {where}.{name}")
    return found


def foreign_patches(source):
    """Attributes set (or deleted) on another library's module or class: on a name imported from
    outside flash, on `type(...)`, or on a variable holding `type(...)` (e.g. `type(dash.ctx)`)."""
    tree = ast.parse(source)
    foreign, classes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            foreign |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] != "flash"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] != "flash":
            foreign |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "type":
            classes |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node.value
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("setattr", "delattr") and node.args:
            target = node.args[0]
        else:
            continue
        root = target
        while isinstance(root, ast.Attribute):
            root = root.value
        if (isinstance(root, ast.Name) and root.id in foreign | classes) or (
            isinstance(root, ast.Call) and getattr(root.func, "id", "") == "type"
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def _flash_sources():
    """(path, source) of every module of the package, and whether it is in flash/compat/."""
    for path in sorted((ROOT / "flash").rglob("*.py")):
        yield path, path.read_text(), "compat" in path.relative_to(ROOT / "flash").parts


def test_no_module_outside_compat_reaches_a_private_attribute_of_another_library():
    sources = list(_flash_sources())
    defined = defined_private_names(source for _, source, _ in sources)
    offenders = [
        f"{path.relative_to(ROOT)} {hit}"
        for path, source, compat in sources
        if not compat
        for hit in foreign_private_attributes(source, defined)
    ]
    assert not offenders, (
        "Private attributes of other libraries (werkzeug, Hypercorn, Dash, the standard library...) "
        "are reached from flash/compat/<library>.py only, with why and a NEEDED entry, or replaced "
        "by a public API:\n" + "\n".join(offenders)
    )


def test_no_module_outside_compat_patches_another_librarys_classes_or_modules():
    offenders = [
        f"{path.relative_to(ROOT)} {hit}"
        for path, source, compat in _flash_sources()
        if not compat
        for hit in foreign_patches(source)
    ]
    assert not offenders, (
        "Setting attributes on another library's classes or modules happens in "
        "flash/compat/ only (e.g. dash.add_context_property):\n" + "\n".join(offenders)
    )


def test_the_attribute_checks_catch_each_form():
    defined = defined_private_names(
        [
            "class A:\n    __slots__ = ('_slot',)\n    def _own(self):\n"
            "        self._mine = 1\n        setattr(self, '_named', 2)\n"
            "        server._flash_startup = self\n        other._private = 3\n"
        ]
    )
    assert defined == {"_slot", "_own", "_mine", "_named", "_flash_startup"}  # not other._private
    for line in (
        "public.map._rules",
        "getattr(multiprocessing.current_process(), '_kwargs', None)",
        "sys._getframe(1)",
        "hasattr(app, '_background_manager')",
        "vars(proc)['_kwargs']",
        "proc.__dict__['_kwargs']",
        "object.__getattribute__(obj, '_secret')",
        "other._private",
    ):
        assert foreign_private_attributes(line, defined), line
    for line in (
        "self._mine",
        "x._own()",
        "obj._slot",
        "getattr(obj, '_named')",
        "server._flash_startup",
        "obj.__class__",
        "obj.public",
    ):
        assert not foreign_private_attributes(line, defined), line
    for source in (
        "import dash\ncls = type(dash.callback_context)\ncls.shared_storage = property(len)",
        "import dash\ntype(dash.ctx).x = 1",
        "import dash\ndash.ctx = None",
        "from quart import Quart\nQuart.extra = 1",
        "from werkzeug import routing\nsetattr(routing, 'x', 1)",
        "import dash\ndel dash.callback_context.x",
    ):
        assert foreign_patches(source), source
    for source in (
        "self.x = 1",
        "from .compat.dash import x\nx.y = 1",
        "obj = make()\nobj.y = 1",
        "import dash\napp = dash.Dash()\napp.title = 't'",
    ):
        assert not foreign_patches(source), source


def test_the_redis_send_takes_the_public_path_when_the_private_writer_is_gone():
    """redis-py has no upper pin: a release without `_writer` must cost speed, not correctness."""
    sent = []

    class Renamed:  # a connection of a redis-py that renamed `_writer`
        async def send_packed_command(self, packed, check_health=True):
            sent.append((packed, check_health))

    asyncio.run(redis_compat.send_packed(Renamed(), [b"*1\r\n$4\r\nPING\r\n"]))
    assert sent == [([b"*1\r\n$4\r\nPING\r\n"], False)]
