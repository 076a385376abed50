"""A seeded corpus of malformed requests for every Flash/Dash endpoint (see test_fuzz_inputs.py).

`build_corpus(rng, target)` returns `Case`s: method, path, headers, body. The same seed gives the
same corpus. Most cases take a valid request of one endpoint and break one thing about it (a
wrong type at one key, a key gone, a truncated or garbage body, deep nesting, a huge string,
control characters, a wrong content type, method or path, a forged handle); some are pure garbage.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

from flash.streaming.wire.handles import Signer

JSON = "application/json"
CONTENT_TYPES = [
    None,
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/jsonx",
    "application/json; charset=latin1",
    "APPLICATION/JSON",
    "application/json ; charset=utf-8",
    "",
    "application/*",
    "*/*",
    "application/json;charset=utf-16",
    "text/html",
]
METHODS = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"]
WEIRD = [
    "",
    " ",
    "\x00",
    "\n",
    "\r\nX-Forged: 1",
    "\u2028",
    "\ud7ff",
    "é",
    "💥",
    "../../etc/passwd",
    "%00",
    "{",
    "\\",
    '"',
    "<script>",
    "a" * 300,
    "Traceback (most recent call last):",
    "\x1b[31mERROR\x1b[0m",
]


@dataclass
class Case:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = ""


@dataclass
class Target:
    """What the corpus needs to know about the app under test."""

    callbacks: list[dict]  # valid callback bodies, one per callback
    stream_body: dict  # a valid start body without its downlink
    stream_ids: list[str]
    secret: str
    suite_paths: list[str]  # registered component-suite URLs


def weird_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(14)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, -1, 2**63 - 1, -(2**63), 10**15])
    if pick == 3:
        return rng.choice([1.5, -0.0, 1e308, -1e-308])
    if pick in (4, 5):
        return rng.choice(WEIRD)
    if pick == 6:
        return "".join(chr(rng.randrange(0, 0x2FFF)) for _ in range(rng.randrange(1, 20)))
    if pick == 7:
        return [] if depth > 2 else [weird_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick == 8:
        return (
            {}
            if depth > 2
            else {rng.choice(WEIRD + ["id", "property", "value"]): weird_value(rng, depth + 1) for _ in range(rng.randrange(4))}
        )
    if pick == 9:
        return [[{"id": "x", "property": "y"}]]  # lists nested two deep
    if pick == 10:
        return {"id": weird_value(rng, 3), "property": weird_value(rng, 3)}
    if pick == 11:
        return [{"id": rng.choice(WEIRD), "property": rng.choice(WEIRD), "value": 1}]
    if pick == 12:
        return deep(rng.randrange(30, 40), rng.choice("[{"))
    return "x" * rng.randrange(1000, 50_000)


def deep(depth: int, opener: str = "[") -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if opener == "[" else {"k": value}
    return value


def deep_bytes(depth: int, opener: str) -> bytes:
    if opener == "[":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def paths_in(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path inside a JSON value (to break one thing at a time)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += paths_in(sub, prefix + (key,))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            found += paths_in(sub, prefix + (i,))
    return found


def mutate(rng: random.Random, body: Any) -> Any:
    body = copy.deepcopy(body)
    path = rng.choice(paths_in(body)[1:] or [()])
    if not path:
        return weird_value(rng)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    action = rng.randrange(10)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(WEIRD)] = weird_value(rng)
    elif action == 2:
        parent[last] = deep(rng.choice([33, 100, 999, 1100, 3000]), rng.choice("[{"))
    elif action == 3 and isinstance(parent, list):
        parent.append(weird_value(rng))
    else:
        parent[last] = weird_value(rng)
    return body


def encode(rng: random.Random, value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return b"[" * 2000


def broken_bytes(rng: random.Random, good: bytes) -> bytes:
    pick = rng.randrange(9)
    if pick == 0:
        return good[: rng.randrange(len(good))]  # truncated
    if pick == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))  # garbage
    if pick == 2:
        return good.replace(b'"', b"'", 1)
    if pick == 3:
        return b"\xff\xfe" + good  # not UTF-8
    if pick == 4:
        return deep_bytes(rng.choice([33, 500, 1000, 1023, 1024, 1025, 5000, 50_000]), rng.choice("[{"))
    if pick == 5:
        return good + b"garbage"
    if pick == 6:
        return rng.choice([b"null", b"true", b"1", b'"x"', b"[]", b"{}", b"[[[]]]", b"NaN", b"Infinity", b"-"])
    if pick == 7:
        return good[:-1] + b',"x":' + b'"' + b"y" * rng.randrange(100_000, 1_500_000) + b'"}'
    return b'{"a":"\\ud800"}'  # lone surrogate escape


class Builder:
    def __init__(self, rng: random.Random, target: Target) -> None:
        self.rng = rng
        self.target = target
        self.signer = Signer(target.secret.encode())
        self.token_no = 0

    # --- handles -------------------------------------------------------------------------
    def token(self) -> tuple[str, str]:
        """A downlink token this server accepts (its id made from the seed)."""
        self.token_no += 1
        ident = f"fuzzdownlink{self.rng.getrandbits(64):016x}"[:32]
        return ident, f"{ident}.{self.signer._sig('downlink', ident)}"

    def run_handle(self, downlink_id: str) -> str:
        ident = f"fuzzrun{self.rng.getrandbits(64):016x}"
        return f"{ident}.{self.signer._sig('run', downlink_id, ident)}"

    def bad_token(self) -> Any:
        ident, token = self.token()
        rng = self.rng
        return rng.choice(
            [
                token[:-1] + ("A" if token[-1] != "A" else "B"),
                token + ".x",
                ident,
                "." + token,
                token.replace(".", ""),
                self.run_handle(ident),
                weird_value(rng),
                "a" * 64 + ".b" * 22,
            ]
        )

    # --- cases ---------------------------------------------------------------------------
    def post(self, path: str, value: Any, kind: str, headers: dict | None = None) -> Case:
        raw = value if isinstance(value, bytes) else encode(self.rng, value)
        merged = {"Content-Type": JSON, **(headers or {})}
        return Case("POST", path, raw, {k: v for k, v in merged.items() if v is not None}, kind)

    def callback(self) -> Case:
        rng = self.rng
        good = rng.choice(self.target.callbacks)
        pick = rng.random()
        if pick < 0.55:
            return self.post("/_dash-update-component", mutate(rng, good), "callback-mutated")
        if pick < 0.7:
            return self.post("/_dash-update-component", broken_bytes(rng, encode(rng, good)), "callback-bytes")
        if pick < 0.8:
            body = copy.deepcopy(good)
            body["output"] = rng.choice(
                [rng.choice(WEIRD), good["output"] + rng.choice(WEIRD), rng.choice(self.target.callbacks)["output"]]
            )
            return self.post("/_dash-update-component", body, "callback-output")
        if pick < 0.9:
            body = copy.deepcopy(good)
            body["outputs"] = rng.choice(
                [
                    rng.choice(self.target.callbacks)["outputs"],
                    weird_value(rng),
                    [body["outputs"]],
                    [[body["outputs"]]],
                    {"id": "out", "property": "nope"},
                ]
            )
            return self.post("/_dash-update-component", body, "callback-outputs")
        return self.post("/_dash-update-component", good, "callback-content-type", {"Content-Type": rng.choice(CONTENT_TYPES)})

    def stream_start(self) -> Case:
        rng = self.rng
        stream_id = rng.choice(self.target.stream_ids)
        body = {**self.target.stream_body, "downlink": rng.choice([self.bad_token(), self.bad_token(), None])}
        pick = rng.random()
        if pick < 0.15:
            stream_id = quote(
                rng.choice([rng.choice(WEIRD), stream_id + "x", "%2e%2e", "a" * 500, "%00", "%F0%9F%92%A5"]), safe="%"
            )
        if pick < 0.7:
            return self.post(f"/_flash/stream/{stream_id}", mutate(rng, body), "stream-mutated")
        if pick < 0.85:
            return self.post(f"/_flash/stream/{stream_id}", broken_bytes(rng, encode(rng, body)), "stream-bytes")
        return self.post(
            f"/_flash/stream/{stream_id}",
            body,
            "stream-content-type",
            {"Content-Type": rng.choice(CONTENT_TYPES), "Origin": "http://evil.example"},
        )

    def downlink_or_close(self) -> Case:
        rng = self.rng
        ident, token = self.token()
        handles = [
            self.run_handle(ident) if rng.random() < 0.5 else self.run_handle("other" + ident) for _ in range(rng.randrange(0, 5))
        ]
        if rng.random() < 0.5:
            path, kind = "/_flash/downlink", "downlink"
            runs: Any = {h: rng.choice([0, 5, -1, True, 1.5, "3", None, 2**70]) for h in handles}
            body = {"downlink": rng.choice([token, self.bad_token()]), "runs": runs}
        else:
            path, kind = "/_flash/close", "close"
            body = {"downlink": rng.choice([token, self.bad_token()]), "runs": handles + [self.bad_token()]}
        pick = rng.random()
        if pick < 0.65:
            return self.post(path, mutate(rng, body), kind + "-mutated")
        if pick < 0.85:
            return self.post(path, broken_bytes(rng, encode(rng, body)), kind + "-bytes")
        return self.post(path, body, kind + "-content-type", {"Content-Type": rng.choice(CONTENT_TYPES)})

    def get(self) -> Case:
        rng = self.rng
        weird = rng.choice(WEIRD + ["%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fsetup.py", "%ff%fe", "a/b/c" * 50])
        quoted = "".join(c if c.isalnum() or c in "/.-_%" else f"%{ord(c) & 0xFF:02X}" for c in weird)
        suite = rng.choice(self.target.suite_paths)  # the small ones: the point is the paths, not MBs of JS
        path = rng.choice(
            [
                "/_dash-layout",
                "/_dash-dependencies",
                "/_reload-hash",
                "/_favicon.ico",
                "/_dash-ws-callback",
                f"/_dash-layout?{quoted}",
                f"/_dash-dependencies?x={quoted}",
                suite,
                suite + quoted,
                suite.rsplit("/", 1)[0] + "/" + quoted,
                f"/_dash-component-suites/{quoted}/x.js",
                f"/_dash-component-suites/dash/{quoted}",
                f"/assets/{quoted}",
                f"/{quoted}",
                f"/_dash-{quoted}",
                f"/_flash/{quoted}",
                f"/page/{quoted}",
                f"/?{quoted}",
                "/_flash/stream/",
                f"/_dash-update-component/{quoted}",
            ]
        )
        headers = {}
        if rng.random() < 0.2:
            headers = {
                "Accept": rng.choice(["*/*", "text/html", "text/event-stream", "application/json"]),
                "Accept-Encoding": rng.choice(["gzip", "br", "identity;q=0", "x" * 300]),
            }
        return Case(rng.choice(["GET", "GET", "GET", "HEAD"]), path, b"", headers, "get")

    def wrong_method(self) -> Case:
        rng = self.rng
        path = rng.choice(
            [
                "/_dash-update-component",
                "/_flash/downlink",
                "/_flash/close",
                f"/_flash/stream/{rng.choice(self.target.stream_ids)}",
                "/_dash-layout",
                "/_dash-dependencies",
                rng.choice(self.target.suite_paths),
            ]
        )
        method = rng.choice(METHODS + (["POST"] if not path.startswith(("/_dash-update", "/_flash")) else []))
        body = encode(rng, weird_value(rng)) if rng.random() < 0.5 else b""
        return Case(method, path, body, {"Content-Type": JSON} if body else {}, "method")


def build_corpus(seed: int, target: Target, size: int) -> list[Case]:
    rng = random.Random(seed)
    builder = Builder(rng, target)
    makers: list[tuple[float, Callable[[], Case]]] = [
        (0.40, builder.callback),
        (0.18, builder.stream_start),
        (0.17, builder.downlink_or_close),
        (0.17, builder.get),
        (0.08, builder.wrong_method),
    ]
    cases = []
    for _ in range(size):
        pick, total = rng.random(), 0.0
        for weight, make in makers:
            total += weight
            if pick < total:
                cases.append(make())
                break
        else:
            cases.append(makers[-1][1]())
    return cases
