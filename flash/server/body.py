"""Parse and check a callback request body before any user code sees it."""
from __future__ import annotations

from typing import Any, Mapping

import orjson
from quart import request

from .errors import RequestError


async def read_json_body(what: str = "request body") -> Any:
    """Read the body (Quart enforces MAX_CONTENT_LENGTH with a 413) and parse it as JSON."""
    return parse_json_body(await request.get_data(cache=False), what)


def parse_json_body(data: bytes, what: str = "request body") -> Any:
    if not data:
        raise RequestError(f"The {what} is empty; expected a JSON object.")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise RequestError(f"The {what} is not valid JSON: {err}.") from None


def _check_dependency(item: Any, where: str) -> None:
    if isinstance(item, list):
        for sub in item:
            _check_dependency(sub, where)
        return
    if not isinstance(item, dict) or "id" not in item or "property" not in item:
        raise RequestError(
            f"Each entry of '{where}' must be an object with 'id' and 'property' "
            "(or a list of such objects for pattern-matching ids)."
        )
    if not isinstance(item["property"], str) or not isinstance(
        item["id"], (str, dict)
    ):
        raise RequestError(
            f"An entry of '{where}' has an 'id' that is neither a string nor an object, "
            "or a 'property' that is not a string."
        )


def check_dependency_list(body: Mapping[str, Any], key: str, expected: int) -> None:
    items = body.get(key, [])
    if not isinstance(items, list):
        raise RequestError(f"'{key}' must be a list.")
    if len(items) != expected:
        raise RequestError(
            f"'{key}' has {len(items)} entries but the callback declares {expected}."
        )
    for item in items:
        _check_dependency(item, key)


def check_callback_body(body: Any, callback_map: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the callback spec the body targets, or raise RequestError saying what is wrong."""
    if not isinstance(body, dict):
        raise RequestError("The callback request body must be a JSON object.")
    output = body.get("output")
    if not isinstance(output, str) or not output:
        raise RequestError("'output' must be a non-empty string naming a callback.")
    spec = callback_map.get(output)
    if spec is None:
        raise RequestError(
            f"Unknown callback output '{output}'.", output=output
        )
    check_dependency_list(body, "inputs", len(spec["inputs"]))
    check_dependency_list(body, "state", len(spec["state"]))
    outputs = body.get("outputs", [])
    if not isinstance(outputs, (list, dict)):
        raise RequestError("'outputs' must be an object or a list of objects.")
    if outputs:
        _check_dependency(outputs, "outputs")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise RequestError("'changedPropIds' must be a list of strings.")
    return spec
