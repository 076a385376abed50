"""Parse and check a callback request body before any user code sees it."""

from __future__ import annotations

import zlib
from typing import Any, Iterable, Mapping

import orjson
from dash.dependencies import ALL, ALLSMALLER, Output
from quart import request

from .errors import RequestError
from .guard import check_depth
from .limits import DEFAULT_MAX_JSON_DEPTH


async def read_request_body() -> bytes:
    """The request body as bytes, not kept on the request (Quart enforces MAX_CONTENT_LENGTH
    with a 413). All three arguments are spelled out: only that overload of Quart's `get_data`
    is typed `bytes` rather than `str | bytes`."""
    return await request.get_data(cache=False, as_text=False, parse_form_data=False)


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """One header of an ASGI scope (`name` in lower case), or None."""
    return next((value.decode("latin1") for key, value in headers if key == name), None)


def decode_body(data: bytes, content_encoding: str | None, limit: int | None) -> bytes:
    """A body sent with `Content-Encoding: gzip` (Dash 4.5's `compress_payload=True` callbacks),
    inflated to at most `limit` bytes (the app's request size limit: 413 beyond it, so a small
    compressed body cannot expand without bound); any other body as it is."""
    if not content_encoding or "gzip" not in content_encoding.lower():
        return data
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        inflated = inflater.decompress(data, limit + 1 if limit else 0)  # 0: no bound
    except zlib.error as err:
        raise RequestError("The gzip request body could not be decompressed.", debug=str(err)) from None
    if limit is not None and len(inflated) > limit:
        raise RequestError("The decompressed request body is larger than the app accepts.", status=413)
    if not inflater.eof or inflater.unused_data:
        raise RequestError("The gzip request body is incomplete or has data after its end.")
    return inflated


def parse_json_body(data: bytes, what: str = "request body", max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """Parse `data` as JSON nested at most `max_depth` deep, or raise RequestError (400)."""
    if not data:
        raise RequestError(f"The {what} is empty; expected a JSON object.")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise RequestError(f"The {what} is not valid JSON.", debug=str(err)) from None
    check_depth(value, data, max_depth)
    return value


def _check_entry(item: Any, where: str) -> None:
    if not isinstance(item, dict) or "id" not in item or "property" not in item:
        raise RequestError(
            f"Each entry of '{where}' must be an object with 'id' and 'property' "
            "(or a list of such objects for pattern-matching ids)."
        )
    if not isinstance(item["property"], str) or not isinstance(item["id"], (str, dict)):
        raise RequestError(
            f"An entry of '{where}' has an 'id' that is neither a string nor an object, or a 'property' that is not a string."
        )


def _check_dependency(item: Any, where: str) -> None:
    """One dependency: an object, or (pattern-matching ALL/ALLSMALLER) a flat list of objects."""
    if isinstance(item, list):
        for sub in item:
            _check_entry(sub, where)
    else:
        _check_entry(item, where)


def check_dependency_list(body: Mapping[str, Any], key: str, expected: int) -> None:
    items = body.get(key, [])
    if not isinstance(items, list):
        raise RequestError(f"'{key}' must be a list.")
    if len(items) != expected:
        raise RequestError(f"'{key}' has {len(items)} entries but the callback declares {expected}.")
    for item in items:
        _check_dependency(item, key)


def check_callback_body(body: Any, callback_map: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the callback spec the body targets, or raise RequestError saying what is wrong."""
    if not isinstance(body, dict):
        raise RequestError("The callback request body must be a JSON object.")
    output = body.get("output")
    if not isinstance(output, str) or not output:
        raise RequestError("'output' must be a non-empty string naming a callback.")
    spec: Mapping[str, Any] | None = callback_map.get(output)
    if spec is None:
        raise RequestError("Unknown callback output: no callback of this app has it.", debug=f"output: {output[:200]!r}")
    if "callback" not in spec:  # Dash keeps clientside callbacks in the same map, with no function
        raise RequestError(
            "That callback runs in the browser (clientside): the server has nothing to run.", debug=f"output: {output[:200]!r}"
        )
    check_dependency_list(body, "inputs", len(spec["inputs"]))
    check_dependency_list(body, "state", len(spec["state"]))
    outputs = body.get("outputs", [])
    if not isinstance(outputs, (list, dict)):
        raise RequestError("'outputs' must be an object or a list of objects.")
    if not spec.get("no_output"):  # Dash ignores a no-output callback's 'outputs'
        check_outputs(outputs, spec["output"])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise RequestError("'changedPropIds' must be a list of strings.")
    return spec


def _flat_outputs(declared: Any) -> list[Output]:
    """The callback's Outputs in Dash's flat order (a list, or a dict grouping of them)."""
    if isinstance(declared, Output):
        return [declared]
    items = declared.values() if isinstance(declared, dict) else declared
    return [out for item in items for out in _flat_outputs(item)]


def _matches(want: Output, entry: Any) -> bool:
    _check_entry(entry, "outputs")
    if isinstance(want.component_id, str):  # the common case, without building an Output
        return bool(entry["id"] == want.component_id and entry["property"].split("@")[0] == want.component_property)
    try:
        return bool(Output(entry["id"], entry["property"].split("@")[0]) == want)
    except Exception:  # an id Dash cannot even compare
        return False


def check_outputs(outputs: Any, declared: Any) -> None:
    """What Dash's output validation would refuse (after running the callback, as a 500),
    refused here as a 400: 'outputs' must name the callback's own outputs, one entry per Output,
    a list exactly where the Output's id has an ALL/ALLSMALLER wildcard."""
    single = isinstance(declared, Output)
    flat = _flat_outputs(declared)
    given = [outputs] if single else outputs
    if not isinstance(given, list) or len(given) != len(flat):
        raise RequestError(f"'outputs' must have one entry per output of the callback ({len(flat)}).")
    for want, entry in zip(flat, given):
        wildcard = isinstance(want.component_id, dict) and any(
            value is ALL or value is ALLSMALLER for value in want.component_id.values()
        )
        if isinstance(entry, list) != wildcard:
            raise RequestError(
                "'outputs' does not match the callback's outputs: a list is expected "
                "exactly for an ALL/ALLSMALLER pattern output."
            )
        if not all(_matches(want, sub) for sub in (entry if wildcard else [entry])):
            raise RequestError("'outputs' does not match the callback's outputs.")
