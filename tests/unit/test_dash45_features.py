"""The rest of Dash 4.5 on Flash: `get_prop(..., path=...)`, `partial_pattern=True` and async hook
routes (Dash's MCP server: test_mcp_server.py). On Dash 4.4 the two new keywords fail at once
with an error naming the Dash they need (flash/compat/dash_45.py, `refuse_dash45_keywords`)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Iterator

import dash
import pytest
from dash import ALL, Input, Output, State, ctx, dcc, html
from dash._hooks import hooks as dash_hooks

import flash
from flash import Flash
from flash.compat.dash import DASH_VERSION, refuse_dash45_keywords
from flash.testing import FlashComposite

DASH45 = "partial_pattern" in inspect.signature(dash.Output.__init__).parameters and not getattr(
    dash.Output.__init__, "__flash_refuses__", False
)
needs_dash45 = pytest.mark.skipif(not DASH45, reason=f"needs Dash 4.5 (installed: {DASH_VERSION})")
only_dash44 = pytest.mark.skipif(DASH45, reason="Dash 4.4 only: the clear error for a Dash 4.5 keyword")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- Dash 4.4: a clear error, naming the Dash version -----------------------------------------------
@only_dash44
@pytest.mark.parametrize("dependency", [Input, Output, State])
def test_partial_pattern_on_dash44_names_the_dash_it_needs(dependency: Any) -> None:
    with pytest.raises(TypeError) as err:
        dependency({"type": "item", "index": ALL}, "children", partial_pattern=True)
    message = str(err.value)
    assert "partial_pattern" in message and "Dash 4.5" in message and DASH_VERSION in message
    # the default asks for nothing new: accepted, and the dependency is Dash's as before
    plain = dependency({"type": "item", "index": ALL}, "children", partial_pattern=False)
    assert plain.to_dict() == dependency({"type": "item", "index": ALL}, "children").to_dict()


@only_dash44
def test_get_prop_with_a_path_on_dash44_names_the_dash_it_needs() -> None:
    from dash.backends.ws import DashWebsocketCallback

    with pytest.raises(TypeError) as err:
        run(DashWebsocketCallback.get_prop(object(), "store", "data", path=["a", 0]))  # type: ignore[arg-type]
    assert "get_prop(..., path=[...])" in str(err.value) and "Dash 4.5" in str(err.value)
    assert DASH_VERSION in str(err.value)


@only_dash44
def test_the_dash44_refusals_are_installed_once() -> None:
    assert refuse_dash45_keywords() == []  # `import flash` did it; a second call changes nothing


@needs_dash45
def test_dash45_keeps_its_own_keywords() -> None:
    assert refuse_dash45_keywords() == []
    assert Output({"type": "item", "index": ALL}, "children", partial_pattern=True).to_dict()["partial"] is True


# --- async hook routes (Dash 4.5 documents them; Flash runs them on Dash 4.4 too) -----------------------
@pytest.fixture
def route_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`dash.hooks.route` is global: this test's routes are gone after it."""
    monkeypatch.setitem(dash_hooks._ns, "routes", list(dash_hooks._ns["routes"]))
    yield


def test_an_async_hook_route_runs_on_the_loop_with_the_request_and_the_app(route_hooks: None) -> None:
    seen: dict[str, Any] = {}

    @dash.hooks.route(name="hook-async-echo", methods=("POST",))
    async def echo() -> Any:
        adapter = dash.get_app().backend.request_adapter()  # how Dash 4.5 documents reading it
        body = await adapter.get_json()
        seen["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0)
        return {"app": dash.get_app().title, "echo": body, "q": adapter.args.get("q")}

    app = Flash(__name__, title="hooked")
    app.layout = html.Div()

    async def go() -> tuple[int, Any, bool]:
        response = await app.server.test_client().post("/hook-async-echo?q=1", json={"a": [1, 2]})
        return response.status_code, await response.get_json(), seen.get("loop") is asyncio.get_running_loop()

    assert run(go()) == (200, {"app": "hooked", "echo": {"a": [1, 2]}, "q": "1"}, True)


# --- in the browser, Dash 4.5's renderer on Flash ---------------------------------------------------
@needs_dash45
@pytest.mark.browser
def test_partial_pattern_output_updates_components_with_more_id_keys(flash_duo: FlashComposite) -> None:
    """`partial_pattern=True`: the pattern's keys need only be a subset of a component's id keys."""
    app = Flash(__name__)
    app.layout = html.Div(
        [
            html.Button("go", id="go"),
            html.Div(id={"type": "cell", "index": 0, "row": "a"}),
            html.Div(id={"type": "cell", "index": 1, "row": "b"}),
            html.Div("untouched", id={"type": "other", "index": 2, "row": "c"}),
        ]
    )

    @app.callback(
        Output({"type": "cell", "index": ALL}, "children", partial_pattern=True),
        Input("go", "n_clicks"),
        prevent_initial_call=True,
    )
    async def fill(n_clicks: int) -> list[str]:
        await asyncio.sleep(0)
        return [f"{item['id']['row']}{n_clicks}" for item in ctx.outputs_list]

    flash_duo.start_server(app)
    flash_duo.find_element("#go").click()
    flash_duo.wait_for_text_to_equal('[id*="\\"row\\":\\"a\\""]', "a1")
    flash_duo.wait_for_text_to_equal('[id*="\\"row\\":\\"b\\""]', "b1")
    assert flash_duo.find_element('[id*="\\"row\\":\\"c\\""]').text == "untouched"
    assert flash_duo.get_logs() == []


@needs_dash45
@pytest.mark.browser
def test_get_prop_with_a_path_reads_part_of_a_prop_from_the_browser(flash_duo: FlashComposite) -> None:
    """`ctx.websocket.get_prop(..., path=[...])` in an async websocket callback, answered by the page."""
    app = Flash(__name__)
    app.layout = html.Div(
        [
            dcc.Store(id="store", data={"rows": [{"name": "first"}, {"name": "second"}], "total": 2}),
            html.Button("read", id="read"),
            html.Div(id="out"),
        ]
    )

    @app.callback(Output("out", "children"), Input("read", "n_clicks"), websocket=True, prevent_initial_call=True)
    async def read(n_clicks: int) -> str:
        last = await ctx.websocket.get_prop("store", "data", path=["rows", -1, "name"])
        total = await ctx.websocket.get_prop("store", "data", path=["total"])
        missing = await ctx.websocket.get_prop("store", "data", path=["nope", 3])
        return f"{last} {total} {missing} {n_clicks}"

    flash_duo.start_server(app)
    flash_duo.find_element("#read").click()
    flash_duo.wait_for_text_to_equal("#out", "second 2 None 1")
    assert flash_duo.get_logs() == []


@pytest.mark.browser
def test_get_prop_without_a_path_reads_the_whole_prop_on_either_dash(flash_duo: FlashComposite) -> None:
    """On Dash 4.4 `get_prop` is wrapped (for the path error above): without a path it is Dash's."""
    app = Flash(__name__)
    app.layout = html.Div([dcc.Store(id="store", data={"n": [1, 2]}), html.Button("read", id="read"), html.Div(id="out")])

    @app.callback(Output("out", "children"), Input("read", "n_clicks"), websocket=True, prevent_initial_call=True)
    async def read(n_clicks: int) -> str:
        whole = await ctx.websocket.get_prop("store", "data")
        same = await ctx.websocket.get_prop("store", "data", path=[])  # [] asks for the whole prop too
        return f"{whole} {same == whole}"

    flash_duo.start_server(app)
    flash_duo.find_element("#read").click()
    flash_duo.wait_for_text_to_equal("#out", "{'n': [1, 2]} True")
    assert flash_duo.get_logs() == []


def test_flash_exports_dashs_dependency_classes() -> None:
    """The refusals above patch the classes users import from either package."""
    assert flash.Output is dash.Output and flash.Input is dash.Input and flash.State is dash.State
