"""Flash's annotations are checked: `mypy flash` with the project's config reports nothing,
and an app using the public API passes `mypy --strict`.

Flash ships `py.typed`, so its users' type checkers trust these annotations; this keeps them
true. The config (strictness, the few overrides and why) is `[tool.mypy]` in pyproject.toml.
Both run mypy in a subprocess (its process state stays out of pytest's) with a cache under the
git-ignored `.mypy_cache`, so a repeated run takes about a second.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
USER_APP = Path(__file__).with_name("strict_user_app.py")


def run_mypy(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    hint = "\n(mypy comes with the `test` extra)" if "No module named mypy" in result.stderr else ""
    assert result.returncode == 0, f"`mypy {' '.join(args)}` exited {result.returncode}:\n{result.stdout}{result.stderr}{hint}"


def test_mypy_finds_no_errors_in_flash() -> None:
    run_mypy("--config-file", str(ROOT / "pyproject.toml"), "flash")


def test_an_app_using_the_public_api_passes_mypy_strict(tmp_path: Path) -> None:
    # A user's own config: strict, with Flash (and Dash) treated as installed packages, whose
    # internal errors mypy does not report; only the app's use of their API is checked.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nfollow_imports = silent\n")
    run_mypy("--config-file", str(config), "--cache-dir", str(ROOT / ".mypy_cache" / "user-app"), str(USER_APP))
