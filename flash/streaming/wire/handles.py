"""Unforgeable handles for downlinks and runs: server-issued ids signed with the app's secret.

A downlink token is ``<id>.<sig>``; a run handle is ``<id>.<sig>`` where the signature also
covers the downlink that owns the run, so a handle is worthless on any other downlink. Every
worker that shares the secret reads the same tokens: the configured one (``Flash(secret_key=...)``
/ ``FLASH_SECRET_KEY`` / Dash 4.5's ``DASH_SECRET_KEY``), else this machine's key file
(`keyfile.py`), which every worker of one machine reads, so ``--workers N`` needs no setting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets

from .keyfile import KEY_FILE, machine_key

logger = logging.getLogger("flash.streaming")
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{22})$")


def resolve_secret(secret_key: str | bytes | None) -> tuple[bytes, bool]:
    """The signing key and whether Flash made it up (no key configured): then it is this
    machine's key file, or, where no key file can be made (a read-only temp dir), one per process."""
    source = "secret_key"
    if secret_key is None:
        # DASH_SECRET_KEY: what a Dash 4.5 deployment sets so its workers sign stream requests alike.
        source = next((name for name in ("FLASH_SECRET_KEY", "DASH_SECRET_KEY") if os.environ.get(name)), source)
        secret_key = os.environ.get(source) or None
    if secret_key is None:
        return _unconfigured_key(), True
    if isinstance(secret_key, str):
        secret_key = secret_key.encode("utf-8")
    if len(secret_key) < 16:
        raise ValueError(f"{source} must be at least 16 bytes (use secrets.token_hex(32)).")
    return secret_key, False


def _unconfigured_key() -> bytes:
    """This machine's key; a `KeyFileError` (a key file others could read or change) is not
    caught: better not to start than to trust it."""
    try:
        return machine_key()
    except OSError as exc:
        logger.warning(
            "Could not keep a stream signing key in %s (%s): this process uses its own key, so several "
            "workers refuse each other's streams. Set Flash(secret_key=...) or FLASH_SECRET_KEY.",
            exc.filename or KEY_FILE,
            exc.strerror or type(exc).__name__,
        )
        return secrets.token_bytes(32)


class Signer:
    def __init__(self, key: bytes, generated: bool = False) -> None:
        self._key = key
        self._generated = generated  # no key configured: say how to set one when a token is refused
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
        if self._generated and not self._warned:
            self._warned = True
            logger.warning(
                "A stream handle was refused: forged, or signed with another key. No key is set, so the "
                "workers of each machine share their own (its key file): if several machines serve "
                "this app, set Flash(secret_key=...) or FLASH_SECRET_KEY to the same value on all of them."
            )
        return None
