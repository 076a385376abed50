"""The smallest Flash app: whatever you type is echoed back by an async callback."""
from flash import Flash, Input, Output, callback, dcc, html

app = Flash(__name__)

app.layout = html.Div(
    [
        html.H1("Hello Flash"),
        dcc.Input(id="my-input", value="initial value", type="text"),
        html.Div(id="my-output"),
    ]
)


@callback(Output("my-output", "children"), Input("my-input", "value"))
async def update_output(value):
    return f"Output: {value}"


if __name__ == "__main__":
    app.run(debug=True)
