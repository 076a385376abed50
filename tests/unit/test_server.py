"""The Quart server: bring-your-own Quart app, init_app, user routes/websockets, logging."""

import logging

import pytest
from quart import Quart, websocket

from flash import Flash, html
from flash.server.devserver import ACCESS_LOGGER, access_log_enabled, hypercorn_config
from tests.conftest import run


def test_server_is_quart():
    app = Flash(__name__)
    assert isinstance(app.server, Quart)
    assert app.backend.server_type == "quart"


def test_existing_quart_server_is_used():
    server = Quart("mine")
    app = Flash(server=server)
    app.layout = html.Div("hello", id="x")
    assert app.server is server

    async def go():
        client = server.test_client()
        return (await client.get("/")).status_code, (await client.get("/_dash-layout")).status_code

    assert run(go()) == (200, 200)


def test_init_app_pattern():
    app = Flash(__name__, server=False)
    app.layout = html.Div("later", id="x")
    server = Quart(__name__)
    app.init_app(server)

    async def go():
        client = server.test_client()
        return await (await client.get("/_dash-layout")).get_json()

    assert run(go())["props"]["children"] == "later"


def test_non_quart_server_or_backend_is_rejected_with_a_clear_message():
    import flask

    with pytest.raises(TypeError, match="quart.Quart"):
        Flash(server=flask.Flask(__name__))
    with pytest.raises(ValueError, match="Flash always runs on Quart"):
        Flash(__name__, backend="flask")


def test_user_routes_and_websockets_live_beside_dash():
    app = Flash(__name__)
    app.layout = html.Div(id="x")

    @app.server.route("/api/ping")
    async def ping():
        return {"pong": True}

    @app.server.websocket("/ws")
    async def ws():
        message = await websocket.receive()
        await websocket.send(f"echo {message}")

    async def go():
        client = app.server.test_client()
        pong = await (await client.get("/api/ping")).get_json()
        async with client.websocket("/ws") as sock:
            await sock.send("hi")
            echo = await sock.receive()
        return pong, echo

    assert run(go()) == ({"pong": True}, "echo hi")


def test_url_base_pathname_prefixes_routes():
    app = Flash(__name__, url_base_pathname="/app/")
    app.layout = html.Div("prefixed", id="x")

    async def go():
        client = app.server.test_client()
        return (await client.get("/app/_dash-layout")).status_code, (await client.get("/app/")).status_code

    assert run(go()) == (200, 200)


def test_request_logs_use_a_logger_the_user_can_silence():
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.setLevel(logging.WARNING)
    try:
        assert hypercorn_config("127.0.0.1", 8050).accesslog is None  # off unless asked
        config = hypercorn_config("127.0.0.1", 8050, access_log=True)
        assert config.accesslog is logger
        # Hypercorn must not reset the level the user chose when it builds its loggers.
        from hypercorn.logging import Logger

        assert Logger(config).access_logger is logger
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize(
    "argument,env,dash_option,dash_env,expected",
    [
        (None, None, None, None, False),
        (True, None, None, None, True),
        (None, "1", None, None, True),
        (None, "off", None, None, False),
        (None, None, False, None, True),
        (None, None, True, None, False),
        (None, None, None, "false", True),
        (False, "1", False, "false", False),
        (None, "0", False, None, False),
    ],
)
def test_request_logs_are_off_unless_asked_and_follow_dashs_silence_option(
    monkeypatch, argument, env, dash_option, dash_env, expected
):
    for name, value in (("FLASH_ACCESS_LOG", env), ("DASH_SILENCE_ROUTES_LOGGING", dash_env)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    app = Flash(__name__, access_log=argument)
    app.layout = html.Div()
    if dash_option is not None:
        # As `app.run(debug=True, dev_tools_silence_routes_logging=...)` passes it: positionally.
        app.enable_dev_tools(True, None, None, None, False, None, None, None, dash_option)
    assert access_log_enabled(app.access_log, app.silence_routes_logging) is expected


def test_a_bad_access_log_switch_says_what_it_takes(monkeypatch):
    with pytest.raises(TypeError, match="access_log takes True, False or None"):
        Flash(__name__, access_log="yes")
    monkeypatch.setenv("FLASH_ACCESS_LOG", "loud")
    with pytest.raises(ValueError, match="FLASH_ACCESS_LOG='loud': use 1 or 0"):
        access_log_enabled(None, None)


def test_compress_option_gzips_buffered_responses_only_when_asked():
    import gzip

    app = Flash(__name__, compress=True)
    app.layout = html.Div("x" * 2000, id="big")

    async def go():
        client = app.server.test_client()
        zipped = await client.get("/_dash-layout", headers={"Accept-Encoding": "gzip, br"})
        plain = await client.get("/_dash-layout")
        return (
            zipped.headers.get("Content-Encoding"),
            await zipped.get_data(),
            plain.headers.get("Content-Encoding"),
            await plain.get_data(),
        )

    encoding, zipped, plain_encoding, plain = run(go())
    assert encoding == "gzip" and plain_encoding is None
    assert gzip.decompress(zipped) == plain
