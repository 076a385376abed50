"""The direct path's off switch (`Flash(direct_path=False)`, env FLASH_DIRECT_PATH) and a canary
for what it models of Quart's request cycle: when Quart gains a per-request hook registry or
signal that `DirectPath.applies` does not look at, a test here fails, naming it."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from quart import Quart, signals

from flash import Flash
from flash.server import direct
from flash.server.direct import direct_path_option
from tests.conftest import run
from tests.unit.test_direct_path import make_app, twice


@pytest.mark.parametrize(
    "option, env, expected",
    [
        (None, None, True),
        (None, "0", False),
        (None, "off", False),
        (None, "1", True),
        (False, None, False),
        (True, "0", True),
        (False, "1", False),
    ],
)
def test_the_option_then_the_environment_then_on(monkeypatch, option, env, expected):
    if env is None:
        monkeypatch.delenv("FLASH_DIRECT_PATH", raising=False)
    else:
        monkeypatch.setenv("FLASH_DIRECT_PATH", env)
    assert direct_path_option(option) is expected


def test_a_bad_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FLASH_DIRECT_PATH", "maybe")
    with pytest.raises(ValueError, match="FLASH_DIRECT_PATH takes"):
        direct_path_option(None)
    with pytest.raises(TypeError, match="direct_path takes True, False or None"):
        Flash(__name__, direct_path="no")


@pytest.mark.parametrize("switch", ["argument", "environment"])
def test_off_every_callback_takes_quarts_cycle_and_answers_the_same(monkeypatch, switch):
    monkeypatch.delenv("FLASH_DIRECT_PATH", raising=False)
    if switch == "environment":
        monkeypatch.setenv("FLASH_DIRECT_PATH", "0")
        app, seen = make_app()
    else:
        app, seen = make_app(direct_path=False)
    response, data = run(twice(app))
    assert seen == ["RequestContext", "RequestContext"], "Quart built both requests"
    assert response.status_code == 200 and data["response"] == {"out": {"children": "clicked 1"}}


def test_on_the_second_callback_takes_the_direct_path(monkeypatch):
    monkeypatch.delenv("FLASH_DIRECT_PATH", raising=False)
    app, seen = make_app()
    run(twice(app))
    assert seen == ["RequestContext", "DeferredRequestContext"]


# What `DirectPath.applies` checks, by the name Quart gives it. A new hook registry on Quart's
# app, or a new signal, is something a user could register that the direct path would skip.
MODELLED_REGISTRIES = {
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "url_value_preprocessors",
    "teardown_appcontext_funcs",
}
NOT_PER_REQUEST = {  # registries Quart consults outside a plain POST's cycle (or that Flash's routes never reach)
    "before_serving_funcs",
    "after_serving_funcs",
    "while_serving_gens",
    "before_websocket_funcs",
    "after_websocket_funcs",
    "teardown_websocket_funcs",
    "template_context_processors",
    "url_default_functions",
    "error_handler_spec",
    "url_build_error_handlers",
    "shell_context_processors",
    "before_first_request_funcs",
    "cli",
    "blueprints",
    "extensions",
    "view_functions",
}
MODELLED_SIGNALS = {
    "request_started",
    "request_finished",
    "request_tearing_down",
    "got_request_exception",
    "appcontext_pushed",
    "appcontext_popped",
    "appcontext_tearing_down",
}
OTHER_SIGNALS = {  # signals of serving, websockets, templates and messages: not a POST's cycle
    "serving_started",
    "serving_finished",
    "websocket_started",
    "websocket_finished",
    "websocket_tearing_down",
    "got_websocket_exception",
    "got_background_exception",
    "got_serving_exception",
    "before_render_template",
    "template_rendered",
    "message_flashed",
    "websocket_received",
    "websocket_sent",
}


def test_quarts_request_cycle_has_nothing_the_direct_path_does_not_model():
    app = Quart(__name__)
    registries = {
        name
        for name, value in vars(app).items()
        if name.endswith(("_funcs", "_functions", "_processors", "_preprocessors", "_gens", "_spec", "_handlers"))
        and isinstance(value, (dict, list))
    }
    assert MODELLED_REGISTRIES <= registries, "the scan sees what applies() checks"
    unknown = registries - MODELLED_REGISTRIES - NOT_PER_REQUEST
    assert not unknown, (
        f"Quart {version('quart')} has hook registries the direct path does not "
        f"check: {sorted(unknown)} (server/direct.py applies())"
    )
    found = {
        name
        for name in dir(signals)
        if not name.startswith("_") and type(getattr(signals, name)).__name__ in ("NamedSignal", "Signal")
    }
    assert MODELLED_SIGNALS <= found, "the scan sees what applies() checks"
    unknown_signals = found - MODELLED_SIGNALS - OTHER_SIGNALS
    assert not unknown_signals, f"new Quart signals the direct path does not check: {sorted(unknown_signals)}"
    modelled = {signal.name.replace("-", "_") for signal in direct._REQUEST_SIGNALS}
    assert modelled == MODELLED_SIGNALS
