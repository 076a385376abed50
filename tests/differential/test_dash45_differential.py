"""Flash behaves like Dash 4.5, checked against Dash 4.5 itself (issue 23, item 2).

Each app in apps/ is written once against `dash` names, in Dash 4.5's streaming style. The same
file is served by Dash 4.5 (the oracle: its own venv, `FLASH_DASH45_PYTHON`, Quart backend) and,
migrated the README's way (`from dash import` -> `from flash import`, `Dash` -> `Flash`), by Flash;
one headless Chromium drives both through the same steps, and the page each shows after every
step must be the same. The generators park at test-controlled gates (apps/_testgate.py), so each
step is an action, not a delay. Deliberate differences are in docs/dash45-differences.md; a
difference that is a bug is an `xfail(strict=True)` whose reason says what each side shows.

Run: `bash scripts/dash45_venv.sh && python -m pytest -m dash45` (or point FLASH_DASH45_PYTHON at
any python with `dash[quart]==4.5.*` and uvicorn). Without it these tests fail, they never skip.
`FLASH_DASH45_SELFCHECK=1` serves Dash 4.5 on both sides: every scenario must then pass against
the oracle itself (the xfailed ones XPASS), which checks the apps and the harness.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Callable

import pytest

from tests.differential.conftest import APPS, Page, dash45_python, ended, parked
from tests.integration.test_migrating_pages import migrate

pytestmark = [pytest.mark.dash45]
browser = pytest.mark.browser


def same(dash: Page, flash: Page) -> None:
    """Flash's recorded steps equal Dash 4.5's, step by step (the message shows both)."""
    assert [label for label, _ in flash.steps] == [label for label, _ in dash.steps]
    for (label, want), (_, got) in zip(dash.steps, flash.steps):
        assert got == want, f"step {label!r}: Dash 4.5 shows {want}, Flash shows {got}"


def run_both(
    differential: Callable[..., tuple[Page, Page]], module: str, selectors: list[str], scenario: Callable[[Page], None]
) -> tuple[Page, Page]:
    dash, flash = differential(module, selectors)
    for page in (dash, flash):
        scenario(page)
    print(json.dumps({"dash": dash.steps, "flash": flash.steps}, indent=1))
    same(dash, flash)
    return dash, flash


# --- streaming basics ------------------------------------------------------------------------
@browser
def test_yields_patch_no_update_and_set_props_step_by_step(differential: Any) -> None:
    """steps.py: each yield replaces the outputs, a Patch appends, no_update keeps an output, an
    all-no_update yield changes nothing, set_props rides with the next frame (alone too); a second
    run replaces the first's outputs."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "run 1: first yield", parked(1))
        page.step("Patch + no_update", parked(2))
        page.step("all no_update", parked(3))
        page.step("set_props + yield", parked(4))
        page.step("set_props + all no_update", parked(5))
        page.step("same status again", parked(6))
        page.step("end of run 1", ended(1))
        page.click("#start", "run 2: first yield", parked(7))
        page.step("run 2 Patch", parked(8))

    dash, flash = run_both(differential, "steps", ["#start", "#status", "#log", "#count", "#side"], scenario)
    for page in (dash, flash):  # let run 2 finish so its server stops clean
        for _ in range(5):
            page.release()


@browser
def test_a_streamed_output_shows_each_frame_is_a_deliberate_difference(differential: Any) -> None:
    """chained.py (docs/dash45-differences.md): a callback whose Input is a streamed output, and a
    dcc.Loading around that output. Dash 4.5 keeps the streaming callback pending until its stream
    ends: the Loading spins and hides the output, and the dependant runs once, at the end. Flash
    shows each frame as it arrives and the dependant runs on each one. Loading and the end match."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "first yield", parked(1))
        page.step("second yield", parked(2))
        page.step("end", ended(1))

    dash, flash = differential("chained", ["#start", "#status", "#renders", "?.dash-spinner"])
    for page in (dash, flash):
        scenario(page)
    steps = {side: dict(page.steps) for side, page in (("dash", dash), ("flash", flash))}
    assert steps["dash"]["loaded"] == steps["flash"]["loaded"]
    for label, frame in (("first yield", "run 1 step 1"), ("second yield", "run 1 step 2")):
        assert steps["dash"][label]["#status"] == "" and steps["dash"][label]["?.dash-spinner"], steps
        assert steps["flash"][label]["#status"] == frame and not steps["flash"][label]["?.dash-spinner"], steps
    assert [steps["dash"][s]["#renders"] for s in ("first yield", "second yield", "end")] == ["1", "1", "2"]
    assert [steps["flash"][s]["#renders"] for s in ("first yield", "second yield", "end")] == ["2", "3", "3"]
    for side in ("dash", "flash"):  # the end is the same but for how often the dependant ran
        assert {k: v for k, v in steps[side]["end"].items() if k != "#renders"} == {
            k: v for k, v in steps["dash"]["end"].items() if k != "#renders"
        }, steps


@browser
def test_prevent_update_ends_the_stream_cleanly(differential: Any) -> None:
    """prevent.py: PreventUpdate after two yields: both frames stay, no error, the stream is over
    (its `finally` ran) and the callback runs again."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "run 1: first yield", parked(1))
        page.step("second yield", parked(2))
        page.step("PreventUpdate", ended(1))
        page.click("#start", "run 2: first yield", parked(3))
        page.step("run 2: second yield", parked(4))
        page.step("run 2: PreventUpdate", ended(2))

    run_both(differential, "prevent", ["#start", "#status", "#count"], scenario)


@browser
def test_an_exception_without_on_error_is_a_callback_error(differential: Any) -> None:
    """errors.py: an exception after one yield: the yield stays, the debug dev tools count one
    callback error, and the callback runs again (a second error is counted too)."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "run 1: first yield", parked(1))
        page.step("run 1: raises", ended(1))
        page.click("#start", "run 2: first yield", parked(2))
        page.step("run 2: raises", ended(2))

    run_both(differential, "errors", ["#start", "#status", "#count"], scenario)


@browser
def test_the_dev_tools_show_a_streams_exception_message(differential: Any) -> None:
    """errors.py: the title the dev tools' error list gives the stream's exception."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "first yield", parked(1))
        page.step("raises", ended(1))
        page.devtools_errors()

    run_both(differential, "errors", ["#status", "#count"], scenario)


@browser
def test_on_error_per_callback_is_the_last_frame(differential: Any) -> None:
    """on_error.py: the handler's return value (and a set_props inside it) is the last frame; a
    handler returning None ends the stream with nothing more shown; no callback error either way."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#handled", "handled: first yield", parked(1))
        page.step("handled: raises", ended(1))
        page.click("#quiet", "quiet: first yield", parked(2))
        page.step("quiet: raises", ended(2))

    run_both(differential, "on_error", ["#status", "#quiet-status", "#side"], scenario)


@browser
def test_app_wide_on_error_is_the_last_frame(differential: Any) -> None:
    """on_error_app.py: Dash(on_error=...) handles the stream's exception; its return is the last frame."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "first yield", parked(1))
        page.step("raises", ended(1))

    run_both(differential, "on_error_app", ["#start", "#status", "#count"], scenario)


@browser
def test_running_holds_for_the_whole_stream(differential: Any) -> None:
    """running.py: `running=` values are on from the first frame to the end, then off."""

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "first yield", parked(1))
        page.step("second yield", parked(2))
        page.step("end", ended(1))

    run_both(differential, "running", ["#start", "#busy", "#status"], scenario)


@browser
def test_closing_a_tab_cancels_its_streams(differential: Any) -> None:
    """tabs.py: a stream started in a second tab, parked at a gate nobody releases; closing that
    tab (the first stays open on the same app) runs the generator's `finally`."""
    dash, flash = differential("tabs", ["#start", "#status"])
    outcome = {}
    for page in (dash, flash):
        driver = page.duo.driver
        driver.get(page.server.url + "/")
        first = driver.current_window_handle
        driver.switch_to.new_window("tab")
        page.load()
        page.click("#start", "streaming in the second tab", parked(1))
        driver.close()
        driver.switch_to.window(first)
        try:
            state = page.wait_gate(ended(1), "the closed tab's stream ended", timeout=30)
        except AssertionError:
            state = page.gate()
        outcome[page.side] = (page.steps, state)
    assert outcome["dash"][1] == {"arrivals": 1, "releases": 0, "starts": 1, "ends": 1}, outcome  # the oracle
    assert outcome["flash"] == outcome["dash"]


# --- declarations ----------------------------------------------------------------------------
def declarations(python: str) -> dict[str, Any]:
    """apps/declarations.py's verdicts under `python` (Flash: the file migrated the README's way)."""
    result = subprocess.run(
        [python, "-"],
        input=DECLARATIONS[python != sys.executable],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=APPS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


DECLARATIONS = {
    True: (APPS / "declarations.py").read_text(),  # Dash 4.5
    False: migrate((APPS / "declarations.py").read_text()),  # Flash
}
REFUSED_BY_BOTH = ["background=True", "mcp_enabled=True", "api_endpoint"]
_DECLARED: dict[str, dict[str, Any]] = {}


def declared() -> tuple[dict[str, Any], dict[str, Any]]:
    """(Dash 4.5's verdicts, Flash's), computed once per session."""
    if not _DECLARED:
        _DECLARED["dash"], _DECLARED["flash"] = declarations(dash45_python()), declarations(sys.executable)
    return _DECLARED["dash"], _DECLARED["flash"]


def test_a_stream_refuses_background_mcp_and_api_endpoint_at_declaration() -> None:
    dash, flash = declared()
    for case in REFUSED_BY_BOTH:
        assert dash[case]["refused"], dash  # the oracle
        assert flash[case]["refused"], f"{case}: Dash 4.5 refuses it at declaration ({dash[case]['type']}), Flash accepts it"
    assert not dash["async generator"]["refused"] and not flash["async generator"]["refused"]


def test_sync_generators_are_a_deliberate_difference() -> None:
    """docs/dash45-differences.md: Dash 4.5 refuses a sync generator callback, Flash streams it
    from its thread pool."""
    dash, flash = declared()
    assert dash["sync generator"]["refused"] and dash["sync generator"]["type"] == "StreamCallbackError"
    assert not flash["sync generator"]["refused"]


def test_a_refused_stream_raises_dashs_exception_class() -> None:
    dash, flash = declared()
    for case in REFUSED_BY_BOTH:
        assert flash[case]["type"] == dash[case]["type"], (case, dash[case], flash[case])


def test_dash_style_cancel_on_a_stream_is_a_deliberate_difference() -> None:
    """docs/dash45-differences.md: Dash 4.5 accepts `cancel=` on a stream and ignores it (cancel is
    a background-callback option there); Flash streams take `cancel=[(Input, desired_state)]` and
    refuse Dash's background form `cancel=[Input]` with a message giving the rewrite."""
    dash, flash = declared()
    assert not dash["cancel=[Input]"]["refused"] and not dash["cancel=[(Input, state)]"]["refused"]
    assert flash["cancel=[Input]"] == {
        "refused": True,
        "type": "StreamError",
        "mro": ["StreamError", "DashException", "Exception", "BaseException", "object"],
    }
    assert not flash["cancel=[(Input, state)]"]["refused"]


@browser
def test_starting_a_running_stream_again_is_a_deliberate_difference(differential: Any) -> None:
    """restart.py (docs/dash45-differences.md): a second click while the first run is parked, then
    the gates released one by one. Dash 4.5 lets the first run go on and applies its next frame
    over the second run's ("run 1 step 2" after "run 2 step 1"); Flash ends the first run when the
    second starts (its `finally` runs at once) and shows the second run only. Every other step is
    the same."""
    after_second_click = {}

    def scenario(page: Page) -> None:
        page.load()
        page.click("#start", "run 1: first yield", parked(1))
        page.click("#start", "run 2 started while run 1 runs", lambda s: s["starts"] == 2 and s["arrivals"] == 2)
        try:  # Flash ends run 1 (eventually, so wait); Dash never does (run 1 waits at a gate)
            after_second_click[page.side] = page.wait_gate(ended(1), "run 1 ended", timeout=3)
        except AssertionError:
            after_second_click[page.side] = page.gate()
        for release in range(1, 5):
            page.step(f"release {release}", lambda s: s["arrivals"] > s["releases"] or s["ends"] == s["starts"])
        page.wait_gate(lambda s: s["ends"] == s["starts"], "every run ended")
        page.record("all ended")

    dash, flash = differential("restart", ["#start", "#status", "#last"])
    for page in (dash, flash):
        scenario(page)
    steps = {side: dict(page.steps) for side, page in (("dash", dash), ("flash", flash))}
    differing = [label for label in steps["dash"] if steps["dash"][label] != steps["flash"][label]]
    assert differing == ["release 1"], steps
    assert steps["dash"]["release 1"]["#status"] == "run 1 step 2"  # the replaced run's frame, applied
    assert steps["flash"]["release 1"] == steps["flash"]["run 2 started while run 1 runs"]
    assert after_second_click["dash"]["ends"] == 0 and after_second_click["flash"]["ends"] == 1, after_second_click
