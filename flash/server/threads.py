"""Run sync user code in a thread pool so it never blocks the event loop."""
from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from concurrent.futures import Executor
from typing import Any, Callable


async def run_in_thread(executor: Executor | None, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `func` on `executor` with the caller's contextvars (request, ctx, app) copied in."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    call = functools.partial(context.run, func, *args, **kwargs)
    return await loop.run_in_executor(executor, call)


async def call_maybe_async(executor: Executor | None, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await an `async def` on the loop; run anything else in the pool; await what it returns if awaitable."""
    if inspect.iscoroutinefunction(func):
        return await func(*args, **kwargs)
    result = await run_in_thread(executor, func, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
