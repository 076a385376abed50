"""Unforgeable handles for downlinks and runs: server-issued ids signed with the app's secret.

A downlink token is ``<id>.<sig>``; a run handle is ``<id>.<sig>`` where the signature also
covers the downlink that owns the run, so a handle is worthless on any other downlink. Every
worker that shares the secret (``Flash(secret_key=...)`` / ``FLASH_SECRET_KEY``, else Dash 4.5's
``DASH_SECRET_KEY``) reads the same tokens.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets

logger = logging.getLogger("flash.streaming")
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{22})$")


def resolve_secret(secret_key: str | bytes | None) -> tuple[bytes, bool]:
    """The signing key and whether it was made up for this process only."""
    source = "secret_key"
    if secret_key is None:
        # DASH_SECRET_KEY: what a Dash 4.5 deployment sets so its workers sign stream requests alike.
        source = next((name for name in ("FLASH_SECRET_KEY", "DASH_SECRET_KEY") if os.environ.get(name)), source)
        secret_key = os.environ.get(source) or None
    if secret_key is None:
        return secrets.token_bytes(32), True
    if isinstance(secret_key, str):
        secret_key = secret_key.encode("utf-8")
    if len(secret_key) < 16:
        raise ValueError(f"{source} must be at least 16 bytes (use secrets.token_hex(32)).")
    return secret_key, False


class Signer:
    def __init__(self, key: bytes, ephemeral: bool = False) -> None:
        self._key = key
        self._ephemeral = ephemeral
        self._warned = False

    def _sig(self, *parts: str) -> str:
        mac = hmac.new(self._key, "\x00".join(parts).encode("utf-8"), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def new_downlink(self) -> tuple[str, str]:
        downlink_id = secrets.token_urlsafe(16)
        return downlink_id, f"{downlink_id}.{self._sig('downlink', downlink_id)}"

    def new_run(self, downlink_id: str) -> tuple[str, str]:
        run_id = secrets.token_urlsafe(16)
        return run_id, f"{run_id}.{self._sig('run', downlink_id, run_id)}"

    def read_downlink(self, token: object) -> str | None:
        """The downlink id a token names, or None when it is malformed or not signed by us."""
        return self._read(token, "downlink")

    def read_run(self, handle: object, downlink_id: str) -> str | None:
        """The run id a handle names, or None unless it was issued for `downlink_id`."""
        return self._read(handle, "run", downlink_id)

    def _read(self, token: object, kind: str, *scope: str) -> str | None:
        if not isinstance(token, str):
            return None
        match = _TOKEN.match(token)
        if match is None:
            return None
        ident, sig = match.groups()
        if hmac.compare_digest(sig, self._sig(kind, *scope, ident)):
            return ident
        if self._ephemeral and not self._warned:
            self._warned = True
            logger.warning(
                "A stream handle was refused: forged, or signed by another process. If several "
                "workers serve this app, each made up its own secret: set Flash(secret_key=...) or "
                "FLASH_SECRET_KEY to the same value on all of them."
            )
        return None
