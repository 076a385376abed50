"""`python app.py` request logs: off unless asked (Flash(access_log=True), FLASH_ACCESS_LOG=1, or
Dash's dev_tools_silence_routes_logging=False / DASH_SILENCE_ROUTES_LOGGING=false)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
AppProcess = Any  # the `app_process` fixture's servers (tests/integration/conftest.py)

APP = """
from flash import Flash, Input, Output, dcc, html

app = Flash(__name__{flash_args})
app.layout = html.Div([dcc.Input(id="inp", value="hi"), html.Div(id="out")])


@app.callback(Output("out", "children"), Input("inp", "value"))
async def echo(value):
    return "echo " + str(value)


if __name__ == "__main__":
    app.run({run_args})
"""

BODY = json.dumps(
    {
        "output": "out.children",
        "outputs": {"id": "out", "property": "children"},
        "inputs": [{"id": "inp", "property": "value", "value": "x"}],
        "changedPropIds": ["inp.value"],
    }
).encode()


def request_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if '"GET /' in line or '"POST /' in line]


@pytest.mark.parametrize(
    "flash_args,run_args,env,logged",
    [
        ("", "debug=True", {}, False),
        ("", "", {}, False),
        ("", "debug=True", {"FLASH_ACCESS_LOG": "1"}, True),
        (", access_log=True", "debug=True", {}, True),
        ("", "debug=True, dev_tools_silence_routes_logging=False", {}, True),
        ("", "", {"DASH_SILENCE_ROUTES_LOGGING": "false"}, True),
        (", access_log=False", "dev_tools_silence_routes_logging=False", {"FLASH_ACCESS_LOG": "1"}, False),
    ],
    ids=["debug-default", "default", "env-on", "argument-on", "dash-option-off", "dash-env-off", "argument-wins"],
)
def test_request_logs_are_off_unless_asked(
    app_process: Callable[..., AppProcess], tmp_path: Path, flash_args: str, run_args: str, env: dict[str, str], logged: bool
) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP).format(flash_args=flash_args, run_args=run_args))
    env = {"PYTHONPATH": str(REPO), "FLASH_ACCESS_LOG": "", "DASH_SILENCE_ROUTES_LOGGING": "", **env}
    server = app_process([sys.executable, "app.py"], env=env)
    server.wait_until("/", lambda status, _: status == 200, msg="app.py serving")
    status, body = server.post_json("/_dash-update-component", BODY)
    assert status == 200 and json.loads(body)["response"] == {"out": {"children": "echo x"}}
    if logged:
        server.wait_until(
            "/",
            lambda *_: any("/_dash-update-component" in line and " 200 " in line for line in request_lines(server.output())),
            timeout=10,
            msg="request log lines",
        )
    server.stop()  # its output is complete now
    output = server.output()
    assert "Running on http://127.0.0.1:" in output, output  # the server's own lines stay
    assert bool(request_lines(output)) is logged, output
