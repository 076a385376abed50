"""Where Dash looks at its caller's stack, it sees the user's code under Flash too.

Dash names a callback with no Inputs and no Outputs after the file and line that declared it (the
first stack frame outside the `dash` package). Flash's decorators sit between that code and Dash,
so before `compat.dash.register_from_caller` every such callback of an app shared one id and
only the last one registered ever ran.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

USER_APP = textwrap.dedent("""
    import json, sys
    import dash
    if sys.argv[1] == "flash":
        from flash import Flash as App, callback, html
    else:
        from dash import Dash as App, callback, html

    app = App(__name__)
    app.layout = html.Div("x")

    @app.callback()
    def first():
        dash.set_props("a", {"children": 1})

    @app.callback()
    def second():
        dash.set_props("b", {"children": 2})

    @callback()
    def module_level():
        dash.set_props("c", {"children": 3})

    @callback()
    def module_level_too():
        dash.set_props("d", {"children": 4})

    ids = sorted(list(app.callback_map) + list(dash._callback.GLOBAL_CALLBACK_MAP))
    print(json.dumps(ids))
""")


def _callback_ids(tmp_path: Path, framework: str) -> list[str]:
    app_file = tmp_path / "user_app.py"
    app_file.write_text(USER_APP)
    out = subprocess.run([sys.executable, str(app_file), framework], capture_output=True, text=True,
                         check=True, cwd=tmp_path, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_callbacks_without_inputs_or_outputs_get_the_ids_dash_gives_them(tmp_path):
    under_dash = _callback_ids(tmp_path, "dash")
    under_flash = _callback_ids(tmp_path, "flash")
    assert len(set(under_dash)) == 4  # each declaration its own callback
    assert under_flash == under_dash  # the same call sites, so the same ids
