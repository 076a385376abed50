"""LLM-style token stream: the answer grows token by token, each appended with `Patch`.

`Patch().append(token)` sends only the new token, not the whole text, so a long answer costs the
same per token as a short one. Stop (or asking again) closes the stream; asking again replaces it.
The "model" here is a stand-in async generator; swap in your LLM client's streaming API.

Run: python examples/token_stream.py
"""
import asyncio
import re

from flash import Flash, Input, Patch, State, dcc, event_callback, html, stream_props

app = Flash(__name__, title="Token stream")

app.layout = html.Div(
    [
        html.H2("Token stream"),
        dcc.Textarea(id="prompt", value="Why stream a long answer?", style={"width": "100%", "height": "4rem"}),
        html.Div([html.Button("Ask", id="ask"), html.Button("Stop", id="stop", hidden=True)]),
        html.Div(id="answer", children=[], style={"whiteSpace": "pre-wrap", "minHeight": "6rem", "marginTop": "1rem"}),
        html.Small("", id="stats"),
    ],
    style={"fontFamily": "sans-serif", "maxWidth": "48rem", "margin": "1rem auto"},
)


def canned_answer(prompt: str) -> str:
    topic = prompt.strip().rstrip("?") or "that"
    return (
        f"You asked: {topic}. Streaming shows the first words at once instead of after the whole "
        "answer is ready, so the page feels alive, and the user can stop a long answer early."
    )


async def fake_model(prompt: str, delay: float = 0.03):
    """Yields the answer a token (a word or the space before it) at a time, like an LLM API."""
    for token in re.findall(r"\s*\S+", canned_answer(prompt)):
        await asyncio.sleep(delay)
        yield token


@event_callback(
    Input("ask", "n_clicks"),
    State("prompt", "value"),
    cancel=[(Input("stop", "n_clicks"), 0)],
    reset_props=[("ask", {"disabled": False}), ("stop", {"hidden": True})],
    on_error=lambda exc: stream_props("stats", {"children": f"Failed: {exc}"}),
)
async def answer(n_clicks, prompt):
    yield stream_props(
        [("ask", {"disabled": True}), ("stop", {"hidden": False}), ("answer", {"children": []}), ("stats", {"children": "thinking..."})]
    )
    count = 0
    async for token in fake_model(prompt or ""):
        count += 1
        text = Patch()
        text.append(token)
        yield stream_props([("answer", {"children": text}), ("stats", {"children": f"{count} tokens"})])
    yield stream_props(
        [("ask", {"disabled": False}), ("stop", {"hidden": True}), ("stats", {"children": f"Done: {count} tokens."})]
    )


if __name__ == "__main__":
    app.run(debug=True)
