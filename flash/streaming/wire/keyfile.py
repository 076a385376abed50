"""The signing key the workers of one machine share when nobody configured one.

Why: `uvicorn --workers 4` (or Hypercorn's, or gunicorn's) without a configured key used to make
up one key per process, so a start that reached another worker than its downlink's was a 403 and
a reconnect after the downlink's worker died was refused. Now, when none of `Flash(secret_key=)`,
`FLASH_SECRET_KEY` and `DASH_SECRET_KEY` is set, every process of this user on this machine
reads one key from ``<temp dir>/flash-shared-<uid>/handles.key`` (the private directory
`LocalSharedStorage` uses), the first one creating it.

Security: anyone who can read that file can sign stream handles for the Flash apps this user
runs on this machine without a configured key. It is created 0600 in the user's 0700 directory
and used only while that still holds: a key file owned by another user, readable or writable by
group or others, a symlink or not a regular file is refused (`KeyFileError`, naming the fix).
Workers on several machines each have their own file: they need a configured key.
"""

from __future__ import annotations

import os
import re
import secrets
import stat

from ...storage.base import SharedStorageError
from ...storage.local import _private_dir

KEY_FILE = "handles.key"
_HEX = re.compile(r"[0-9a-f]{64}")
_SET_A_KEY = "or set FLASH_SECRET_KEY (the same value on every worker)"


class KeyFileError(RuntimeError):
    """The machine's key file exists but may not be trusted (or is not a key)."""


def key_directory() -> str:
    """This user's private directory for the key file (refuses one another user planted)."""
    try:
        return _private_dir()
    except SharedStorageError as exc:
        raise KeyFileError(f"{exc}: Flash keeps its stream signing key there; remove it, {_SET_A_KEY}.") from exc


def machine_key(directory: str | None = None) -> bytes:
    """The 32-byte key in `directory`'s key file, created (race-safe) if there is none yet."""
    path = os.path.join(directory or key_directory(), KEY_FILE)
    for _ in range(5):
        try:
            return _read(path)
        except FileNotFoundError:
            _create(path)
    raise KeyFileError(f"{path} keeps disappearing; {_SET_A_KEY}.")


def _create(path: str) -> None:
    """Write a fresh key to a private temp file, then link it into place: the key file appears
    complete or not at all, and when N workers start at once exactly one link wins (the others
    get FileExistsError and read the winner's key)."""
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another worker created it first: theirs is the key
    finally:
        os.unlink(tmp)


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP: a symlink
        raise KeyFileError(f"cannot open the key file {path} ({exc.strerror}): remove it, {_SET_A_KEY}.") from exc
    try:
        check_private(path, os.fstat(fd))
        raw = os.read(fd, 256)
    finally:
        os.close(fd)
    text = raw.decode("ascii", "replace").strip()
    if not _HEX.fullmatch(text):
        raise KeyFileError(f"{path} does not hold a Flash key (64 hex digits): delete it to make a new one, {_SET_A_KEY}.")
    return bytes.fromhex(text)


def check_private(path: str, info: os.stat_result) -> None:
    """Refuse a key file another user could have written or can read (see the module docstring)."""
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path} is not a regular file: remove it, {_SET_A_KEY}.")
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: no POSIX owner and mode bits
        return
    if info.st_uid != os.getuid():
        raise KeyFileError(
            f"the key file {path} belongs to another user (uid {info.st_uid}), who could sign "
            f"stream handles: remove it, {_SET_A_KEY}."
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"the key file {path} has mode {mode:04o}: other users can read or change it, and "
            f"whoever reads it can sign stream handles. Run `chmod 600 {path}` (or delete it), "
            f"{_SET_A_KEY}."
        )
