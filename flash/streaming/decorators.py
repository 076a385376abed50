"""`event_callback` and Flash's `callback` (which turns an Output-less generator into a stream)."""
from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar, cast

import dash
from dash.dependencies import Output, handle_callback_args

from .spec import PENDING_STREAMS, EventCallbackSpec, build_output_spec, build_spec

F = TypeVar("F", bound=Callable[..., Any])


def _decorator(registry: list[EventCallbackSpec], deps: tuple[Any, ...], cancel: Any, reset_props: Any,
               on_error: Any, prevent_initial_call: bool, restart_on_worker_loss: bool = False,
               background: bool = False) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        spec = build_spec(func, deps, cancel, reset_props, on_error, prevent_initial_call)
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
    app's ``CeleryManager`` worker (with Redis shared storage; see ``flash.streaming.jobs``).
    """
    return _decorator(PENDING_STREAMS, dependencies, cancel, reset_props, on_error, prevent_initial_call,
                      restart_on_worker_loss, background)


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


def streaming_decorator(registry: list[EventCallbackSpec], args: tuple[Any, ...], kwargs: dict[str, Any],
                        plain: Callable[[F], F]) -> Callable[[F], F]:
    """What `callback` does with a function: a generator streams, anything else is `plain`'s.

    A generator with Outputs is a Dash 4.5 streaming callback (each yield is a return value); a
    generator without Outputs is an event callback (it yields stream_props)."""

    def decorate(func: F) -> F:
        if not _is_generator(func):
            return plain(func)
        if _has_output(args, kwargs):
            outputs, inputs, states, prevent = handle_callback_args(list(args), dict(kwargs))
            spec = build_output_spec(func, outputs, inputs, states, prevent)
            registry.append(spec)
            func.stream_id = spec.stream_id  # type: ignore[attr-defined]
            return func
        options = {k: kwargs[k] for k in ("cancel", "reset_props", "on_error", "restart_on_worker_loss", "background")
                   if k in kwargs}
        deps = args + _as_tuple(kwargs.get("inputs")) + _as_tuple(kwargs.get("state"))
        return _decorator(registry, deps, options.get("cancel"), options.get("reset_props"),
                          options.get("on_error"), kwargs.get("prevent_initial_call", True),
                          bool(options.get("restart_on_worker_loss")), bool(options.get("background")))(func)

    return decorate


def callback(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Dash's `@callback`. On a generator it streams: with Outputs each yield is a return value
    (Dash 4.5's streaming callbacks, sync generators too); without Outputs it is an event
    callback."""
    def plain(func: F) -> F:
        return cast(F, dash.callback(*args, **kwargs)(func))  # Dash's decorator returns `func` itself

    return streaming_decorator(PENDING_STREAMS, args, kwargs, plain)
