"""A stream as an MCP tool: its name, its input schema typed from the generator's parameters,
and how a tool call's arguments become the stream endpoint's start body (used by mcp_tools.py)."""

from __future__ import annotations

import inspect
import json
import re
import typing
from typing import Any

from ..declare.spec import EventCallbackSpec

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object", tuple: "array"}


def sanitize_name(name: str) -> str:
    cleaned = re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_]", "_", name)).strip("_") or "stream"
    return ("cb_" + cleaned if cleaned[0].isdigit() else cleaned)[:56]


def _dep_name(dep: Any) -> str:
    cid = dep.component_id
    shown = json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else repr(cid)
    return f"{type(dep).__name__}({shown}, {dep.component_property!r})"


def id_key(component_id: Any) -> str:
    """A component id as a JSON object key (Dash's form for a pattern-matching id)."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def _schema_of(annotation: Any) -> tuple[dict[str, Any], bool]:
    """A JSON schema for a parameter's annotation, and whether it may be null."""
    if annotation is None:
        return {}, True
    args = typing.get_args(annotation)
    if type(None) in args:  # Optional[X] / X | None
        rest = [arg for arg in args if arg is not type(None)]
        schema, _ = _schema_of(rest[0]) if len(rest) == 1 else ({}, True)
        return schema, True
    json_type = _JSON_TYPES.get(typing.get_origin(annotation) or annotation)
    return ({"type": json_type} if json_type else {}), annotation is Any


class StreamTool:
    """One stream as a tool: its name, and how tool arguments become the start body."""

    def __init__(self, name: str, spec: EventCallbackSpec) -> None:
        self.name, self.spec = name, spec
        deps = [*spec.inputs, *spec.states]
        try:
            params = list(inspect.signature(spec.func).parameters)
        except (TypeError, ValueError):
            params = []
        self.params = [params[i] if i < len(params) else f"param_{i}" for i in range(len(deps))]
        try:
            hints = typing.get_type_hints(spec.func)
        except Exception:  # unresolvable annotations
            hints = {}
        self.hints = [hints.get(name) for name in self.params]
        self.deps = deps

    def as_tool(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required = []
        for dep, name, hint in zip(self.deps, self.params, self.hints, strict=True):
            typed, nullable = _schema_of(hint)
            wildcard = isinstance(dep.component_id, dict) and dep.has_wildcard()
            how = (
                " A pattern-matching dependency: give Dash's entries, a list of {id, property, value} (one object for MATCH)."
                if wildcard
                else ""
            )
            properties[name] = {**typed, "description": f"{_dep_name(dep)}.{how}"}
            if hint is not None and not nullable:
                required.append(name)
        doc = (self.spec.func.__doc__ or "").strip()
        kind = "streaming callback" if self.spec.outputs is not None else "event callback"
        description = (f"{doc}\n\n" if doc else f"The {kind} '{self.spec.func.__name__}'. ") + (
            "A stream: each frame it yields arrives as a progress notification (its updates as "
            "JSON: {component_id: {prop: value}}); the result holds the last frame's updates "
            "('response') and every prop's final value ('props'). Cancelling the call stops it."
        )
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        return {"name": self.name, "description": description, "inputSchema": schema}

    def start_body(self, arguments: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(arguments) - set(self.params))
        if unknown:
            raise ValueError(
                f"Unknown argument(s) for {self.name}: {', '.join(unknown)}; it takes {', '.join(self.params) or 'none'}."
            )
        missing = [
            name
            for name, hint in zip(self.params, self.hints, strict=True)
            if hint is not None and not _schema_of(hint)[1] and name not in arguments
        ]
        if missing:
            raise ValueError(f"Missing argument(s) for {self.name}: {', '.join(missing)}.")
        entries = [self._entry(dep, arguments.get(name)) for dep, name in zip(self.deps, self.params, strict=True)]
        first = self.spec.inputs[0]
        trigger = f"{id_key(first.component_id)}.{first.component_property}"
        return {
            "inputs": entries[: len(self.spec.inputs)],
            "state": entries[len(self.spec.inputs) :],
            "changedPropIds": [] if isinstance(first.component_id, dict) else [trigger],
        }

    @staticmethod
    def _entry(dep: Any, value: Any) -> Any:
        if isinstance(dep.component_id, dict) and dep.has_wildcard():
            if isinstance(value, list) or (isinstance(value, dict) and "id" in value):
                return value  # Dash's own form, as the page sends it
            raise ValueError(
                f"{_dep_name(dep)} is a pattern-matching dependency: give a list of "
                "{id, property, value} entries (one object for MATCH)."
            )
        return {"id": dep.component_id, "property": dep.component_property, "value": value}
