"""Where Dash looks at its caller's stack, it sees the user's code under Flash too.

Every place Dash (4.4 and 4.5) inspects its caller, each checked here against Dash itself:
- a callback with no Inputs and no Outputs is named after the file and line that declared it (the
  first stack frame outside the `dash` package). Flash's decorators sit between that code and Dash,
  so before `compat.dash.register_from_caller` every such callback of an app shared one id and
  only the last one registered ever ran;
- Dash's warnings from its callback decorator (`stacklevel=2`) name the declaring line and module;
- `Dash()` without a name takes the caller's module name, and from it the assets and pages
  folders, the pages' module names and everything `register_page` infers from them;
- `dash.hooks.callback` callbacks are registered from `Dash.__init__`, so named after the line
  that made the app.
(`hooks.route/layout/setup/...` and `register_page` itself read no stack: `module` is an argument.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

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


def _printed_json(args: list[str], cwd: Path, **env: str) -> Any:
    """Run `python *args` (a user's app) and read the JSON it prints last."""
    out = subprocess.run(
        [sys.executable, *args], check=False, capture_output=True, text=True, cwd=cwd, timeout=60, env={**os.environ, **env}
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _under_both(app_text: str, tmp_path: Path) -> dict[str, Any]:
    """The JSON a one-file user app prints under Dash and under Flash (its first argument)."""
    app_file = tmp_path / "user_app.py"
    app_file.write_text(app_text)
    return {framework: _printed_json([str(app_file), framework], tmp_path) for framework in ("dash", "flash")}


def test_callbacks_without_inputs_or_outputs_get_the_ids_dash_gives_them(tmp_path):
    ids = _under_both(USER_APP, tmp_path)
    under_dash, under_flash = ids["dash"], ids["flash"]
    assert len(set(under_dash)) == 4  # each declaration its own callback
    assert under_flash == under_dash  # the same call sites, so the same ids


# --- Dash's warnings about a callback point at the line that declared it -------------------------

WARNING_APP = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("always")
    if sys.argv[1] == "flash":
        from flash import Flash as App, Input, callback, html
    else:
        from dash import Dash as App, Input, callback, html

    app = App(__name__)
    app.layout = html.Div([html.Button(id="a"), html.Button(id="b")])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @app.callback(Input("a", "n_clicks"), persistent=True)
        def on_app(n):
            pass

        @callback(Input("b", "n_clicks"), persistent=True)
        def module_level(n):
            pass

    with warnings.catch_warnings(record=True) as filtered:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="__main__")

        @app.callback(Input("a", "title"), persistent=True)
        def filtered_out(n):
            pass

    print(json.dumps({
        "caught": [[w.category.__name__, w.filename, w.lineno] for w in caught if "persistent" in str(w.message)],
        "filtered": [str(w.message) for w in filtered if "persistent" in str(w.message)],
    }))
""")


def test_dash_warnings_about_a_callback_point_at_the_users_line(tmp_path):
    """A sync `persistent=True` callback without Output makes Dash warn from its decorator with
    `stacklevel=2`; under Flash that frame was Flash's (`flash/app.py`), so the warning named
    Flash's line and a filter on the user's module did not silence it."""
    results = _under_both(WARNING_APP, tmp_path)
    app_file = tmp_path / "user_app.py"
    lines = [line.strip() for line in WARNING_APP.splitlines()]
    declared = [
        lines.index('@app.callback(Input("a", "n_clicks"), persistent=True)') + 1,
        lines.index('@callback(Input("b", "n_clicks"), persistent=True)') + 1,
    ]
    assert results["dash"]["caught"] == [["RuntimeWarning", str(app_file), line] for line in declared]
    assert results["flash"] == results["dash"] == {"caught": results["dash"]["caught"], "filtered": []}


# --- Dash names the app, its folders and its pages' modules after the caller's module ------------

PROJECT = {
    "proj/__init__.py": "",
    "proj/app.py": """
        import os
        if os.environ["FRAMEWORK"] == "flash":
            from flash import Flash as App, html, page_container
        else:
            from dash import Dash as App, html, page_container

        app = App(use_pages=True)  # no name: Dash takes the caller's module name
        app.layout = html.Div([page_container])

        if __name__ == "__main__":
            import report_app
            report_app.report(app)
    """,
    "report_app.py": """
        import json, os, sys
        import dash


        def report(app):
            relative = lambda path: os.path.relpath(path, os.path.dirname(os.path.abspath(__file__)))
            pages = [{"module": p["module"], "path": p["path"], "name": p["name"], "title": p["title"],
                      "relative_path": p["relative_path"], "image": p["image"],
                      "layout_is_the_modules": p["layout"] is getattr(sys.modules.get(p["module"]), "layout", None)}
                     for p in dash.page_registry.values()]
            print(json.dumps({"name": app.config.name, "assets": relative(app.config.assets_folder),
                              "pages_folder": relative(app.config.pages_folder), "pages": pages,
                              "main_aliased": sorted(m for m, v in sys.modules.items()
                                                     if v is sys.modules["__main__"] and m != "__main__")},
                             default=lambda value: f"<{type(value).__name__}>"))
    """,
    "proj/factory.py": """
        import os
        if os.environ["FRAMEWORK"] == "flash":
            from flash import Flash as App
        else:
            from dash import Dash as App


        def create_app():
            return App(use_pages=True)  # the caller's module is the first module frame up the stack


        app = create_app()

        if __name__ == "__main__":
            import report_app
            report_app.report(app)
    """,
    "proj/assets/weekly_analytics.png": "",
    "proj/pages/home.py": """
        import dash
        from dash import html

        dash.register_page(__name__, path="/")
        layout = html.Div("home")
    """,
    "proj/pages/weekly_analytics.py": """
        import os
        if os.environ["FRAMEWORK"] == "flash":
            from flash import html, register_page
        else:
            from dash import html, register_page

        register_page(__name__)  # path, name, title and image inferred from the module's name
        layout = html.Div("weekly")
    """,
    "proj/pages/reports/annual_summary.py": """
        import dash

        dash.register_page(__name__, title=lambda: "Annual")

        def layout():
            return dash.html.Div("annual")
    """,
    "proj/pages/not_found_404.py": """
        import dash

        dash.register_page(__name__)
        layout = dash.html.Div("gone")
    """,
}

RUNS = {
    "imported": ["-c", "import proj.app, report_app; report_app.report(proj.app.app)"],
    "as a script": ["proj/app.py"],
    "from a factory": ["-c", "import proj.factory, report_app; report_app.report(proj.factory.app)"],
    "from a factory, as a script": ["proj/factory.py"],  # Dash 4.5 aliases the running module
}


@pytest.mark.parametrize("run", list(RUNS))
def test_pages_apps_infer_names_and_page_modules_as_under_dash(tmp_path, run):
    """`Dash()` without a name takes its caller's module name (`get_caller_name`: the first
    module frame up the stack); the assets and pages folders, the pages' module names
    (`_infer_module_name`), `register_page`'s inferred path, name, title and image, and the
    `__main__` alias all follow from it. Flash's `__init__` sits between the user and Dash."""
    for path, text in PROJECT.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    results = {
        framework: _printed_json(RUNS[run], tmp_path, FRAMEWORK=framework, PYTHONPATH=str(tmp_path))
        for framework in ("dash", "flash")
    }
    dash_run = results["dash"]
    assert len(dash_run["pages"]) == 4 and all(page["layout_is_the_modules"] for page in dash_run["pages"])
    assert dash_run["pages_folder"] == os.path.join("proj", "pages")
    assert results["flash"] == dash_run


# --- Dash hooks: a hook's callback is declared where the app is made -----------------------------

HOOKS_APP = textwrap.dedent("""
    import json, sys
    import dash
    from dash import hooks

    @hooks.callback()  # no Inputs, no Outputs: Dash names it after the app's call site
    def from_a_hook():
        dash.set_props("h", {"children": 1})

    @hooks.callback(dash.Output("out", "children"), dash.Input("in", "value"))
    def hooked_with_io(value):
        return value

    if sys.argv[1] == "flash":
        from flash import Flash as App, callback, html
    else:
        from dash import Dash as App, callback, html

    app = App(__name__)
    app.layout = html.Div("x")

    @callback()
    def users_own():
        dash.set_props("u", {"children": 2})

    ids = sorted(list(app.callback_map) + list(dash._callback.GLOBAL_CALLBACK_MAP))
    print(json.dumps(ids))
""")


def test_hook_callbacks_get_the_ids_dash_gives_them(tmp_path):
    """`dash.hooks.callback` registers at `Dash.__init__` (`_setup_hooks` calls `app.callback`),
    so a hook callback without Inputs and Outputs is named after the line that made the app;
    under Flash the nearest frame is Flash's `__init__`, skipped like Dash's own."""
    results = _under_both(HOOKS_APP, tmp_path)
    assert len(set(results["dash"])) == 3 and "out.children" in results["dash"]
    assert results["flash"] == results["dash"]
