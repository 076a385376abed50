"""Serve one differential app: `python serve.py dash|flash APP_DIR MODULE PORT`.

Run by the Dash 4.5 venv's python for the oracle and by Flash's python for Flash; the app file is
the same Dash-written file (for Flash, migrated the README's way by the test first). Both are
served by uvicorn on one worker with the debug dev tools on (their error count is observed),
hot reload off.

On the Dash side `dash.Dash` becomes a subclass whose backend defaults to "quart", Dash 4.5's
ASGI backend (its streaming callbacks answer as NDJSON on the callback's own response there),
so that both sides run on Quart; the app itself still says `Dash(__name__)`.
"""

import importlib
import os
import sys


def main():
    side, app_dir, module, port = sys.argv[1:5]
    sys.path.insert(0, app_dir)
    if side == "dash":
        import dash

        class QuartDash(dash.Dash):
            def __init__(self, *args, **kwargs):
                kwargs.setdefault("backend", "quart")
                super().__init__(*args, **kwargs)

        dash.Dash = QuartDash
    else:
        import flash  # noqa: F401  # fail here, not in the app, when missing
    app = importlib.import_module(module).app
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False, dev_tools_ui=True, dev_tools_props_check=False)
    import uvicorn

    uvicorn.run(app.server, host="127.0.0.1", port=int(port), log_level=os.environ.get("LOG_LEVEL", "warning"))


if __name__ == "__main__":
    main()
