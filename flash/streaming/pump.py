"""Drive an event callback's generator and publish what it yields as numbered SSE messages."""
from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator

from ..compat.dash import context_value
from ..exceptions import PreventUpdate, StreamError
from ..server.threads import run_in_thread
from .bus import StreamBusError
from .outputs import output_updates
from .props import StreamProps
from .runs import StreamRun
from .sse import encode_run_event
from .spec import EventCallbackSpec

if TYPE_CHECKING:
    from ..app import Flash

logger = logging.getLogger("flash.streaming")
_EXHAUSTED = object()


async def _iterate_sync(app: "Flash", gen: Generator[Any, None, None]) -> AsyncIterator[Any]:
    """Step a sync generator in the thread pool, one `next()` per item."""
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(run_in_thread(app.backend.executor, next, gen, _EXHAUSTED))
            item = await asyncio.shield(pending)
            pending = None
            if item is _EXHAUSTED:
                return
            yield item
    finally:
        if pending is not None and not pending.done():
            # The thread is mid-step; close the generator once that step returns.
            pending.add_done_callback(lambda _: app.backend.executor.submit(gen.close))
        else:
            await run_in_thread(app.backend.executor, gen.close)


def _updates_of(item: Any, spec: EventCallbackSpec) -> list[list[Any]]:
    if spec.outputs is not None:
        return output_updates(item, spec)
    if isinstance(item, StreamProps):
        return item.to_wire()
    if item is None:
        return []
    raise StreamError(
        f"event callback '{spec.func.__name__}' yielded {type(item).__name__}; "
        "yield stream_props(...) values only."
    )


def _side_updates(cb_ctx: Any) -> list[list[Any]]:
    """`set_props` calls made inside the generator since the last yield."""
    pending = cb_ctx.updated_props
    if not pending:
        return []
    updates = [[component_id, props] for component_id, props in pending.items()]
    pending.clear()
    return updates


async def _error_updates(spec: EventCallbackSpec, exc: Exception) -> list[list[Any]]:
    if spec.on_error is None:
        return []
    try:
        result = spec.on_error(exc)
        if inspect.isawaitable(result):
            result = await result
        return _updates_of(result, spec)
    except Exception:  # pylint: disable=broad-exception-caught
        logger.exception("on_error of stream '%s' failed", spec.func.__name__)
        return []


async def pump(app: "Flash", spec: EventCallbackSpec, run: StreamRun, cb_ctx: Any, args: list[Any]) -> None:
    """The run's task: iterate the generator, publish updates, then a done or error event."""
    context_value.set(cb_ctx)
    rid = run.run_id

    def message(event: str, data: Any) -> Any:
        return lambda seq: encode_run_event(event, rid, seq, data)

    if spec.is_async:
        items: AsyncIterator[Any] = spec.func(*args)
    else:
        items = _iterate_sync(app, await run_in_thread(app.backend.executor, spec.func, *args))
    try:
        async for item in items:
            updates = _side_updates(cb_ctx) + _updates_of(item, spec)
            if updates:
                await run.publish(message("props", updates))
            # An idle stream keeps only the encoded message (for replay), not the values behind it.
            item = None
            updates = []
        if cb_ctx.updated_props:
            await run.publish(message("props", _side_updates(cb_ctx)))
        await run.publish_final(message("done", {}))
    except PreventUpdate:
        await run.publish_final(message("done", {}))
    except asyncio.CancelledError:
        if run.bus is not None and app.stream_runs.closing:
            # This worker is stopping, the page is not: it starts the run over on another one.
            await run.announce_closed(message("gone", {}))
        else:
            await run.announce_closed(message("done", {"closed": True}))
        raise
    except StreamBusError as exc:  # Redis went away under the run: the page resumes or restarts it
        logger.warning("Stream '%s' stopped: %s", spec.func.__name__, exc)
        await run.publish_final(message("gone", {}))  # lands only if Redis is back by now
    except Exception as exc:  # pylint: disable=broad-exception-caught
        logger.error("Stream '%s' failed", spec.func.__name__, exc_info=exc)
        updates = await _error_updates(spec, exc)
        try:
            if updates:
                await run.publish(message("props", updates))
            await run.publish_final(message("error", _error_body(app, spec, exc, handled=bool(updates))))
        except StreamBusError as bus_exc:
            logger.warning("Could not tell the page that stream '%s' failed: %s", spec.func.__name__, bus_exc)
    finally:
        aclose = getattr(items, "aclose", None)
        try:
            if aclose is not None:
                await aclose()
        finally:
            app.stream_runs.run_finished(run)


def _error_body(app: "Flash", spec: EventCallbackSpec, exc: Exception, handled: bool) -> dict[str, Any]:
    # `handled`: on_error answered with updates, so the page shows the failure itself.
    body: dict[str, Any] = {"stream": spec.func.__name__, "message": "The stream failed.", "handled": handled}
    if app.backend.error_handling_mode != "ignore":  # debug: show it like a callback error
        body["message"] = f"{type(exc).__name__}: {exc}"
        body["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return body
