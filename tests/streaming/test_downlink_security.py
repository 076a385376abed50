"""Bad input on the stream routes gets 4xx JSON that never echoes the request; handles are signed
and bound to their downlink; the signing key comes from secret_key / FLASH_SECRET_KEY."""

import asyncio
import json
import logging
import tempfile

import pytest

from flash import Flash, Input, State, stream_props
from tests.conftest import run
from tests.streaming.downlink_client import Downlink, make_app, post, setup, start_body, wait_until

KEY = "k" * 32
MARK = "EVIL<script>marker"  # must never come back in an error body


def with_stream(app):
    finished = []

    @app.event_callback(Input("go", "n_clicks"), State("rows", "children"))
    async def endless(n, rows):
        try:
            while True:
                yield stream_props("out", {"children": n})
                await asyncio.sleep(0.01)
        finally:
            finished.append(n)

    return endless.stream_id, finished


def downlink_id(token):
    return token.split(".")[0]


def check_error(status, answer, expected_status, message):
    assert status == expected_status, answer
    assert answer["status"] == expected_status and message in answer["error"], answer
    assert MARK not in json.dumps(answer), "an error body never echoes request content"


TOKEN = object()  # replaced by the open downlink's token
BAD = [
    # (route, body, status, message)
    ("downlink", b"{" + MARK.encode(), 400, "downlink request body is not valid JSON"),
    ("downlink", b"", 400, "empty"),
    ("downlink", json.dumps([MARK]).encode(), 400, "must be a JSON object"),
    ("downlink", {"downlink": 5, "x": MARK}, 400, "'downlink' must be a downlink token or null"),
    ("downlink", {"downlink": MARK}, 403, "not a downlink token this server issued"),
    ("downlink", {"downlink": None, "runs": {MARK: 1}}, 400, "only be resumed on the downlink that started them"),
    ("downlink", {"downlink": TOKEN, "runs": [MARK]}, 400, "'runs' must be an object"),
    ("downlink", {"downlink": TOKEN, "runs": {MARK: 1}}, 403, "not a run of this downlink"),
    ("downlink", {"downlink": TOKEN, "runs": {MARK: -1}}, 400, "non-negative integer"),
    ("downlink", {"downlink": TOKEN, "runs": {MARK: True}}, 400, "non-negative integer"),
    ("start", b"{" + MARK.encode(), 400, "stream request body is not valid JSON"),
    ("start", json.dumps(MARK).encode(), 400, "must be a JSON object"),
    ("start", start_body(None), 403, "'downlink' is missing"),
    ("start", start_body(MARK), 403, "not a downlink token this server issued"),
    ("start", start_body(TOKEN, inputs=[]), 400, "'inputs' has 0 entries but the callback declares 1"),
    ("start", start_body(TOKEN, state=MARK), 400, "'state' must be a list"),
    ("start", start_body(TOKEN, inputs=[{"id": MARK}]), 400, "'id' and 'property'"),
    ("start", start_body(TOKEN, changedPropIds=MARK), 400, "'changedPropIds' must be a list of strings"),
    ("unknown", start_body(TOKEN), 404, "Unknown stream"),
    ("close", b"{" + MARK.encode(), 400, "close request body is not valid JSON"),
    ("close", b"5", 400, "must be a JSON object"),
    ("close", {"runs": [MARK]}, 403, "'downlink' is missing"),
    ("close", {"downlink": MARK, "runs": []}, 403, "not a downlink token this server issued"),
    ("close", {"downlink": TOKEN, "runs": MARK}, 400, "'runs' must be a list"),
    ("close", {"downlink": TOKEN, "runs": [MARK]}, 403, "not a run of this downlink"),
]


@pytest.mark.parametrize("route,body,status,message", BAD)
def test_bad_stream_requests_get_4xx_json_and_the_server_keeps_serving(route, body, status, message):
    app = make_app()
    stream_id, _ = with_stream(app)
    paths = {
        "downlink": "/_flash/downlink",
        "start": f"/_flash/stream/{stream_id}",
        "unknown": f"/_flash/stream/{MARK}",
        "close": "/_flash/close",
    }

    def fill(value, token):
        if value is TOKEN:
            return token
        if isinstance(value, dict):
            return {k: fill(v, token) for k, v in value.items()}
        return value

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            answer = await post(client, paths[route], fill(body, downlink.token))
            handle = await downlink.start(stream_id)  # still serving, the downlink untouched
            await downlink.until(lambda ms: len(ms) >= 1, handle)
            return answer

    check_error(*run(go()), status, message)


def test_oversized_bodies_get_413_json_on_every_stream_route():
    app = make_app(max_request_size=1000)
    stream_id, _ = with_stream(app)

    async def go():
        client = app.server.test_client()
        await setup(client)
        answers = []
        for path in ("/_flash/downlink", f"/_flash/stream/{stream_id}", "/_flash/close"):
            answers.append(await post(client, path, {"downlink": None, "pad": MARK * 200}))
        return answers

    for status, answer in run(go()):
        check_error(status, answer, 413, "1000-byte limit")


def test_a_handle_of_one_downlink_is_worthless_on_another():
    app = make_app()
    stream_id, finished = with_stream(app)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as a, Downlink(client) as b:
            theirs = await a.start(stream_id, n=1)
            mine = await b.start(stream_id, n=2)
            await a.until(lambda ms: len(ms) >= 1, theirs)
            close_theirs = await b.close(theirs)
            close_mixed = await b.close(mine, theirs)  # all or nothing: mine stays open too
            resume = await post(client, "/_flash/downlink", {"downlink": b.token, "runs": {theirs: 1}})
            seen = len(a.messages(theirs))
            await a.until(lambda ms: len(ms) > seen + 2, theirs)  # A's run goes on
            live = len(app.stream_runs)
            own = await a.close(theirs)
            await wait_until(lambda: finished == [1])
            return close_theirs, close_mixed, resume, live, own, list(finished), len(app.stream_runs)

    close_theirs, close_mixed, resume, live, own, finished_runs, live_after = run(go())
    for status, answer in (close_theirs, close_mixed, resume):
        check_error(status, answer, 403, "not a run of this downlink")
    assert live == 2
    assert own == (200, {"closed": 1, "unknown": []}) and finished_runs == [1] and live_after == 1


def test_closing_on_a_downlink_that_expired_gets_409():
    app = make_app(stream_resume_window=0.1)
    stream_id, finished = with_stream(app)

    async def go():
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            handle = await downlink.start(stream_id)
        await wait_until(lambda: not app.stream_runs.downlinks and finished)
        return await downlink.close(handle)

    check_error(*run(go()), 409, "The downlink is gone")


def test_only_apps_sharing_the_secret_key_read_each_others_tokens():
    issuer, twin, stranger = make_app(secret_key=KEY), make_app(secret_key=KEY), make_app(secret_key="s" * 32)
    ids = [with_stream(app)[0] for app in (issuer, twin, stranger)]
    assert len(set(ids)) == 1

    async def token_of(app):
        client = app.server.test_client()
        await setup(client)
        async with Downlink(client) as downlink:
            return downlink.token

    async def private_line_on(app, token):
        client = app.server.test_client()
        await setup(client)
        # The signature holds but this worker has no such downlink: the start is a private line.
        async with Downlink(client, path=f"/_flash/stream/{ids[0]}", body=start_body(token)) as line:
            messages = await line.until(lambda ms: len(ms) >= 1)
            return line.private, line.token, len(line.started()), messages[0].event

    async def refused_by(app, token):
        client = app.server.test_client()
        await setup(client)
        return await post(client, f"/_flash/stream/{ids[0]}", start_body(token))

    token = run(token_of(issuer))
    assert run(private_line_on(twin, token)) == (True, token, 1, "props")
    check_error(*run(refused_by(stranger, token)), 403, "not a downlink token this server issued")
    assert twin.stream_signer.read_downlink(token) == downlink_id(token)
    assert stranger.stream_signer.read_downlink(token) is None
    _, handle = issuer.stream_signer.new_run(downlink_id(token))
    assert twin.stream_signer.read_run(handle, downlink_id(token)) == downlink_id(handle)
    assert twin.stream_signer.read_run(handle, "another-downlink-id") is None


@pytest.mark.parametrize("key", ["short", b"0123456789abcde", "x" * 15])
def test_a_secret_key_under_16_bytes_is_refused(key):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Flash(__name__, secret_key=key)


def test_flash_secret_key_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLASH_SECRET_KEY", KEY)
    from_env, explicit = Flash(__name__), Flash(__name__, secret_key=KEY)
    _, token = from_env.stream_signer.new_downlink()
    assert explicit.stream_signer.read_downlink(token) == downlink_id(token)
    monkeypatch.delenv("FLASH_SECRET_KEY")
    assert Flash(__name__).stream_signer.read_downlink(token) is None
    monkeypatch.setenv("FLASH_SECRET_KEY", "short")
    with pytest.raises(ValueError):
        Flash(__name__)


def test_dash_secret_key_is_read_when_flash_secret_key_is_not_set(monkeypatch):
    """Dash 4.5 signs its stream requests with DASH_SECRET_KEY: a deployment that sets it for
    its workers keeps working on Flash; FLASH_SECRET_KEY wins when both are set."""
    monkeypatch.delenv("FLASH_SECRET_KEY", raising=False)
    monkeypatch.setenv("DASH_SECRET_KEY", KEY)
    _, token = Flash(__name__).stream_signer.new_downlink()
    assert Flash(__name__, secret_key=KEY).stream_signer.read_downlink(token) == downlink_id(token)
    monkeypatch.setenv("FLASH_SECRET_KEY", "another-key-0123456789abcdef")
    assert Flash(__name__).stream_signer.read_downlink(token) is None
    monkeypatch.delenv("FLASH_SECRET_KEY")
    monkeypatch.setenv("DASH_SECRET_KEY", "short")
    with pytest.raises(ValueError, match="DASH_SECRET_KEY"):
        Flash(__name__)


def test_machines_with_their_own_key_files_refuse_each_other_and_say_how_to_share_one(caplog, monkeypatch, tmp_path):
    """No key set: the workers of one machine share its key file (tests/unit/test_machine_key.py);
    two machines (here: two temp dirs) do not."""
    monkeypatch.delenv("FLASH_SECRET_KEY", raising=False)
    monkeypatch.delenv("DASH_SECRET_KEY", raising=False)
    machines = []
    for name in ("one", "two"):
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / name))
        (tmp_path / name).mkdir()
        machines.append(Flash(__name__))
    first, second = machines
    _, token = first.stream_signer.new_downlink()
    assert first.stream_signer.read_downlink(token) == downlink_id(token)
    with caplog.at_level(logging.WARNING, logger="flash.streaming"):
        assert second.stream_signer.read_downlink(token) is None
        assert second.stream_signer.read_downlink(token) is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "flash.streaming"]
    assert len(warnings) == 1 and "FLASH_SECRET_KEY" in warnings[0]


@pytest.mark.parametrize(
    "garbage", ["", "x", "a" * 16 + ".", "a" * 16 + "." + "b" * 22, "../../etc.passwd", "a" * 65 + "." + "b" * 22]
)
def test_forged_and_garbage_tokens_are_refused(garbage):
    app = make_app()
    stream_id, _ = with_stream(app)

    async def go():
        client = app.server.test_client()
        await setup(client)
        return [
            await post(client, f"/_flash/stream/{stream_id}", start_body(garbage)),
            await post(client, "/_flash/downlink", {"downlink": garbage}),
            await post(client, "/_flash/close", {"downlink": garbage, "runs": []}),
        ]

    for status, answer in run(go()):
        assert status == 403 and "not a downlink token this server issued" in answer["error"]
    assert len(app.stream_runs) == 0 and app.stream_runs.downlinks == {}
