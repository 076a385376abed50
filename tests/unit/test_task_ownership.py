"""Every task Flash creates has an owner (docs: issue 22; the project rule "every task has one
owner"). A task whose result is dropped (`asyncio.ensure_future(...)` / `loop.create_task(...)` as a
bare statement, or the body of a lambda) is referenced by nobody: the loop keeps only a weak
reference to it, so it can be collected mid-way, its exception is never seen, and nothing
cancels or awaits it when its work is no longer wanted. Keep the task (in a registry that says
what removes it), await it, or use a TaskGroup."""

from __future__ import annotations

import ast
from pathlib import Path

import flash

TASK_MAKERS = {"create_task", "ensure_future"}
PACKAGE = Path(flash.__file__).parent


def _makes_task(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name in TASK_MAKERS


def dropped_tasks(source: str, filename: str) -> list[str]:
    """`file:line` of each task-making call whose result nobody keeps."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        value = node.value if isinstance(node, ast.Expr) else node.body if isinstance(node, ast.Lambda) else None
        if value is not None and _makes_task(value):
            found.append(f"{filename}:{value.lineno}")
    return found


def test_the_scan_finds_a_dropped_task_and_passes_a_kept_one():
    dropped = (
        "import asyncio\nasync def f(loop, coro):\n    asyncio.ensure_future(coro)\n    loop.create_task(coro)\n"
        "    cb = lambda _: asyncio.get_running_loop().create_task(coro)\n"
    )
    kept = (
        "import asyncio\nasync def f(loop, coro, tasks):\n    task = loop.create_task(coro)\n"
        "    tasks.append(asyncio.ensure_future(coro))\n    await asyncio.ensure_future(coro)\n"
    )
    assert dropped_tasks(dropped, "x.py") == ["x.py:3", "x.py:4", "x.py:5"]
    assert dropped_tasks(kept, "y.py") == []


def test_no_task_in_flash_is_created_without_an_owner():
    dropped = []
    for path in sorted(PACKAGE.rglob("*.py")):
        dropped += dropped_tasks(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert dropped == [], f"tasks nobody keeps (keep a reference in a registry, await it, or use a TaskGroup): {dropped}"
