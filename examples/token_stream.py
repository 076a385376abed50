"""LLM-style answer stream: Markdown that grows token by token, with Stop and Regenerate.

`flash.llm.text_updates` turns the model's chunks into few `stream_props` updates: chunks that
arrive within 30 ms go out as one `Patch` that appends their text to the `dcc.Markdown`, so even
the "fast" setting (~400 tokens/s) re-renders the answer at most ~33 times a second. Stop is the
event callback's `cancel`; Regenerate starts the same callback again, which replaces the running
stream. The model is a local stand-in (no API key): it streams one of three prepared answers with
a real model's rhythm. To use a real one, pass its stream instead of `fake_model(...)`:

    stream = await openai.AsyncOpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True)
    async for update in text_updates(stream, "answer"): ...

    async with anthropic.AsyncAnthropic().messages.stream(
            model="claude-sonnet-4-5", max_tokens=1024,
            messages=[{"role": "user", "content": prompt}]) as stream:
        async for update in text_updates(stream.text_stream, "answer"): ...

Run: python examples/token_stream.py
"""

import asyncio
import random
import re
import time

from flash import Flash, Input, State, ctx, dcc, event_callback, html, stream_props
from flash.llm import text_updates

try:
    from examples.theme import page
except ImportError:  # run as a script: python examples/token_stream.py
    from theme import page

app = Flash(__name__, title="Token stream")

ANSWERS = [
    """### Why stream the answer?

A language model writes its answer one token at a time, and a long answer can take **ten seconds
or more**. Waiting for all of it leaves the user staring at a spinner; streaming shows the first
words at once, so the page feels alive and the reader starts while the model is still writing.

Streaming also gives the user control:

- **Stop** ends an answer that went the wrong way, and frees the model for the next question.
- **Regenerate** asks again without retyping the prompt.
- A half-finished answer is often enough to decide what to ask next.

The catch is the update rate. A fast model sends *hundreds* of tokens a second, and re-rendering
the whole Markdown for each one wastes the browser's time. Batching the tokens that arrive within
a few milliseconds keeps the text smooth without making it feel late.
""",
    """### How this page streams

Each click on **Ask** starts an event callback, an async generator on the server. It reads the
model's chunks and yields small updates that travel to the browser over one Server-Sent Events
connection:

1. `text_updates` collects the chunks that arrive within `interval` seconds (30 ms here).
2. The first batch replaces the old answer; every later one is a `Patch` that *appends* its text.
3. The browser applies all updates of an animation frame together.

So the wire carries only new text, and the answer never costs more per token as it grows:

```python
async for update in text_updates(stream, "answer"):
    yield update
```

Stopping closes the generator, and with it the model's response, so no tokens are paid for after
the user has lost interest.
""",
    """### Tips for a chat-like page

Streaming text well is mostly about small details that users notice without naming them:

- Show *something* within a few hundred milliseconds: a cursor, a "thinking" line, the first word.
- Keep the layout steady. Let the answer grow downwards and do not move the buttons around.
- Render Markdown as it arrives. Half a list or an unclosed `code span` looks fine for a moment.
- Offer **Stop** while the answer streams and **Regenerate** once there is something to redo.
- Count what you send. Tokens per second and updates per second are different numbers, and the
  second one is the one the browser pays for.

A good stream feels like someone typing quickly and calmly: steady, readable, and easy to
interrupt.
""",
]

TOKEN = re.compile(r" ?[A-Za-z]{1,7}| ?\d{1,3}| ?[^\sA-Za-z\d]|\s+")
SPEEDS = {"realistic": (0.02, 0.08), "fast": (0.001, 0.004)}  # seconds between tokens


def fake_answer(prompt: str, attempt: int) -> str:
    """The Markdown the stand-in model streams for the `attempt`-th try at `prompt`."""
    question = " ".join((prompt or "").split()) or "(no question)"
    return f"> {question}\n\n" + ANSWERS[(attempt - 1) % len(ANSWERS)]


def tokens_of(text: str) -> list[str]:
    """Word pieces of up to 7 letters, like a tokenizer's; together they are exactly `text`."""
    return TOKEN.findall(text)


async def fake_model(prompt: str, attempt: int, speed: str = "realistic"):
    """Yields the answer a token at a time: a pause to "think", 20-80 ms between tokens (1-4 ms
    when fast), sometimes a burst of several at once, a breath after each paragraph."""
    rng = random.Random(f"{attempt}:{prompt}")
    low, high = SPEEDS.get(speed, SPEEDS["realistic"])
    await asyncio.sleep(rng.uniform(0.2, 0.5))
    burst = 0
    for token in tokens_of(fake_answer(prompt, attempt)):
        if burst:
            burst -= 1
        elif rng.random() < 0.06:
            burst = rng.randint(3, 10)
        else:
            await asyncio.sleep(rng.uniform(low, high) * (4 if token.startswith("\n\n") else 1))
        yield token


CSS = """
.card { background: white; border-radius: 12px; box-shadow: 0 1px 3px rgba(20,30,60,.12);
        padding: 1.25rem 1.5rem; margin-top: 1rem; }
.controls { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-top: .75rem; }
.controls button { border: 0; border-radius: 8px; padding: .5rem 1rem; font-size: .95rem;
                   cursor: pointer; background: #e8ebf3; color: #1d2433; }
.controls button#ask { background: #4f46e5; color: white; }
.controls button#stop { background: #dc2626; color: white; }
.controls button:disabled { opacity: .45; cursor: default; }
#speed label { margin-right: .75rem; font-size: .9rem; }
.answer { min-height: 8rem; line-height: 1.55; }
.answer blockquote { margin: 0 0 .5rem; padding-left: .75rem; border-left: 3px solid #c7cbe0; color: #5b6275; }
.answer pre { background: #f1f3f9; padding: .6rem .8rem; border-radius: 8px; overflow-x: auto; }
.answer code { font-size: .9em; }
.answer.streaming > :last-child:not(ul, ol, pre)::after, .answer.streaming > :is(ul, ol):last-child > li:last-child::after,
.answer.streaming:empty::after { content: "\\258D"; color: #4f46e5; margin-left: 1px; animation: blink 1s steps(2, start) infinite; }
@keyframes blink { to { visibility: hidden; } }
#stats { color: #5b6275; }
"""
app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + CSS + "</style>")

app.layout = page(
    "Token stream",
    "A local stand-in model streams Markdown; Flash batches its tokens into smooth updates.",
    [
        html.Div(
            [
                dcc.Textarea(
                    id="prompt",
                    value="Why stream a long answer?",
                    style={
                        "width": "100%",
                        "height": "3.5rem",
                        "borderRadius": "8px",
                        "border": "1px solid #d5d9e6",
                        "padding": ".5rem",
                        "boxSizing": "border-box",
                    },
                ),
                html.Div(
                    [
                        html.Button("Ask", id="ask"),
                        html.Button("Stop", id="stop", hidden=True),
                        html.Button("Regenerate", id="regenerate", disabled=True),
                        dcc.RadioItems(
                            id="speed",
                            value="realistic",
                            inline=True,
                            options=[
                                {"label": "Realistic (~25 tokens/s)", "value": "realistic"},
                                {"label": "Fast (~400 tokens/s)", "value": "fast"},
                            ],
                        ),
                    ],
                    className="controls",
                ),
            ],
            className="card",
        ),
        html.Div(
            [dcc.Markdown("", id="answer", className="answer"), html.Small("Ask something.", id="stats")],
            className="card",
        ),
        dcc.Store(id="attempt", data=0),
    ],
    size="md",
)

IDLE = [
    ("ask", {"disabled": False}),
    ("regenerate", {"disabled": False}),
    ("stop", {"hidden": True}),
    ("answer", {"className": "answer"}),
]


@event_callback(
    Input("ask", "n_clicks"),
    Input("regenerate", "n_clicks"),
    State("prompt", "value"),
    State("speed", "value"),
    State("attempt", "data"),
    cancel=[(Input("stop", "n_clicks"), 0)],
    reset_props=[*IDLE, ("stats", {"children": "Stopped."})],
    on_error=lambda exc: stream_props("stats", {"children": f"Failed: {exc}"}),
)
async def answer(ask_clicks, regenerate_clicks, prompt, speed, attempt):
    attempt = (attempt or 0) + 1 if ctx.triggered_id == "regenerate" else 1
    yield stream_props(
        [
            ("ask", {"disabled": True}),
            ("regenerate", {"disabled": False}),
            ("stop", {"hidden": False}),
            ("attempt", {"data": attempt}),
            ("answer", {"children": "", "className": "answer streaming"}),
            ("stats", {"children": f"Answer {attempt}: thinking..."}),
        ]
    )
    tokens = updates = 0
    started = time.monotonic()

    async def counted():
        nonlocal tokens
        async for token in fake_model(prompt or "", attempt, speed):
            tokens += 1
            yield token

    async for update in text_updates(counted(), "answer"):
        updates += 1
        stats = f"Answer {attempt}: {tokens} tokens in {updates} updates"
        yield stream_props([*update.updates, ("stats", {"children": stats})])
    seconds = time.monotonic() - started
    yield stream_props(
        [*IDLE, ("stats", {"children": f"Done: answer {attempt}, {tokens} tokens in {updates} updates, {seconds:.1f} s."})]
    )


server = app.server  # the ASGI app: `hypercorn examples.token_stream:server`

if __name__ == "__main__":
    app.run(debug=True)
