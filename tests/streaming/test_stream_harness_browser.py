"""The browser side of the stream test harness: `record_frames()` then `wait_for_frame(n)` on
Flash's duo returns the n-th frame the page received from a stream, in Chromium."""

from __future__ import annotations

import pytest

from flash import Flash, Input, event_callback, html, stream_props
from tests.streaming.probe import Probe

pytestmark = pytest.mark.browser


def test_wait_for_frame_returns_the_nth_frame_the_page_received(dash_duo_mp):
    app = Flash(__name__)
    app.layout = html.Div([html.Button("start", id="start"), html.Div(id="out"), html.Div(id="other")])
    probe = Probe(app)

    @event_callback(Input("start", "n_clicks"))
    async def count(n_clicks):
        for i in range(1, 6):
            if i == 4:
                await probe.gate("rest").wait()  # frame 4 waits until the test has seen frame 3
            yield stream_props("out", {"children": i})

    @event_callback(Input("start", "n_clicks"))
    async def once(n_clicks):
        yield stream_props("other", {"children": "other"})

    dash_duo_mp.record_frames()
    dash_duo_mp.start_server(app)
    dash_duo_mp.find_element("#start").click()
    third = dash_duo_mp.wait_for_frame(3, count)
    assert third["event"] == "props" and third["data"] == [["out", {"children": 3}]]
    dash_duo_mp.wait_for_text_to_equal("#out", "3")
    assert [f["data"] for f in dash_duo_mp.stream_frames(count)] == [[["out", {"children": i}]] for i in (1, 2, 3)]
    assert dash_duo_mp.wait_for_frame(2, once.stream_id)["event"] == "done"

    probe.release(dash_duo_mp, "rest")
    assert dash_duo_mp.wait_for_frame(6, count)["event"] == "done"
    dash_duo_mp.wait_for_text_to_equal("#out", "5")
    frames = dash_duo_mp.stream_frames()
    assert len(frames) == 8 and {f["stream"] for f in frames} == {count.stream_id, once.stream_id}
    assert len({f["run"] for f in dash_duo_mp.stream_frames(count)}) == 1
