"""`LocalSharedStorage`: in memory, shared by every worker process of an app on one machine.

Why an elected owner: Dash 4.5 documents that this backend shares data between worker processes
on one machine without any service. Here the first process to take an exclusive `flock` on a
lock file under the temp dir becomes the owner: it holds the data in memory (`MemoryEngine`) and
serves the other workers over a Unix socket (HMAC-authenticated with a key in a 0600 file; requests
are JSON, never pickle). The lock is the lease: when the owner dies the kernel drops it and the
next process to reach the store takes over, with an empty store (like Dash: in memory, not
durable; a subscription that was reading from the dead owner gets `SharedStorageGap`).

One process alone pays nothing for this: it is the owner and calls the engine directly. Workers
find each other by `namespace` (default: a hash of the working directory and the script), so
two different apps on one machine do not share. Without `fcntl` (Windows) each process keeps
its own store.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

import orjson

from .base import BaseSharedStorage, SharedStorageError, SharedStorageGap, Subscription, check_topic_ttl, check_ttl
from .codec import decode, encode
from .engine import DEFAULT_BUFFER, MemoryEngine
from .subscription import Batch, PollingSubscription

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_CONNECT_TIMEOUT = 5.0  # seconds a new client waits for an owner that is still starting
_REMOTE_POLL = 1.0
_INSTANCES: "weakref.WeakSet[LocalSharedStorage]" = weakref.WeakSet()


def _private_dir() -> str:
    """This user's 0700 directory under the temp dir (refuses one another user planted)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = os.path.join(tempfile.gettempdir(), f"flash-shared-{uid}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or (hasattr(os, "getuid") and info.st_uid != uid):
        raise SharedStorageError(f"{path} is not a private directory of this user")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def default_namespace() -> str:
    raw = f"{os.getcwd()}|{sys.argv[0] if sys.argv else ''}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def handle(engine: MemoryEngine, op: str, *args: Any) -> Any:
    """Run one wire request (JSON-safe arguments and answer) on the engine."""
    if op == "get":
        raw = engine.get(args[0])
        return None if raw is None else raw.decode()
    if op == "set":
        return engine.set(args[0], args[1].encode(), args[2])
    if op == "delete":
        return engine.delete(args[0])
    if op == "publish":
        return engine.publish(args[0], args[1].encode())
    if op == "head":
        return engine.head(args[0])
    if op == "poll":
        batch = engine.poll(args[0], args[1], min(float(args[2]), 30.0), int(args[3]))
        return [[[seq, raw.decode()] for seq, raw in batch.entries], batch.gap]
    raise ValueError(f"unknown operation {op!r}")


class _Server:
    """The owner's socket server: one thread per connected worker connection."""

    def __init__(self, engine: MemoryEngine, listener: Listener) -> None:
        self._engine = engine
        self._listener = listener
        self._conns: set[Connection] = set()
        threading.Thread(target=self._accept, name="flash-shared-storage", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except OSError:
                return  # listener closed
            except Exception:  # a client failed the HMAC
                continue
            self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        try:
            while True:
                request = orjson.loads(conn.recv_bytes())
                try:
                    answer = ["ok", handle(self._engine, *request)]
                except Exception as exc:
                    answer = ["err", f"{type(exc).__name__}: {exc}"]
                conn.send_bytes(orjson.dumps(answer))
        except (EOFError, OSError, ValueError):
            pass
        finally:
            self._conns.discard(conn)
            conn.close()

    def close(self) -> None:
        self._listener.close()
        for conn in list(self._conns):
            conn.close()


class _Link:
    """A client's connection to the owner (one request at a time)."""

    def __init__(self, storage: "LocalSharedStorage", key: bytes | None = None) -> None:
        self._storage = storage
        self._key = key  # set: talk to that owner only (a subscription must not switch owners)
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def call(self, *request: Any) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = self._storage._connect(self._key)
            try:
                self._conn.send_bytes(orjson.dumps(request))
                status, value = orjson.loads(self._conn.recv_bytes())
            except (EOFError, OSError):
                self.close()
                raise
        if status != "ok":
            raise SharedStorageError(value)
        return value

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class _RemoteReader:
    """A client-side subscription's own connection; async polls run on its own thread so that
    a waiting subscription never holds one of the loop's executor threads."""

    def __init__(self, storage: "LocalSharedStorage", owner_key: bytes | None) -> None:
        self._link = _Link(storage, owner_key)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="flash-subscription")

    def poll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        try:
            entries, gap = self._link.call("poll", topic, after, timeout, limit)
        except (EOFError, OSError, SharedStorageError) as exc:
            raise SharedStorageGap("the shared-storage owner process went away; messages it buffered are lost") from exc
        return Batch([(seq, raw.encode()) for seq, raw in entries], gap)

    async def apoll(self, topic: str, after: int, timeout: float, limit: int) -> Batch:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.poll, topic, after, timeout, limit)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
        self._link.close()


class LocalSharedStorage(BaseSharedStorage):
    """In-memory shared storage for the worker processes of one machine (see module docstring).

    :param namespace: processes with the same namespace share one store (default: derived from
        the working directory and the script, so the workers of one app agree).
    :param buffer_size: messages each topic keeps for replay (default 2048).
    """

    def __init__(self, namespace: str | None = None, buffer_size: int = DEFAULT_BUFFER) -> None:
        self.namespace = namespace or default_namespace()
        self.buffer_size = buffer_size
        base = os.path.join(_private_dir(), hashlib.sha256(self.namespace.encode()).hexdigest()[:24])
        self._lock_path, self._sock_path, self._key_path = base + ".lock", base + ".sock", base + ".key"
        self._guard = threading.RLock()
        self._reset()
        _INSTANCES.add(self)

    def _reset(self) -> None:
        self._pid: int | None = None
        self._lock_fd: int | None = None
        self._engine: MemoryEngine | None = None
        self._server: _Server | None = None
        self._link: _Link | None = None
        self._owner_key: bytes | None = None  # the key of the owner this client last reached

    @property
    def is_owner(self) -> bool:
        """Whether this process holds the data (the others reach it through this one)."""
        self.start()
        return self._engine is not None

    # --- election -----------------------------------------------------------------------
    def start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._guard:
            if self._pid != os.getpid():
                self._elect()

    def _elect(self) -> None:
        self._reset()
        self._pid = os.getpid()
        if fcntl is None:  # pragma: no cover - no cross-process lock: this process alone
            self._engine = MemoryEngine(self.buffer_size)
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._link = _Link(self)
            return
        self._lock_fd = fd
        if os.path.exists(self._sock_path):
            os.unlink(self._sock_path)  # left by an owner that died
        key = secrets.token_bytes(32)
        listener = Listener(self._sock_path, family="AF_UNIX", authkey=key)
        os.chmod(self._sock_path, 0o600)
        tmp = f"{self._key_path}.{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(key)
        os.replace(tmp, self._key_path)
        self._engine = MemoryEngine(self.buffer_size)
        self._server = _Server(self._engine, listener)

    def _connect(self, owner_key: bytes | None = None) -> Connection:
        """Connect to the owner; it may still be starting (no key yet, or a stale one). With
        `owner_key`, only to the owner holding that key (fails at once if it is gone)."""
        deadline = time.monotonic() + _CONNECT_TIMEOUT
        while True:
            try:
                key = owner_key
                if key is None:
                    with open(self._key_path, "rb") as key_file:
                        key = key_file.read()
                conn = Client(self._sock_path, family="AF_UNIX", authkey=key)
                if owner_key is None:
                    self._owner_key = key
                return conn
            except Exception as exc:
                if owner_key is not None or time.monotonic() > deadline:
                    raise SharedStorageError(f"cannot reach the shared-storage owner: {exc}") from exc
                time.sleep(0.02)

    def _owner_lost(self) -> None:
        with self._guard:
            if self._engine is None:
                if self._link is not None:
                    self._link.close()
                self._pid = None
                self.start()

    def _call(self, *request: Any) -> Any:
        """Run one operation here (owner) or on the owner; re-elect once if the owner died."""
        for attempt in range(2):
            self.start()
            if self._engine is not None:
                return handle(self._engine, *request)
            try:
                return self._link.call(*request)  # type: ignore[union-attr]
            except (EOFError, OSError):
                if attempt:
                    raise SharedStorageError("the shared-storage owner process is unreachable") from None
                self._owner_lost()
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._guard:
            if self._pid == os.getpid():
                if self._server is not None:
                    self._server.close()
                    for path in (self._sock_path, self._key_path):
                        try:
                            os.unlink(path)
                        except OSError:
                            pass
                if self._link is not None:
                    self._link.close()
                if self._lock_fd is not None:
                    os.close(self._lock_fd)  # frees the lease: another worker may take over
            self._reset()

    def _after_fork(self) -> None:
        # A forked child must not keep the parent's lease (the lock would outlive the parent).
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        self._guard = threading.RLock()
        self._reset()

    # --- the API ------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        text = self._call("get", key)
        return default if text is None else decode(text)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._call("set", key, encode(value).decode(), check_ttl(ttl))

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def publish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        check_topic_ttl(ttl)
        receivers: int = self._call("publish", topic, encode(message).decode())
        return receivers

    def subscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        self.start()
        if self._engine is not None:
            start = self._engine.head(topic) if replay_from is None else replay_from
            return PollingSubscription(self._engine, topic, start, timeout=_REMOTE_POLL)
        start = self._call("head", topic) if replay_from is None else replay_from
        if self._engine is not None:  # became the owner while asking
            return PollingSubscription(self._engine, topic, start, timeout=_REMOTE_POLL)
        reader = _RemoteReader(self, self._owner_key)
        return PollingSubscription(reader, topic, start, timeout=_REMOTE_POLL, on_close=reader.close)

    # The owner answers from memory at once: no thread hop for the async twins there.
    async def aget(self, key: str, default: Any = None) -> Any:
        self.start()
        return self.get(key, default) if self._engine is not None else await super().aget(key, default)

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.start()
        if self._engine is not None:
            self.set(key, value, ttl)
        else:
            await super().aset(key, value, ttl)

    async def adelete(self, key: str) -> None:
        self.start()
        if self._engine is not None:
            self.delete(key)
        else:
            await super().adelete(key)

    async def apublish(self, topic: str, message: Any, ttl: float | None = None) -> int:
        self.start()
        if self._engine is not None:
            return self.publish(topic, message, ttl)
        return await super().apublish(topic, message, ttl)

    async def asubscribe(self, topic: str, replay_from: int | None = None) -> Subscription:
        self.start()
        if self._engine is not None:
            return self.subscribe(topic, replay_from)
        return await super().asubscribe(topic, replay_from)


def _forget_after_fork() -> None:
    for storage in list(_INSTANCES):
        storage._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
