"""What `event_callback` records, checked at decoration time so mistakes surface at import."""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from dash.dependencies import Input, Output, State

from ...exceptions import StreamError

# Event callbacks declared with the module-level decorator wait here until an app takes them
# on its first request, exactly like Dash's global `@callback`s.
PENDING_STREAMS: list["EventCallbackSpec"] = []


@dataclass
class EventCallbackSpec:
    func: Callable[..., Any]
    inputs: list[Input]
    states: list[State]
    cancel: list[tuple[Input, Any]] = field(default_factory=list)
    reset_props: list[tuple[Any, Mapping[str, Any]]] = field(default_factory=list)
    on_error: Callable[[Exception], Any] | None = None
    prevent_initial_call: bool | None = True  # None: the app's prevent_initial_callbacks
    stream_id: str = ""
    # Dash 4.5 streaming callbacks: the Outputs each yield fills (None for stream_props streams).
    outputs: list[tuple[Any, str]] | None = None
    multi_output: bool = False
    # With the stream bus: when the worker running it dies, start it over instead of failing.
    restart_on_worker_loss: bool = False
    background: bool = False  # run on the app's CeleryManager worker (jobs.py)
    # Dash's `running=`: (component_id, prop, value while the stream runs, value once it ended).
    running: list[tuple[Any, str, Any, Any]] = field(default_factory=list)

    @property
    def is_async(self) -> bool:
        return inspect.isasyncgenfunction(self.func)

    @property
    def trigger_key(self) -> str:
        """Event callbacks with the same dependencies share one trigger in the callback graph."""
        return _digest([*self.inputs, *self.states, self.prevent_initial_call])

    @property
    def cancel_key(self) -> str:
        return _digest([dep for dep, _ in self.cancel])


def _digest(parts: Sequence[Any]) -> str:
    return hashlib.sha1(repr([str(p) for p in parts]).encode()).hexdigest()[:16]


def _usage(name: str) -> str:
    return (
        f"@event_callback(Input('start', 'n_clicks'), State(...), cancel=[(Input('stop', 'n_clicks'), 0)], "
        f"reset_props=[('start', {{'disabled': False}})])\nasync def {name}(n_clicks, ...):\n"
        "    yield stream_props('out', {'children': '...'})"
    )


def _check_func(func: Any) -> None:
    name = getattr(func, "__name__", "my_stream")
    if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
        return
    kind = "an async function" if inspect.iscoroutinefunction(func) else "a plain function"
    raise StreamError(
        f"event_callback decorates a generator that yields stream_props(...), but '{name}' is "
        f"{kind}. Write it with `yield`:\n{_usage(name)}\n"
        "For a callback that returns values, use @callback with Output(...) instead."
    )


def _split_deps(deps: Sequence[Any], name: str) -> tuple[list[Input], list[State]]:
    inputs: list[Input] = []
    states: list[State] = []
    for dep in deps:
        if isinstance(dep, (list, tuple)):
            sub_in, sub_state = _split_deps(dep, name)
            inputs += sub_in
            states += sub_state
        elif isinstance(dep, Output):
            raise StreamError(
                f"event_callback '{name}' got Output({dep.component_id!r}, {dep.component_property!r}); "
                "event callbacks have no Output: yield stream_props(...) to update any component."
            )
        elif isinstance(dep, Input):
            inputs.append(dep)
        elif isinstance(dep, State):
            states.append(dep)
        else:
            raise StreamError(f"event_callback '{name}' takes Input(...) and State(...) dependencies, got {dep!r}.")
    return inputs, states


def _dash_cancel_form(name: str, given: Sequence[Input]) -> str:
    """Why Dash's background-callback `cancel=[Input(...)]` is not Flash's, and the rewrite."""
    clicks = any(dep.component_property == "n_clicks" for dep in given)
    pairs = ", ".join(
        f"(Input({dep.component_id!r}, {dep.component_property!r}), "
        + ("None)" if dep.component_property == "n_clicks" else "<the value it has while the stream runs>)")
        for dep in given
    )
    return (
        f"'{name}': each cancel entry must be (Input(id, prop), desired_state); got "
        f"{', '.join(repr(dep) for dep in given)}, Dash's background-callback form (cancel when the "
        "input fires). A Flash stream stops when the input's value stops equalling desired_state: "
        f"write cancel=[{pairs}]"
        + (" (a button's n_clicks is None until clicked, so any click stops the stream)" if clicks else "")
        + ". A background callback (background=True, with Output) takes Dash's form unchanged."
    )


def _check_cancel(cancel: Any, name: str) -> list[tuple[Input, Any]]:
    if cancel is None:
        return []
    hint = "cancel=[(Input('tabs', 'value'), 'dashboard'), (Input('stop', 'n_clicks'), 0)]"
    if isinstance(cancel, Input):
        raise StreamError("cancel must be a list. " + _dash_cancel_form(name, [cancel]))
    if not isinstance(cancel, (list, tuple)):
        raise StreamError(f"event_callback '{name}': cancel must be a list of (Input, desired_state) pairs, e.g. {hint}.")
    if cancel and all(isinstance(entry, Input) for entry in cancel):
        raise StreamError(_dash_cancel_form(name, list(cancel)))
    checked = []
    for entry in cancel:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], Input)):
            raise StreamError(
                f"event_callback '{name}': each cancel entry must be (Input(id, prop), desired_state); "
                f"got {entry!r}. The stream closes when the input's value stops equalling desired_state, e.g. {hint}."
            )
        checked.append((entry[0], entry[1]))
    return checked


def _check_reset(reset_props: Any, name: str) -> list[tuple[Any, Mapping[str, Any]]]:
    if reset_props is None:
        return []
    hint = "reset_props=[('start', {'disabled': False}), ('stop', {'hidden': True})]"
    if not isinstance(reset_props, (list, tuple)):
        raise StreamError(f"event_callback '{name}': reset_props must be a list of (id, props) pairs, e.g. {hint}.")
    checked = []
    for entry in reset_props:
        ok = isinstance(entry, (list, tuple)) and len(entry) == 2
        if not ok or not isinstance(entry[0], (str, dict)) or not isinstance(entry[1], Mapping):
            raise StreamError(
                f"event_callback '{name}': each reset_props entry must be (component_id, {{prop: value}}); "
                f"got {entry!r}, e.g. {hint}."
            )
        checked.append((entry[0], entry[1]))
    return checked


def check_outputs(outputs: Any, name: str) -> tuple[list[tuple[Any, str]], bool]:
    """The (id, prop) targets of a streaming callback and whether yields are lists."""
    multi = isinstance(outputs, (list, tuple))
    flat = list(outputs) if multi else [outputs]
    targets = []
    for output in flat:
        if not isinstance(output, Output):
            raise StreamError(f"streaming callback '{name}': {output!r} is not an Output.")
        if output.has_wildcard():
            raise StreamError(
                f"streaming callback '{name}': Output({output.component_id!r}, {output.component_property!r}) "
                "uses a pattern-matching wildcard; streaming callbacks take fixed Output ids. "
                "Use @event_callback with stream_props to update pattern-matched components."
            )
        targets.append((output.component_id, output.component_property))
    return targets, multi


def _check_running(running: Any, name: str) -> list[tuple[Any, str, Any, Any]]:
    """Dash's `running=[(Output(id, prop), value_while_running, value_after), ...]`."""
    if running is None:
        return []
    hint = "running=[(Output('start', 'disabled'), True, False)]"
    if not isinstance(running, (list, tuple)):
        raise StreamError(f"'{name}': running must be a list of (Output, on, off) triples, e.g. {hint}.")
    checked = []
    for entry in running:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[0], Output)):
            raise StreamError(f"'{name}': each running entry must be (Output(id, prop), on, off); got {entry!r}, e.g. {hint}.")
        if entry[0].has_wildcard():
            raise StreamError(
                f"'{name}': running Output({entry[0].component_id!r}, {entry[0].component_property!r}) "
                "uses a pattern-matching wildcard; a stream's running= takes fixed ids."
            )
        checked.append((entry[0].component_id, entry[0].component_property, entry[1], entry[2]))
    return checked


def build_spec(
    func: Any,
    deps: Sequence[Any],
    cancel: Any,
    reset_props: Any,
    on_error: Any,
    prevent_initial_call: bool | None,
    running: Any = None,
) -> EventCallbackSpec:
    _check_func(func)
    name = func.__name__
    inputs, states = _split_deps(deps, name)
    if not inputs:
        raise StreamError(f"event_callback '{name}' needs at least one Input(...) to start it.\n{_usage(name)}")
    if on_error is not None and not callable(on_error):
        raise StreamError(f"event_callback '{name}': on_error must be a function taking the exception.")
    spec = EventCallbackSpec(
        func=func,
        inputs=inputs,
        states=states,
        cancel=_check_cancel(cancel, name),
        reset_props=_check_reset(reset_props, name),
        on_error=on_error,
        prevent_initial_call=None if prevent_initial_call is None else bool(prevent_initial_call),
        running=_check_running(running, name),
    )
    spec.stream_id = _digest([f"{func.__module__}.{func.__qualname__}", *inputs, *states])
    return spec


def build_output_spec(
    func: Any,
    outputs: Any,
    inputs: list[Input],
    states: list[State],
    prevent_initial_call: bool | None,
    cancel: Any = None,
    on_error: Any = None,
    running: Any = None,
) -> EventCallbackSpec:
    """A Dash 4.5 streaming callback: a generator whose yields are return values. Its `on_error`
    (else the app's `Dash(on_error=...)`, see pump.py) answers with a return value too."""
    _check_func(func)
    targets, multi = check_outputs(outputs, func.__name__)
    spec = build_spec(func, [*inputs, *states], cancel, None, on_error, prevent_initial_call, running)
    spec.outputs, spec.multi_output = targets, multi
    spec.stream_id = _digest([f"{func.__module__}.{func.__qualname__}", *inputs, *states, repr(targets)])
    return spec
