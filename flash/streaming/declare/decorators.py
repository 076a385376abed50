"""`event_callback` and Flash's `callback` (which turns an Output-less generator into a stream)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

import dash
from dash import exceptions as dash_exceptions
from dash.dependencies import Output, handle_callback_args

from ...compat.dash import register_from_caller
from ...exceptions import StreamError
from .spec import PENDING_STREAMS, EventCallbackSpec, build_output_spec, build_spec

if TYPE_CHECKING:
    from ..host import StreamHost

F = TypeVar("F", bound=Callable[..., Any])


def _decorator(
    registry: list[EventCallbackSpec],
    deps: tuple[Any, ...],
    cancel: Any,
    reset_props: Any,
    on_error: Any,
    prevent_initial_call: bool,
    restart_on_worker_loss: bool = False,
    background: bool = False,
    running: Any = None,
) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        spec = build_spec(func, deps, cancel, reset_props, on_error, prevent_initial_call, running)
        spec.restart_on_worker_loss = bool(restart_on_worker_loss)
        spec.background = bool(background)
        registry.append(spec)
        func.stream_id = spec.stream_id  # type: ignore[attr-defined]
        return func

    return decorate


def event_callback(
    *dependencies: Any,
    cancel: list[tuple[Any, Any]] | None = None,
    reset_props: list[tuple[Any, dict[str, Any]]] | None = None,
    on_error: Callable[[Exception], Any] | None = None,
    prevent_initial_call: bool = True,
    restart_on_worker_loss: bool = False,
    background: bool = False,
) -> Callable[[F], F]:
    """Stream prop updates to the browser from an (async) generator.

    Each ``yield stream_props(...)`` reaches the page over Server-Sent Events at once. The stream
    closes when a ``cancel`` condition stops holding (then ``reset_props`` is applied), when the
    same event callback starts again, or when the page goes away. With Redis shared storage, a
    run whose worker dies ends in ``reset_props`` with an error, or starts over on the page when
    ``restart_on_worker_loss=True``. ``background=True`` runs the generator as a job on the
    app's ``CeleryManager`` worker (with Redis shared storage; see ``flash.streaming.wire.jobs``).
    """
    return _module_level(
        _decorator(
            PENDING_STREAMS, dependencies, cancel, reset_props, on_error, prevent_initial_call, restart_on_worker_loss, background
        )
    )


def _served_app() -> StreamHost | None:
    """The current Dash app (`dash.get_app()`) if it is a Flash app that already took its streams
    (first request)."""
    try:
        app = dash.get_app()
    except Exception:  # AppNotFoundError: no app yet
        return None
    return app if getattr(app, "streams_taken", False) else None


def _module_level(decorate: Callable[[F], F]) -> Callable[[F], F]:
    """Module-level streams wait for an app's first request, like Dash's `@callback`s. One
    declared once the current app (`dash.get_app()`) has served would never reach its pages:
    it is wired into that app at once too (as `@app.event_callback` then is), and still waits
    for an app created later (a test suite's next app, say)."""

    def declare(func: F) -> F:
        before = len(PENDING_STREAMS)
        func = decorate(func)
        declared = PENDING_STREAMS[before:]
        app = _served_app() if declared else None
        if app is not None:
            app.add_streams(list(declared))
        return func

    return declare


def _has_output(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    def contains(value: Any) -> bool:
        if isinstance(value, Output):
            return True
        if isinstance(value, (list, tuple)):
            return any(contains(v) for v in value)
        if isinstance(value, dict):
            return any(contains(v) for v in value.values())
        return False

    return contains(args) or contains(kwargs.get("output"))


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        return tuple(value.values())
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _is_generator(func: Any) -> bool:
    return inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func)


# What `@callback` takes on a generator. `hidden` is accepted and moot: a stream's triggers are hidden.
_OUTPUT_OPTIONS = frozenset({"output", "inputs", "state", "prevent_initial_call", "hidden", "cancel", "running", "on_error"})
_EVENT_ONLY = frozenset({"reset_props", "restart_on_worker_loss", "background"})
_EVENT_OPTIONS = _OUTPUT_OPTIONS - {"output"} | _EVENT_ONLY

# Dash 4.5 has StreamCallbackError (a CallbackException); Dash 4.4 has not.
_DashStreamCallbackError: type[Exception] = getattr(dash_exceptions, "StreamCallbackError", dash_exceptions.CallbackException)


class BackgroundCallbackError(StreamError, dash_exceptions.BackgroundCallbackError):
    """`background=True` on a streaming callback with Outputs: what Dash 4.5 raises for it (so
    `except BackgroundCallbackError` catches it) and a `StreamError` (Flash's own `except`)."""


class StreamCallbackError(StreamError, _DashStreamCallbackError):  # type: ignore[misc,valid-type]
    """`mcp_enabled=` / `api_endpoint=` on a stream: on Dash 4.5 an instance of its
    `StreamCallbackError` (else of `CallbackException`, its base) and a `StreamError`."""


def _refusal_class(unknown: list[str], with_outputs: bool) -> type[StreamError]:
    """Dash 4.5's class for what it refuses too (checked in its order), else StreamError."""
    if with_outputs and "background" in unknown:
        return BackgroundCallbackError
    if "mcp_enabled" in unknown or "api_endpoint" in unknown:
        return StreamCallbackError
    return StreamError


def _check_options(func: Any, kwargs: dict[str, Any], with_outputs: bool) -> None:
    """A Dash option a stream would silently ignore fails here, saying what to do instead."""
    allowed = _OUTPUT_OPTIONS if with_outputs else _EVENT_OPTIONS
    unknown = sorted(
        k for k, v in kwargs.items() if k not in allowed and not (k in ("background", "mcp_enabled", "api_endpoint") and not v)
    )
    if not unknown:
        return
    name = getattr(func, "__name__", "stream")
    kind = (
        "a streaming callback (each yield fills its Outputs)"
        if with_outputs
        else "an event callback (no Output: it yields stream_props(...))"
    )
    parts = [f"'{name}' is a generator, so Flash runs it as {kind}; it does not take {', '.join(k + '=' for k in unknown)}."]
    single = [k for k in unknown if k in ("mcp_enabled", "api_endpoint")]
    if single:
        parts.append(
            f"{', '.join(k + '=' for k in single)} expect a single JSON result (Dash 4.5 refuses "
            f"them on a stream too): drop them, or make '{name}' a plain function (return, not yield)."
        )
    dash_only = [k for k in unknown if k not in _EVENT_ONLY and k not in single]
    if dash_only:
        parts.append(
            f"{', '.join(k + '=' for k in dash_only)} belong to Dash's background or websocket "
            f"callbacks: drop them, or make '{name}' a plain function (return, not yield)."
        )
    if "progress" in unknown or "progress_default" in unknown:
        parts.append("Instead of progress=, yield the progress: each yield reaches the page at once.")
    if with_outputs and _EVENT_ONLY.intersection(unknown):
        parts.append(
            "reset_props=, restart_on_worker_loss= and background= are event-callback "
            "options: drop the Outputs and yield stream_props(...) (@event_callback)."
        )
    raise _refusal_class(unknown, with_outputs)(" ".join(parts))


def streaming_decorator(
    registry: list[EventCallbackSpec], args: tuple[Any, ...], kwargs: dict[str, Any], plain: Callable[[F], F]
) -> Callable[[F], F]:
    """What `callback` does with a function: a generator streams, anything else is `plain`'s.

    A generator with Outputs is a Dash 4.5 streaming callback (each yield is a return value); a
    generator without Outputs is an event callback (it yields stream_props)."""

    def decorate(func: F) -> F:
        if not _is_generator(func):
            return plain(func)
        with_outputs = _has_output(args, kwargs)
        _check_options(func, kwargs, with_outputs)
        if with_outputs:
            outputs, inputs, states, prevent = handle_callback_args(list(args), dict(kwargs))
            spec = build_output_spec(
                func, outputs, inputs, states, prevent, kwargs.get("cancel"), kwargs.get("on_error"), kwargs.get("running")
            )
            registry.append(spec)
            func.stream_id = spec.stream_id  # type: ignore[attr-defined]
            return func
        deps, prevent = args, kwargs.get("prevent_initial_call", True)
        if deps and isinstance(deps[-1], bool):  # Dash's positional prevent_initial_call
            deps, prevent = deps[:-1], deps[-1]
        deps = deps + _as_tuple(kwargs.get("inputs")) + _as_tuple(kwargs.get("state"))
        return _decorator(
            registry,
            deps,
            kwargs.get("cancel"),
            kwargs.get("reset_props"),
            kwargs.get("on_error"),
            prevent,
            bool(kwargs.get("restart_on_worker_loss")),
            bool(kwargs.get("background")),
            kwargs.get("running"),
        )(func)

    return decorate


def callback(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Dash's `@callback`. On a generator it streams: with Outputs each yield is a return value
    (Dash 4.5's streaming callbacks, sync generators too); without Outputs it is an event
    callback."""

    def plain(func: F) -> F:
        # Dash's decorator returns `func` itself; Dash reads the call site when it is made
        return cast(F, register_from_caller(dash.callback, *args, **kwargs)(func))

    return _module_level(streaming_decorator(PENDING_STREAMS, args, kwargs, plain))
