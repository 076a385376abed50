"""Dash's per-callback context, built cheaply: request details are read only when asked for.

Dash copies every header and cookie of every callback request into the context up front; most
callbacks never look at them. Flash keeps the request context and fills `headers`, `cookies`, `args`,
`path`, `remote` and `origin` on first access, with the same values Dash would give. Likewise
the Quart Response behind `ctx.response` is made only when a cookie or header is set.
"""
from __future__ import annotations

from typing import Any, Callable

from dash._utils import AttributeDict, inputs_to_dict
from dash.backends._quart import QuartResponseAdapter
from quart import Response
from quart.globals import _cv_request

_READERS: dict[str, Callable[[Any], Any]] = {
    "cookies": lambda r: dict(r.cookies),
    "headers": lambda r: dict(r.headers),
    "args": lambda r: r.args,
    "path": lambda r: r.full_path,
    "remote": lambda r: r.remote_addr,
    "origin": lambda r: r.headers.get("origin"),
}


class CallbackContext(AttributeDict):
    def __missing__(self, key: str) -> Any:
        reader = _READERS.get(key)
        if reader is None:
            raise KeyError(key)
        value = reader(self.__dict__["_request_context"].request)
        dict.__setitem__(self, key, value)
        return value

    def materialize(self) -> "CallbackContext":
        """Fill every request entry (a background job's copy of the context needs them all)."""
        for key in _READERS:
            self[key]  # pylint: disable=pointless-statement
        return self


def build_callback_context(body: dict[str, Any], response_adapter: Any, eager: bool) -> CallbackContext:
    inputs = body.get("inputs", [])
    states = body.get("state", [])
    input_values = inputs_to_dict(inputs)
    context = CallbackContext(
        inputs_list=inputs,
        states_list=states,
        outputs_list=body.get("outputs", []),
        input_values=input_values,
        state_values=inputs_to_dict(states),
        triggered_inputs=[
            {"prop_id": prop_id, "value": input_values.get(prop_id)}
            for prop_id in body.get("changedPropIds", [])
        ],
        dash_response=response_adapter,
        updated_props={},
    )
    # The request context, not the request: on Flash's direct path the request is built on demand.
    object.__setattr__(context, "_request_context", _cv_request.get())
    return context.materialize() if eager else context


class DeferredResponseAdapter(QuartResponseAdapter):
    """`ctx.response` without a Quart Response until a cookie or header asks for one.

    Most callbacks set neither; their answer is just the JSON bytes (see `CallbackAnswer`).
    The base adapter's `_headers`/`_cookies` dicts are not made: Quart's adapter never uses them."""

    def __init__(self) -> None:  # pylint: disable=super-init-not-called
        self._made: Response | None = None

    @property
    def _quart_response(self) -> Response:
        if self._made is None:
            self._made = Response(content_type="application/json")
        return self._made

    @_quart_response.setter
    def _quart_response(self, value: Response) -> None:
        self._made = value

    def set_response(self, **kwargs: Any) -> Response | CallbackAnswer:
        data = kwargs.get("data", "")
        if self._made is None:
            return CallbackAnswer(data.encode() if isinstance(data, str) else data)
        self._made.set_data(data)
        return self._made


class CallbackAnswer:
    """A callback's JSON answer with Flash's default headers only; `to_response()` for Quart."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    def to_response(self) -> Response:
        return Response(self.body, content_type="application/json")
