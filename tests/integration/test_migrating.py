"""Coming from Flask-Dash, on real servers: `gunicorn app:server`, dash-auth / flash.auth,
Flask code in callbacks, the dev server's banner and taken port, a worker's first concurrent
requests, and Dash's websocket only on pages that use it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import httpx
import pytest

from flash import Flash, Input, Output, dcc, html
from flash.testing import FlashComposite, wait_for
from tests.integration.conftest import AppProcess

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CALLBACK = json.dumps(
    {
        "output": "out.children",
        "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "inp", "property": "value", "value": "hi"}],
        "changedPropIds": ["inp.value"],
    }
).encode()

APP = """
from flash import Flash, Input, Output, callback, dcc, html

app = Flash(__name__)
app.layout = html.Div([dcc.Input(id="inp", value="hi"), html.Div(id="out")])


@callback(Output("out", "children"), Input("inp", "value"))
async def echo(value):
    return f"echo {value}"


server = app.server
"""


def _write(tmp_path: Path, source: str, name: str = "app") -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))


def _serves(server: AppProcess) -> None:
    server.wait_until("/", lambda status, body: status == 200 and "react-entry-point" in body)
    status, body = server.post_json("/_dash-update-component", CALLBACK)
    assert status == 200 and json.loads(body)["response"] == {"out": {"children": "echo hi"}}, body


def _exits(server: AppProcess, timeout: float = 90) -> int:
    try:
        return server.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running:\n{server.output()[-3000:]}") from None


# --- gunicorn --------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--preload", "-k", "gthread", "--workers", "2"]], ids=["sync", "gthread-preload"])
def test_gunicorn_with_a_wsgi_worker_fails_at_startup_with_the_command_that_works(
    app_process: Callable[..., AppProcess], tmp_path: Path, extra: list[str]
) -> None:
    _write(tmp_path, APP)
    server = app_process([GUNICORN, "-b", "127.0.0.1:{port}", *extra, "app:server"])
    assert _exits(server) != 0
    output = server.output()
    rest = " ".join(arg for arg in extra if arg not in ("-k", "gthread"))
    command = " ".join(part for part in ("gunicorn -k asgi -b", f"127.0.0.1:{server.port}", rest, "app:server") if part)
    assert command in output, output[-3000:]
    assert "Quart.__call__" not in output

    # The command it names works.
    _serves(app_process([GUNICORN, *command.split()[1:]], port=server.port))


@pytest.mark.parametrize("worker", ["asgi", "uvicorn.workers.UvicornWorker"])
def test_gunicorn_with_an_asgi_worker_serves(app_process: Callable[..., AppProcess], tmp_path: Path, worker: str) -> None:
    if worker.startswith("uvicorn."):  # deprecated in uvicorn (now the uvicorn-worker package), still shipped
        import uvicorn.workers  # noqa: F401
    _write(tmp_path, APP)
    _serves(app_process([GUNICORN, "-k", worker, "-b", "127.0.0.1:{port}", "app:server"]))


# --- auth ------------------------------------------------------------------------------------
AUTH_APP = (
    APP
    + """
from flash.auth import BasicAuth

BasicAuth(app, {"alice": "s3cret"}, public_routes=["/about"])
"""
)


def test_flash_basic_auth_on_a_real_server(app_process: Callable[..., AppProcess], tmp_path: Path) -> None:
    _write(tmp_path, AUTH_APP)
    server = app_process([PYTHON, "-m", "hypercorn", "app:server", "--bind", "127.0.0.1:{port}"])
    server.wait_until("/", lambda status, body: status == 401)
    good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"alice:nope").decode()
    with httpx.Client(base_url=server.url, timeout=10, trust_env=False) as client:
        refused = client.get("/")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic ")
        assert client.get("/", headers={"Authorization": bad}).status_code == 401
        page = client.get("/", headers={"Authorization": good})
        assert page.status_code == 200 and "react-entry-point" in page.text
        headers = {"Content-Type": "application/json"}
        assert client.post("/_dash-update-component", content=CALLBACK, headers=headers).status_code == 401
        answer = client.post("/_dash-update-component", content=CALLBACK, headers={**headers, "Authorization": good})
        assert answer.status_code == 200 and answer.json()["response"] == {"out": {"children": "echo hi"}}
        assert client.get("/about").status_code == 200  # public
        scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page.text)
        assert scripts and all(client.get(src).status_code == 200 for src in scripts)  # Dash's files are public


DASH_AUTH_APP = (
    APP
    + """
import dash_auth

dash_auth.BasicAuth(app, {"alice": "s3cret"})
"""
)


def test_dash_auth_on_a_flash_app_fails_at_startup_naming_flash_auth(
    app_process: Callable[..., AppProcess], tmp_path: Path
) -> None:
    import dash_auth  # noqa: F401  # the test extra has it

    _write(tmp_path, DASH_AUTH_APP)
    server = app_process([PYTHON, "-m", "uvicorn", "app:server", "--host", "127.0.0.1", "--port", "{port}"])
    assert _exits(server) != 0
    assert "from flash.auth import BasicAuth" in server.output()


FLASK_IN_CALLBACK = """
import flask
from flash import Flash, Input, Output, callback, dcc, html

app = Flash(__name__)
app.layout = html.Div([dcc.Input(id="inp", value="hi"), html.Div(id="out")])


@callback(Output("out", "children"), Input("inp", "value"))
def echo(value):
    return flask.request.headers.get("User-Agent")
"""


def test_flask_request_in_a_callback_logs_the_quart_way(app_process: Callable[..., AppProcess], tmp_path: Path) -> None:
    _write(tmp_path, FLASK_IN_CALLBACK)
    server = app_process([PYTHON, "-m", "hypercorn", "app:app.server", "--bind", "127.0.0.1:{port}"])
    server.wait_until("/", lambda status, body: status == 200)
    status, body = server.post_json("/_dash-update-component", CALLBACK)
    assert status == 500 and json.loads(body) == {"error": "Internal server error.", "status": 500}
    wait_for(
        lambda: "from quart import request" in server.output(), timeout=30, msg=f"the hint in the log:\n{server.output()[-3000:]}"
    )
    assert "Working outside of request context" in server.output()


# --- dev server ------------------------------------------------------------------------------
RUN_APP = """
import os
from flash import Flash, html

app = Flash(__name__)
app.layout = html.Div("hi")

if __name__ == "__main__":
    app.run(port=int(os.environ["PORT"]), debug=bool(os.environ.get("DEBUG")))
"""


@pytest.mark.parametrize("debug", ["", "1"], ids=["plain", "debug"])
def test_dev_server_banner_and_a_taken_port(app_process: Callable[..., AppProcess], tmp_path: Path, debug: str) -> None:
    _write(tmp_path, RUN_APP, "runapp")
    server = app_process([PYTHON, "runapp.py"], env={"DEBUG": debug})
    server.wait_until("/", lambda status, body: status == 200)
    wait_for(lambda: f"Flash is running on http://127.0.0.1:{server.port}/" in server.output(), timeout=30)
    assert "Dash is running" not in server.output()

    second = app_process([PYTHON, "runapp.py"], env={"DEBUG": debug}, port=server.port)
    assert _exits(second) == 1
    err = second.output()
    assert "Address already in use" in err and f"Port {server.port} is in use by another program" in err
    assert "Traceback" not in err, err


# --- a worker's first requests ----------------------------------------------------------------
def test_a_workers_first_concurrent_requests_are_served(app_process: Callable[..., AppProcess], tmp_path: Path) -> None:
    _write(tmp_path, APP)
    command = [PYTHON, "-m", "hypercorn", "app:server", "--bind", "127.0.0.1:{port}", "--workers", "2"]
    first = app_process(command)
    index = first.wait_until("/", lambda status, body: status == 200 and "react-entry-point" in body)
    first.stop()
    files = re.findall(r'src="(/_dash-component-suites/[^"]+)"', index)
    assert len(files) > 5, index

    fresh = app_process(command, port=first.port)  # workers that have served nothing yet

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", fresh.port), timeout=1).close()
            return True
        except OSError:
            assert fresh.proc.poll() is None, fresh.output()
            return False

    wait_for(listening, timeout=60, interval=0.05, msg="hypercorn listening")

    async def burst() -> list[tuple[str, int, str]]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=fresh.url, limits=limits, timeout=60, trust_env=False) as client:
            paths = files * 8 + ["/_dash-layout", "/_dash-dependencies", "/"] * 4
            answers = await asyncio.gather(*(client.get(path) for path in paths))
            return [(path, r.status_code, r.text[:200]) for path, r in zip(paths, answers)]

    failed = [answer for answer in asyncio.run(burst()) if answer[1] != 200]
    assert not failed, failed[:5]


# --- Dash's websocket -------------------------------------------------------------------------
def _websocket_counter(app: Flash) -> list[str]:
    opened: list[str] = []

    @app.server.before_websocket
    async def count() -> None:
        from quart import websocket

        opened.append(websocket.path)

    return opened


def _worker_scripts(duo: FlashComposite) -> list[str]:
    return duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('dash-ws-worker'));"
    )


@pytest.mark.browser
def test_a_page_without_websocket_callbacks_opens_no_websocket(flash_duo: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div([dcc.Input(id="inp", value="hi"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("inp", "value"))
    async def echo(value: str) -> str:
        return f"echo {value}"

    opened = _websocket_counter(app)
    flash_duo.start_server(app)
    flash_duo.wait_for_text_to_equal("#out", "echo hi")
    flash_duo.find_element("#inp").send_keys("!")
    flash_duo.wait_for_text_to_equal("#out", "echo hi!")
    assert flash_duo.driver.execute_script("return window.SharedWorker !== undefined")
    assert _worker_scripts(flash_duo) == [] and opened == []
    assert flash_duo.get_logs() == []


@pytest.mark.browser
def test_a_websocket_callback_still_runs_over_dashs_websocket(flash_duo: FlashComposite) -> None:
    app = Flash(__name__)
    app.layout = html.Div([dcc.Input(id="inp", value="hi"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("inp", "value"), websocket=True)
    def echo(value: str) -> str:
        return f"ws {value}"

    opened = _websocket_counter(app)
    flash_duo.start_server(app)
    flash_duo.wait_for_text_to_equal("#out", "ws hi")
    flash_duo.find_element("#inp").send_keys("!")
    flash_duo.wait_for_text_to_equal("#out", "ws hi!")
    flash_duo.wait_for(
        lambda: any(path.endswith("_dash-ws-callback") for path in opened),
        timeout=30,
        msg=f"the page's websocket to _dash-ws-callback (opened: {opened})",
    )
    assert flash_duo.get_logs() == []


@pytest.mark.browser
def test_a_browser_behind_flash_basic_auth_runs_callbacks_and_streams(flash_duo: FlashComposite) -> None:
    from flash import event_callback, stream_props
    from flash.auth import BasicAuth

    app = Flash(__name__)
    app.layout = html.Div(
        [dcc.Input(id="inp", value="hi"), html.Div(id="out"), html.Button("go", id="go"), html.Div(id="streamed")]
    )

    @app.callback(Output("out", "children"), Input("inp", "value"))
    async def echo(value: str) -> str:
        return f"echo {value}"

    @event_callback(Input("go", "n_clicks"))
    async def stream(n_clicks: int):  # type: ignore[no-untyped-def]
        for i in range(3):
            yield stream_props("streamed", {"children": f"step {i}"})

    BasicAuth(app, {"alice": "s3cret"})
    flash_duo.start_server(app, navigate=False)
    with httpx.Client(trust_env=False) as client:
        assert client.get(flash_duo.url_for("/")).status_code == 401
    # Credentials in the URL log the browser in (fetch() refuses URLs with credentials, so the
    # page itself is then opened without them: the browser sends the cached ones).
    flash_duo.driver.get(flash_duo.url_for("/").replace("http://", "http://alice:s3cret@"))
    flash_duo.driver.get(flash_duo.url_for("/"))
    flash_duo.wait_for_text_to_equal("#out", "echo hi")
    flash_duo.find_element("#go").click()
    flash_duo.wait_for_text_to_equal("#streamed", "step 2")
    assert flash_duo.get_logs() == []
