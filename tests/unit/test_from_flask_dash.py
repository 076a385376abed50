"""Coming from Flask-Dash: WSGI servers refused with the working command, Flask-only code named
with its Quart way, the component registry ready before serving, Dash's websocket only when used,
and the dev server's banner (tests/integration/test_migrating.py runs them on real servers)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import warnings
from typing import Any

import flask
import pytest

from flash import Flash, Input, Output, dcc, html
from flash.server import flask_hints, wsgi_guard
from flash.server.devserver import flash_banner
from flash.server.flask_hints import FlaskHookError, add_flask_hint, check_flask_hooks


def _app(name: str = "migrating") -> Flash:
    app = Flash(name)
    app.layout = html.Div([dcc.Input(id="inp", value="a"), html.Div(id="out")])
    return app


def _page_config(app: Flash) -> dict[str, Any]:
    async def go() -> str:
        async with app.server.test_app() as test_app:
            response = await test_app.test_client().get("/")
            return await response.get_data(as_text=True)

    page = asyncio.run(go())
    match = re.search(r'id="_dash-config" type="application/json">(.*?)</script>', page, re.S)
    assert match, page[:500]
    return json.loads(match.group(1))


# --- gunicorn ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, expected",
    [
        (["/venv/bin/gunicorn", "app:server"], "gunicorn -k asgi app:server"),
        (["/venv/bin/gunicorn", "-w", "4", "-k", "gthread", "app:server"], "gunicorn -k asgi -w 4 app:server"),
        (
            ["/venv/bin/gunicorn", "--worker-class=sync", "-b", "0.0.0.0:80", "app:server"],
            "gunicorn -k asgi -b 0.0.0.0:80 app:server",
        ),
        (["/venv/bin/gunicorn", "-ksync", "app:server"], "gunicorn -k asgi app:server"),
        (["/usr/lib/python3/site-packages/gunicorn/__main__.py", "app:server"], "python -m gunicorn -k asgi app:server"),
    ],
)
def test_the_suggested_command_is_the_users_with_an_asgi_worker(argv: list[str], expected: str) -> None:
    assert wsgi_guard.asgi_command(argv, "asgi") == expected


def test_gunicorns_wsgi_workers_are_told_from_asgi_ones() -> None:
    from gunicorn.workers.gthread import ThreadWorker
    from gunicorn.workers.sync import SyncWorker

    class MySync(SyncWorker):  # a subclass of a WSGI worker serves WSGI too
        pass

    assert wsgi_guard._is_wsgi_worker(SyncWorker) and wsgi_guard._is_wsgi_worker(ThreadWorker)
    assert wsgi_guard._is_wsgi_worker(MySync)
    from gunicorn.workers.gasgi import ASGIWorker

    assert not wsgi_guard._is_wsgi_worker(ASGIWorker)
    with warnings.catch_warnings():  # uvicorn.workers is deprecated (moved to uvicorn-worker)
        warnings.simplefilter("ignore", DeprecationWarning)
        from uvicorn.workers import UvicornWorker
    assert not wsgi_guard._is_wsgi_worker(UvicornWorker)


def test_outside_gunicorn_nothing_is_checked() -> None:
    wsgi_guard.check_wsgi_server()  # no gunicorn frame on the stack: nothing to say


def _checked_as_gunicorn_loads(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    """check_wsgi_server() as gunicorn's arbiter calls it: from a method of gunicorn's own
    application object, whose config was parsed from this command line."""
    from gunicorn.app.wsgiapp import WSGIApplication

    monkeypatch.setattr(sys, "argv", argv)
    application = WSGIApplication()

    def wsgi(self: WSGIApplication) -> None:  # `self` in the frame, as in Application.wsgi
        wsgi_guard.check_wsgi_server()

    wsgi(application)


def test_gunicorns_asgi_worker_before_26_gets_a_warning_naming_what_works(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["/venv/bin/gunicorn", "-k", "asgi", "-w", "2", "app:server"]
    with caplog.at_level("WARNING", logger="flash.server"):
        _checked_as_gunicorn_loads(monkeypatch, argv)
    assert not caplog.records, "gunicorn 26+ (installed): nothing to say"
    monkeypatch.setattr(wsgi_guard, "_gunicorn_version", lambda: (25, 1, 0))
    with caplog.at_level("WARNING", logger="flash.server"):
        _checked_as_gunicorn_loads(monkeypatch, argv)
    (record,) = caplog.records
    assert record.levelname == "WARNING" and "gunicorn 25.1.0" in record.getMessage()
    assert "gunicorn -k uvicorn_worker.UvicornWorker -w 2 app:server" in record.getMessage()
    assert "gunicorn>=26" in record.getMessage()


def test_the_wsgi_advice_names_gunicorns_asgi_worker_only_from_26(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["/venv/bin/gunicorn", "app:server"]
    assert "gunicorn -k asgi app:server" in wsgi_guard.wsgi_message("sync", argv)
    monkeypatch.setattr(wsgi_guard, "_gunicorn_version", lambda: (25, 1, 0))
    message = wsgi_guard.wsgi_message("sync", argv)
    assert "gunicorn -k uvicorn_worker.UvicornWorker app:server (pip install uvicorn-worker)" in message


# --- Flask-only code ---------------------------------------------------------------------------
def test_flasks_missing_context_error_gets_the_quart_way_once() -> None:
    try:
        flask.request.headers  # noqa: B018  (no Flask request here, as in a Flash callback)
    except RuntimeError as err:
        add_flask_hint(err)
        add_flask_hint(err)
        notes = getattr(err, "__notes__", [])
        assert notes == [flask_hints.QUART_WAY]
        assert "from quart import request" in notes[0] and "flash.ctx" in notes[0]
    else:  # pragma: no cover
        pytest.fail("flask.request worked outside a Flask request")


def test_other_errors_get_no_note() -> None:
    err = RuntimeError("Not within a request context")  # Quart's own, with its own message
    add_flask_hint(err)
    assert not getattr(err, "__notes__", None)


def test_a_flask_request_in_a_callback_answers_500_and_logs_the_quart_way(caplog: pytest.LogCaptureFixture) -> None:
    app = _app("flask_in_callback")

    @app.callback(Output("out", "children"), Input("inp", "value"))
    def uses_flask(value: str) -> str:
        return flask.request.headers.get("User-Agent", value)

    body = {
        "output": "out.children",
        "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "inp", "property": "value", "value": "a"}],
        "changedPropIds": ["inp.value"],
    }

    async def go() -> tuple[int, str]:
        async with app.server.test_app() as test_app:
            response = await test_app.test_client().post("/_dash-update-component", json=body)
            return response.status_code, await response.get_data(as_text=True)

    with caplog.at_level(logging.ERROR):
        status, text = asyncio.run(go())
    assert status == 500, text
    assert "quart" not in text  # the client sees no detail...
    logged = "\n".join(caplog.text.splitlines())
    assert "Working outside of request context" in logged and "from quart import request" in logged  # ...the log does


def test_dash_auth_on_a_flash_app_fails_at_startup_naming_flash_auth() -> None:
    import dash_auth  # the test extra has it

    app = _app("with_dash_auth")
    dash_auth.BasicAuth(app, {"user": "pw"})
    with pytest.raises(FlaskHookError, match=r"flash\.auth import BasicAuth"):
        check_flask_hooks(app.server)

    async def start() -> None:
        async with app.server.test_app():
            pass

    from quart.testing.app import LifespanError

    with pytest.raises(LifespanError, match=r"flash\.auth import BasicAuth"):  # the server does not start
        asyncio.run(start())


def test_flask_extension_hooks_are_refused_with_the_quart_way() -> None:
    app = _app("with_flask_ext")

    def after(response: Any) -> Any:
        return response

    after.__module__ = "flask_cors.extension"  # what flask-cors' CORS(app.server) registers
    app.server.after_request(after)
    with pytest.raises(FlaskHookError, match=r"flask_cors .*quart-cors"):
        check_flask_hooks(app.server)


# --- first requests of a worker, websocket config, banner ------------------------------------------
def test_the_component_registry_is_ready_before_the_first_request() -> None:
    app = _app("registry_ready")
    assert not app.registered_paths

    async def start() -> set[str]:
        async with app.server.test_app():
            return set(app.registered_paths)

    packages = asyncio.run(start())
    assert "dash" in packages, packages
    assert any(path.startswith("dash-renderer/") for path in app.registered_paths["dash"])


def test_pages_without_websocket_callbacks_name_no_websocket() -> None:
    assert "websocket" not in _page_config(_app("no_ws"))


def test_a_websocket_callback_keeps_dashs_websocket_config() -> None:
    app = _app("ws_callback")

    @app.callback(Output("out", "children"), Input("inp", "value"), websocket=True)
    def echo(value: str) -> str:
        return value

    config = _page_config(app)["websocket"]
    assert config["url"].endswith("_dash-ws-callback") and config["worker_url"]
    app_wide = Flash("ws_everywhere", websocket_callbacks=True)
    app_wide.layout = html.Div()
    assert _page_config(app_wide)["websocket"]["enabled"] is True


def test_dash_run_banner_says_flash(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("banner_test")
    flash_banner(logger)
    flash_banner(logger)  # once
    with caplog.at_level(logging.INFO, logger="banner_test"):
        logger.info("Dash is running on %s://%s%s%s\n", "http", "127.0.0.1", ":8050", "/")
        logger.info("Dash says something else")
    assert [r.getMessage() for r in caplog.records] == [
        "Flash is running on http://127.0.0.1:8050/\n",
        "Dash says something else",
    ]
    assert _app("banner_app").logger.filters  # every Flash app's logger has it


def test_the_version_sorts_after_the_registrys_unrelated_dash_flash() -> None:
    import tomllib
    from pathlib import Path

    from packaging.version import Version

    import flash

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == flash.__version__
    assert Version(flash.__version__) > Version("1.4.0")  # the registry's dash-flash, an older project


def test_a_real_flask_app_in_the_same_process_is_untouched() -> None:
    _app("beside_flask")  # a Flash app exists in this process
    flask_app = flask.Flask("plain_flask")

    @flask_app.route("/ua")
    def ua() -> str:
        return flask.request.headers.get("User-Agent", "none")

    response = flask_app.test_client().get("/ua", headers={"User-Agent": "real-flask"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "real-flask"
    check_flask_hooks(flask_app)  # no hooks; and Flash's check is only ever run on Flash's servers
