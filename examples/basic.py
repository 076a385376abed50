"""The smallest Flash app: whatever you type is echoed back by an async callback."""

from flash import Flash, Input, Output, callback, dcc, html

try:
    from examples.theme import card, page
except ImportError:  # run as a script: python examples/basic.py
    from theme import card, page

app = Flash(__name__, title="Basic app")

app.layout = page(
    "Hello Flash",
    "The smallest Flash app: whatever you type is echoed back by an async callback.",
    card([dcc.Input(id="my-input", value="initial value", type="text"), html.P(id="my-output")]),
    size="sm",
)


@callback(Output("my-output", "children"), Input("my-input", "value"))
async def update_output(value):
    return f"Output: {value}"


server = app.server  # the ASGI app: `hypercorn examples.basic:server`

if __name__ == "__main__":
    app.run(debug=True)
