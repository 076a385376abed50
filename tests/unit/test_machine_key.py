"""Without a configured key, the workers of one machine share one signing key from a 0600 file in
the user's private directory (flash/streaming/wire/keyfile.py), made once even when many start at once,
and refused when other users could read or change it."""

from __future__ import annotations

import logging
import multiprocessing
import os
import stat
import tempfile
from pathlib import Path

import pytest

from flash import Flash
from flash.streaming.wire.handles import resolve_secret
from flash.streaming.wire.keyfile import KEY_FILE, KeyFileError, key_directory, machine_key

KEY = "configured-key-0123456789abcdef"


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh temp dir for this test (the key lives under it) and no key in the environment."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in ("FLASH_SECRET_KEY", "DASH_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def key_path() -> Path:
    """Where the key file of the current temp dir is."""
    return Path(key_directory()) / KEY_FILE


def test_the_key_file_is_made_once_private_and_read_by_every_later_app(temp_dir: Path) -> None:
    first = Flash(__name__)
    path = key_path()
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    _, token = first.stream_signer.new_downlink()
    assert Flash(__name__).stream_signer.read_downlink(token) == token.split(".")[0]
    assert sorted(p.name for p in path.parent.iterdir()) == [KEY_FILE]  # no temp files left


def _race(directory: str, start: "multiprocessing.synchronize.Event", out: "multiprocessing.Queue[str]") -> None:
    start.wait()
    out.put(machine_key(directory).hex())


def test_workers_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_race, args=(str(tmp_path), start, out)) for _ in range(8)]
    for worker in workers:
        worker.start()
    start.set()
    keys = {out.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join(10)
    assert len(keys) == 1 and keys == {(tmp_path / KEY_FILE).read_text().strip()}
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]


def test_a_configured_key_wins_and_dash_secret_key_counts(temp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = resolve_secret(None)
    assert machine == (machine_key(), True)
    monkeypatch.setenv("DASH_SECRET_KEY", KEY)
    assert resolve_secret(None) == (KEY.encode(), False)
    monkeypatch.setenv("FLASH_SECRET_KEY", "f" * 32)
    assert resolve_secret(None) == (b"f" * 32, False)
    assert resolve_secret("s" * 32) == (b"s" * 32, False)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602])
def test_a_key_file_others_can_read_or_change_is_refused(temp_dir: Path, mode: int) -> None:
    machine_key()
    path = key_path()
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"chmod 600 {path}"):
        Flash(__name__)
    assert Flash(__name__, secret_key=KEY)  # a configured key needs no key file


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_a_key_file_or_directory_of_another_user_is_refused(temp_dir: Path) -> None:
    machine_key()
    path = key_path()
    os.chown(path, 4242, -1)
    with pytest.raises(KeyFileError, match="belongs to another user"):
        resolve_secret(None)
    path.unlink()
    os.chown(path.parent, 4242, -1)
    with pytest.raises(KeyFileError, match="not a private directory of this user"):
        resolve_secret(None)


def test_a_symlink_a_directory_or_garbage_is_no_key(temp_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "planted"
    elsewhere.write_text("a" * 64)
    elsewhere.chmod(0o600)
    path = key_path()
    path.symlink_to(elsewhere)
    with pytest.raises(KeyFileError, match="cannot open the key file"):
        resolve_secret(None)
    path.unlink()
    path.mkdir()
    with pytest.raises(KeyFileError, match="not a regular file"):
        resolve_secret(None)
    path.rmdir()
    path.write_text("not a key")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="does not hold a Flash key"):
        resolve_secret(None)


def test_without_a_usable_temp_dir_each_process_has_its_own_key_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    monkeypatch.delenv("FLASH_SECRET_KEY", raising=False)
    monkeypatch.delenv("DASH_SECRET_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="flash.streaming"):
        first, second = resolve_secret(None), resolve_secret(None)
    assert first[1] and second[1] and first[0] != second[0]
    assert any("FLASH_SECRET_KEY" in r.getMessage() for r in caplog.records)
