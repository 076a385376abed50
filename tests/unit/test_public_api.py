"""Every public name of dash must be importable from flash with the same meaning."""

import importlib

import dash
import pytest

import flash
import flash.testing

# `dash.dash` is the module that defines the Dash class; Flash's counterpart is `flash.app`.
NOT_NAMES = {"dash"}
# Names Flash gives its own object: the app class, the generator-aware callback decorator,
# its own version, and the testing plugin (dash.testing appears once pytest loads it).
REPLACED = {
    "Dash": flash.Flash,
    "callback": flash.callback,
    "__version__": flash.__version__,
    "testing": flash.testing,
}
# Flash's own modules that re-export everything of Dash's module of the same name.
SUPERSET_MODULES = {"dependencies", "exceptions"}
# Dash 4.5's shared-storage backends: Flash's classes of the same name, subclasses of Dash's
# `BaseSharedStorage` (Dash accepts them as its app's storage), built on Flash's transport.
BACKENDS = {"LocalSharedStorage", "DiskcacheSharedStorage", "RedisSharedStorage"}


def dash_public_names():
    # dir() may also hold names pytest's assertion rewriting adds ("@py_builtins"): not Python names.
    names = set(dash.__all__) | {n for n in dir(dash) if not n.startswith("_") and n.isidentifier()}
    return sorted(names - NOT_NAMES)


@pytest.mark.parametrize("name", dash_public_names())
def test_every_public_dash_name_is_in_flash(name):
    assert hasattr(flash, name), f"flash is missing dash.{name}"
    if name in SUPERSET_MODULES:
        dash_module, flash_module = getattr(dash, name), getattr(flash, name)
        public = [n for n in dir(dash_module) if not n.startswith("_")]
        assert [n for n in public if getattr(flash_module, n, None) is not getattr(dash_module, n)] == []
        return
    if name in BACKENDS:
        ours = getattr(flash, name)
        assert issubclass(ours, dash.BaseSharedStorage) and ours.__name__ == name
        public = {n for n in dir(getattr(dash, name)) if not n.startswith("_")}
        assert public - set(dir(ours)) == set(), "Flash's backend lacks some of Dash's API"
        return
    expected = REPLACED.get(name, getattr(dash, name))
    assert getattr(flash, name) is expected


def test_the_list_of_names_is_not_trivially_small():
    assert len(dash_public_names()) >= 35


def test_dash_alias_is_flash_and_subclasses_dash():
    assert flash.Dash is flash.Flash
    assert issubclass(flash.Flash, dash.Dash)


@pytest.mark.parametrize("module", ["flash.html", "flash.dcc", "flash.dash_table"])
def test_component_modules_import_by_path(module):
    mod = importlib.import_module(module)
    assert mod is getattr(dash, module.split(".")[1])


def test_exceptions_and_dependencies_modules():
    from flash.dependencies import ALL, Input  # noqa: F401
    from flash.exceptions import PreventUpdate

    assert PreventUpdate is dash.exceptions.PreventUpdate
    assert Input is dash.Input


# Dash 4.5 names that Dash 4.4 lacks: Flash provides them (flash/storage/).
DASH_45_STORAGE_NAMES = [
    "LocalSharedStorage",
    "DiskcacheSharedStorage",
    "RedisSharedStorage",
    "BaseSharedStorage",
    "SharedStorageError",
    "SharedStorageGap",
    "Subscription",
]


@pytest.mark.parametrize("name", DASH_45_STORAGE_NAMES)
def test_dash_45_shared_storage_names_exported(name):
    import flash.storage

    assert name in flash.__all__
    assert getattr(flash, name) is getattr(flash.storage, name)


def test_streaming_names_exported():
    assert callable(flash.event_callback)
    assert callable(flash.stream_props)


def test_py_typed_ships():
    import pathlib

    assert (pathlib.Path(flash.__file__).parent / "py.typed").exists()
