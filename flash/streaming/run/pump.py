"""Drive an event callback's generator and publish what it yields as numbered SSE messages."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import traceback
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Generator

from ...compat.dash import app_on_error, context_value
from ...exceptions import PreventUpdate, StreamError
from ...server.sse import RunMessage
from ...server.threads import submit_to_thread
from ..bus.stream_bus import StreamBusError
from ..declare.outputs import output_updates
from ..declare.props import StreamProps
from ..declare.spec import EventCallbackSpec
from .devtools import record_failure
from .runs import StreamRun

if TYPE_CHECKING:
    from ..host import StreamHost

logger = logging.getLogger("flash.streaming")
_EXHAUSTED = object()


async def _iterate_sync(app: "StreamHost", gen: Generator[Any, None, None]) -> AsyncGenerator[Any, None]:
    """Step a sync generator in the thread pool, one `next()` per item. However this is left,
    the generator's own code runs only in pool threads and a generator that started is closed:
    a step still queued for a thread is withdrawn (the generator was not advanced), a step under
    way closes the generator in its thread once it returns, a suspended one is closed in a thread."""
    executor = app.backend.executor
    step: "Future[Any] | None" = None
    try:
        while True:
            step = submit_to_thread(executor, next, gen, _EXHAUSTED)
            item = await asyncio.shield(asyncio.wrap_future(step))  # a cancel leaves the thread alone
            step = None
            if item is _EXHAUSTED:
                return
            yield item
    finally:
        if step is not None and not step.cancel() and not step.done():
            step.add_done_callback(_closer(executor, gen))  # mid-step: the page need not wait for it
        elif inspect.getgeneratorstate(gen) == inspect.GEN_SUSPENDED:
            await asyncio.shield(asyncio.wrap_future(submit_to_thread(executor, _close, gen)))


def _close(gen: Generator[Any, None, None]) -> None:
    """Close a sync generator (its `finally` runs); in a pool thread, so errors are logged here."""
    try:
        gen.close()
    except Exception:
        logger.exception("Closing a sync stream generator failed")


def _closer(executor: Executor, gen: Generator[Any, None, None]) -> Callable[["Future[Any]"], None]:
    """A done-callback for a step under way: it closes the generator in the pool thread that ran
    the step, or (the step ended just before the callback was added) in another pool thread."""
    loop_thread = threading.get_ident()

    def close(_: "Future[Any]") -> None:
        if threading.get_ident() != loop_thread:
            _close(gen)
        else:
            try:
                submit_to_thread(executor, _close, gen)
            except RuntimeError:  # the pool is shut down (the worker is exiting): nowhere else to go
                _close(gen)

    return close


def _updates_of(item: Any, spec: EventCallbackSpec) -> list[list[Any]]:
    if spec.outputs is not None:
        return output_updates(item, spec)
    if isinstance(item, StreamProps):
        return item.to_wire()
    if item is None:
        return []
    raise StreamError(
        f"event callback '{spec.func.__name__}' yielded {type(item).__name__}; yield stream_props(...) values only."
    )


def _side_updates(cb_ctx: Any) -> list[list[Any]]:
    """`set_props` calls made inside the generator since the last yield."""
    pending = cb_ctx.updated_props
    if not pending:
        return []
    updates = [[component_id, props] for component_id, props in pending.items()]
    pending.clear()
    return updates


async def _error_answer(app: "StreamHost", spec: EventCallbackSpec, cb_ctx: Any, exc: Exception) -> list[list[Any]] | None:
    """The last frame `on_error` makes of `exc` (a Dash 4.5 streaming callback without one falls
    back to the app's `Dash(on_error=...)`, as in Dash): its return value's updates with the
    `set_props` made since the last yield, inside the handler included. `[]` when it returned
    None (Dash: the page stays as it is); None when there is no handler or it raised."""
    handler = spec.on_error
    if handler is None and spec.outputs is not None:
        handler = app_on_error(app)
    if handler is None:
        return None
    try:
        result = handler(exc)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return []
        return _side_updates(cb_ctx) + _updates_of(result, spec)
    except Exception:
        logger.exception("on_error of stream '%s' failed", spec.func.__name__)
        return None


async def pump(app: "StreamHost", spec: EventCallbackSpec, run: StreamRun, cb_ctx: Any, args: list[Any]) -> None:
    """The run's task: iterate the generator, publish updates, then a done or error event.

    One try/finally holds the whole body, the generator's creation included, so however and
    whenever the run ends (closed before its generator exists or while it waits for a pool
    thread, mid-step, at shutdown, its bus failing) the page gets its final event, a generator
    that started is closed, and the run leaves the registry (`run_finished`). `StreamRun.close`
    never cancels this task before its first step (that would skip the body, try and all):
    the first step sees `run.closing` instead."""
    items: AsyncGenerator[Any, None] | None = None
    metrics, outcome, traced = app.stream_runs.metrics, "error", None  # flash.metrics (None: off)

    try:
        run.begun = True
        if metrics is not None:
            traced = metrics.run_started(spec.func.__name__, run.stream_id, run.run_id)
        if run.closing:
            raise asyncio.CancelledError  # closed before this task's first step
        context_value.set(cb_ctx)
        # Making a generator object runs none of its code: no thread needed (its steps get one).
        items = spec.func(*args) if spec.is_async else _iterate_sync(app, spec.func(*args))
        async for item in items:
            updates = _side_updates(cb_ctx) + _updates_of(item, spec)
            if updates:
                await run.publish(RunMessage("props", updates))
            # An idle stream keeps only the encoded message (for replay), not the values behind it.
            item = None
            updates = []
        if cb_ctx.updated_props:
            await run.publish(RunMessage("props", _side_updates(cb_ctx)))
        outcome = "done"
        await run.publish_final(RunMessage("done", {}))
    except PreventUpdate:
        outcome = "done"
        await run.publish_final(RunMessage("done", {}))
    except asyncio.CancelledError:
        outcome = "closed"
        if run.bus is not None and app.stream_runs.closing:
            outcome = "gone"
            # This worker is stopping, the page is not: it starts the run over on another one.
            await run.announce_closed(RunMessage("gone", {}))
        else:
            await run.announce_closed(RunMessage("done", {"closed": True}))
        raise
    except StreamBusError as exc:  # Redis went away under the run: the page resumes or restarts it
        outcome = "gone"
        run.bus.storage.outage.failed(exc, f"running stream '{spec.func.__name__}' (stopped)")  # type: ignore[union-attr]
        await run.publish_final(RunMessage("gone", {}))  # lands only if Redis is back by now
    except Exception as exc:
        logger.error("Stream '%s' failed", spec.func.__name__, exc_info=exc)
        record_failure(app, run, exc)  # the dev tools' Streams panel (debug only)
        answer = await _error_answer(app, spec, cb_ctx, exc)
        try:
            if answer:
                await run.publish(RunMessage("props", answer))
            if answer is not None and spec.outputs is not None:  # Dash 4.5: handled, no callback error
                await run.publish_final(RunMessage("done", {}))
            else:
                await run.publish_final(RunMessage("error", _error_body(app, spec, exc, handled=bool(answer))))
        except StreamBusError as bus_exc:
            run.bus.storage.outage.failed(bus_exc, f"telling a page that stream '{spec.func.__name__}' failed")  # type: ignore[union-attr]
    finally:
        try:
            if items is not None:
                await items.aclose()  # a generator that started runs its `finally`
        except Exception:  # its `finally` raised
            logger.exception("Closing stream '%s' failed", spec.func.__name__)
        finally:
            app.stream_runs.run_finished(run)
            if metrics is not None:
                metrics.run_ended(outcome, traced, run.seq)


def _error_body(app: "StreamHost", spec: EventCallbackSpec, exc: Exception, handled: bool) -> dict[str, Any]:
    # `handled`: on_error answered with updates, so the page shows the failure itself.
    body: dict[str, Any] = {"stream": spec.func.__name__, "message": "The stream failed.", "handled": handled}
    if app.backend.error_handling_mode != "ignore":  # debug: the message dev tools show, as Dash 4.5's
        body["message"] = str(exc) or repr(exc)
        body["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return body
