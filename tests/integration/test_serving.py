"""Serving as users do it: their own Quart routes and websockets, `python app.py` (logs, hot
reload) and production ASGI servers (`hypercorn module:app.server`, `uvicorn module:app.server`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from quart import request, websocket

from flash import ClientsideFunction, Flash, Input, Output, State, dcc, html
from flash.gc_tuning import YOUNG_THRESHOLD
from flash.testing import FlashComposite

PYTHON = sys.executable
AppProcess = Any  # the `app_process` fixture's servers (tests/integration/conftest.py)


WS_JS = """
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    user: {
        echo: function (n, text) {
            if (!n) { return window.dash_clientside.no_update; }
            return new Promise(function (resolve, reject) {
                var sock = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws/echo');
                sock.onopen = function () { sock.send(text); };
                sock.onmessage = function (event) { resolve(event.data); sock.close(); };
                sock.onerror = function () { reject(new Error('websocket failed')); };
            });
        },
        ping: function (n) {
            if (!n) { return window.dash_clientside.no_update; }
            return fetch('/api/ping?n=' + n).then(function (r) { return r.json(); })
                .then(function (data) { return data.pong; });
        }
    }
});

// A plain asset script: once the page is rendered it listens to a server-pushed feed.
(function waitForFeed() {
    if (!document.getElementById('feed') || !window.dash_clientside.set_props) {
        return setTimeout(waitForFeed, 50);
    }
    var lines = [];
    var sock = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws/feed');
    sock.onmessage = function (event) {
        lines.push(event.data);
        window.dash_clientside.set_props('feed', {children: lines.join(', ')});
    };
})();
"""


@pytest.mark.browser
def test_user_quart_routes_and_websockets_from_the_page(dash_duo_mp: FlashComposite, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "ws.js").write_text(WS_JS)
    app = Flash(__name__, assets_folder=str(assets))
    app.layout = html.Div(
        [
            dcc.Input(id="text", value="hello"),
            html.Button("send", id="send"),
            html.Button("ping", id="ping"),
            html.Div("no echo", id="echo"),
            html.Div("no pong", id="pong"),
            html.Div("no feed", id="feed"),
            html.Div(id="echo-len"),
        ]
    )

    @app.server.route("/api/ping")
    async def ping() -> dict:
        return {"pong": f"pong {request.args['n']}"}

    @app.server.websocket("/ws/echo")
    async def echo() -> None:
        while True:
            message = await websocket.receive()
            await websocket.send(f"echo: {message}")

    @app.server.websocket("/ws/feed")
    async def feed() -> None:
        for i in range(1, 4):
            await websocket.send(f"tick {i}")
            await asyncio.sleep(0.05)
        await websocket.receive()  # keep the socket open until the page goes

    app.clientside_callback(
        ClientsideFunction("user", "echo"),
        Output("echo", "children"),
        Input("send", "n_clicks"),
        State("text", "value"),
    )
    app.clientside_callback(ClientsideFunction("user", "ping"), Output("pong", "children"), Input("ping", "n_clicks"))

    @app.callback(Output("echo-len", "children"), Input("echo", "children"), prevent_initial_call=True)
    def echo_length(text: str) -> str:  # a server callback fed by the websocket answer
        return f"{len(text)} chars"

    duo = dash_duo_mp
    duo.start_server(app)
    duo.wait_for_text_to_equal("#feed", "tick 1, tick 2, tick 3")
    duo.find_element("#send").click()
    duo.wait_for_text_to_equal("#echo", "echo: hello")
    duo.wait_for_text_to_equal("#echo-len", "11 chars")
    duo.find_element("#text").send_keys(" world")
    duo.find_element("#send").click()
    duo.wait_for_text_to_equal("#echo", "echo: hello world")
    duo.find_element("#ping").click()
    duo.wait_for_text_to_equal("#pong", "pong 1")
    assert duo.get_logs() == []


USER_APP = """
import logging

from flash import Flash, Input, Output, callback, dcc, html

app = Flash(__name__)
app.layout = html.Div([html.H1("{heading}", id="heading"), dcc.Input(id="inp", value="hi"), html.Div(id="out")])


@callback(Output("out", "children"), Input("inp", "value"))
async def echo(value):
    return "{prefix} " + str(value)

{extra}

if __name__ == "__main__":
    app.run(debug=True)
"""

CALLBACK_BODY = json.dumps(
    {
        "output": "out.children",
        "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "inp", "property": "value", "value": "there"}],
        "changedPropIds": ["inp.value"],
    }
).encode()


def _write_app(path: Path, heading: str = "version 1", prefix: str = "v1", extra: str = "") -> None:
    path.write_text(textwrap.dedent(USER_APP).format(heading=heading, prefix=prefix, extra=extra))


def _exercise(server: AppProcess, prefix: str = "v1") -> None:
    assert server.get("/")[0] == 200
    assert server.get("/_dash-layout")[0] == 200
    status, body = server.post_json("/_dash-update-component", CALLBACK_BODY)
    assert status == 200, body
    assert json.loads(body)["response"] == {"out": {"children": f"{prefix} there"}}


@pytest.mark.parametrize("quiet", [False, True], ids=["asked", "silenced"])
def test_python_app_py_request_logs_and_silencing_them(
    app_process: Callable[..., AppProcess], tmp_path: Path, quiet: bool
) -> None:
    """With request logs asked for (they are off by default: tests/integration/test_access_log.py),
    they go to the `flash.access` logger, and raising its level silences them."""
    silence = 'logging.getLogger("flash.access").setLevel(logging.WARNING)' if quiet else ""
    _write_app(tmp_path / "app.py", extra=silence)
    server = app_process([PYTHON, "app.py"], env={"FLASH_ACCESS_LOG": "1"})
    server.wait_until("/", lambda status, _: status == 200, msg="app.py serving")
    _exercise(server)
    if not quiet:

        def logged(*_: object) -> bool:
            output = server.output()
            return '"GET /_dash-layout' in output and '"POST /_dash-update-component' in output

        server.wait_until("/", logged, timeout=10, msg="request log lines")
    server.stop()
    output = server.output()
    assert "Running on http://127.0.0.1:" in output, output  # the server's own messages are there
    request_lines = [line for line in output.splitlines() if '"GET /' in line or '"POST /' in line]
    if quiet:
        assert request_lines == [], output
    else:
        assert any("/_dash-update-component" in line and " 200 " in line for line in request_lines), output


@pytest.mark.browser
def test_python_app_py_hot_reload_serves_the_edit(
    dash_duo_mp: FlashComposite, app_process: Callable[..., AppProcess], tmp_path: Path
) -> None:
    """Edit the app file while `python app.py` runs with debug=True: the server restarts, and the
    open page reloads by itself (dev tools hot reload) and shows the new layout and callback."""
    app_file = tmp_path / "app.py"
    _write_app(app_file)
    env = {"DASH_HOT_RELOAD_INTERVAL": "0.5", "DASH_HOT_RELOAD_MAX_RETRY": "60"}
    server = app_process([PYTHON, "app.py"], env=env)
    server.wait_until("/_dash-layout", lambda status, body: status == 200 and "version 1" in body)
    dash_duo_mp.driver.get(server.url + "/")
    dash_duo_mp.wait_for_text_to_equal("#heading", "version 1")
    dash_duo_mp.wait_for_text_to_equal("#out", "v1 hi")

    # The page's hot reloader takes the first hash it gets as its baseline; if the old server is
    # already gone by its first poll, it would take the new server's hash and never reload.
    polled = (
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('_reload-hash') && e.responseStatus === 200).length;"
    )
    dash_duo_mp.wait_for(lambda: dash_duo_mp.driver.execute_script(polled) >= 1, timeout=10, msg="reload-hash polled")
    _write_app(app_file, heading="version 2", prefix="v2")
    later = time.time() + 2  # a clearly newer mtime even on coarse-grained filesystems
    os.utime(app_file, (later, later))
    server.wait_until(
        "/_dash-layout",
        lambda status, body: status == 200 and "version 2" in body,
        timeout=30,
        msg="restarted server serving the edit",
    )
    _exercise(server, prefix="v2")
    dash_duo_mp.wait_for_text_to_equal("#heading", "version 2", timeout=30)
    dash_duo_mp.wait_for_text_to_equal("#out", "v2 hi")
    assert server.proc.poll() is None
    dash_duo_mp.driver.get("about:blank")  # stop polling so the server shuts down at once


PROD_MODULE = """
import asyncio
import gc
import threading

from flash import Flash, Input, Output, callback, dcc, html

app = Flash(__name__)
app.layout = html.Div([dcc.Input(id="inp", value="hi"), html.Div(id="out"), html.Div(id="sync-out")])


@callback(Output("out", "children"), Input("inp", "value"))
async def echo(value):
    await asyncio.sleep(0)
    return "async " + str(value)


@callback(Output("sync-out", "children"), Input("inp", "value"))
def sync_echo(value):
    where = "thread" if threading.current_thread() is not threading.main_thread() else "main"
    return f"sync {value} in {where}"


@app.server.route("/gc-state")
async def gc_state():
    return {"frozen": gc.get_freeze_count(), "young_threshold": gc.get_threshold()[0]}
"""

SERVER_COMMANDS = {
    "hypercorn": [PYTHON, "-m", "hypercorn", "prodapp:app.server", "--bind", "127.0.0.1:{port}"],
    "uvicorn": [PYTHON, "-m", "uvicorn", "prodapp:app.server", "--host", "127.0.0.1", "--port", "{port}"],
}


@pytest.mark.browser
@pytest.mark.parametrize("server_name", sorted(SERVER_COMMANDS))
def test_production_asgi_servers_serve_the_app(
    dash_duo_mp: FlashComposite, app_process: Callable[..., AppProcess], tmp_path: Path, server_name: str
) -> None:
    (tmp_path / "prodapp.py").write_text(textwrap.dedent(PROD_MODULE))
    server = app_process(SERVER_COMMANDS[server_name])
    server.wait_until(
        "/", lambda status, body: status == 200 and "react-entry-point" in body, msg=f"{server_name} serving the index"
    )
    status, body = server.post_json("/_dash-update-component", CALLBACK_BODY)
    assert status == 200, body
    assert json.loads(body)["response"] == {"out": {"children": "async there"}}
    # The server's lifespan startup ran Flash's collector tuning (flash/gc_tuning.py).
    gc_state = json.loads(server.get("/gc-state")[1])
    assert gc_state["frozen"] > 10_000 and gc_state["young_threshold"] >= YOUNG_THRESHOLD, gc_state

    duo = dash_duo_mp
    duo.driver.get(server.url + "/")
    duo.wait_for_text_to_equal("#out", "async hi")
    duo.wait_for_text_to_equal("#sync-out", "sync hi in thread")
    duo.find_element("#inp").send_keys("!")
    duo.wait_for_text_to_equal("#out", "async hi!")
    duo.wait_for_text_to_equal("#sync-out", "sync hi! in thread")
    assert duo.get_logs() == []
    duo.driver.get("about:blank")
