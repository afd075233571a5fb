"""Real asyncio libraries, unchanged, on a pyev.aio loop over both backends:
aiohttp's HTTP server with aiohttp's client, a ``websockets`` server with its
client, and uvicorn (started with ``loop=`` naming a pyev.aio factory) with
httpx as its client.

Every server listens on 127.0.0.1, port 0; every wait has a watchdog.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

import pyev as ev
import pyev.aio

from .conftest import WATCHDOG_SECONDS, run

aiohttp = pytest.importorskip("aiohttp")
websockets = pytest.importorskip("websockets")
from aiohttp import web  # noqa: E402
from websockets.asyncio.client import connect as ws_connect  # noqa: E402
from websockets.asyncio.server import ServerConnection  # noqa: E402
from websockets.asyncio.server import serve as ws_serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

HOST = "127.0.0.1"
CHUNKS = [os.urandom(64 * 1024) for _ in range(8)]  # 512 KiB in all, more than a socket buffer


# -- aiohttp ---------------------------------------------------------------


def _aiohttp_app(peers: list[tuple[str, int]]) -> web.Application:
    """Routes: /hello (records the client's address), /stream (a chunked
    body written piece by piece), /sha256 (hashes a request body as it
    arrives)."""

    async def hello(request: web.Request) -> web.Response:
        transport = request.transport
        assert transport is not None
        peers.append(transport.get_extra_info("peername"))
        return web.json_response({"hello": request.query.get("name", "")})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in CHUNKS:
            await response.write(chunk)
            await asyncio.sleep(0.001)  # separate pieces, not one write
        await response.write_eof()
        return response

    async def sha256(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        size = 0
        async for piece in request.content.iter_any():
            digest.update(piece)
            size += len(piece)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/stream", stream)
    app.router.add_post("/sha256", sha256)
    return app


async def _serve_aiohttp(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def test_aiohttp_client_and_server_exchange_requests_over_one_kept_alive_connection(
    aio: pyev.aio.EventLoop,
) -> None:
    peers: list[tuple[str, int]] = []

    async def main() -> list[Any]:
        runner, base = await _serve_aiohttp(_aiohttp_app(peers))
        try:
            connector = aiohttp.TCPConnector(limit=1)
            async with aiohttp.ClientSession(connector=connector) as session:
                answers = []
                for name in ("a", "b", "c", "d", "e"):
                    async with session.get(f"{base}/hello", params={"name": name}) as resp:
                        assert resp.status == 200
                        answers.append(await resp.json())
                return answers
        finally:
            await runner.cleanup()

    assert run(aio, main()) == [{"hello": name} for name in "abcde"]
    assert len(peers) == 5
    assert len(set(peers)) == 1  # every request came over the same connection


def test_aiohttp_streams_a_chunked_response_body_to_the_client(aio: pyev.aio.EventLoop) -> None:
    async def main() -> tuple[bytes, int, str | None]:
        runner, base = await _serve_aiohttp(_aiohttp_app([]))
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{base}/stream") as resp:
                pieces = [piece async for piece in resp.content.iter_chunked(16 * 1024)]
                return b"".join(pieces), len(pieces), resp.headers.get("Transfer-Encoding")
        finally:
            await runner.cleanup()

    body, npieces, encoding = run(aio, main())
    assert body == b"".join(CHUNKS)
    assert npieces > 1
    assert encoding == "chunked"


def test_aiohttp_server_reads_a_streamed_request_body_as_it_arrives(aio: pyev.aio.EventLoop) -> None:
    async def body() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk
            await asyncio.sleep(0.001)

    async def main() -> Any:
        runner, base = await _serve_aiohttp(_aiohttp_app([]))
        try:
            async with aiohttp.ClientSession() as session, session.post(f"{base}/sha256", data=body()) as resp:
                assert resp.status == 200
                return await resp.json()
        finally:
            await runner.cleanup()

    expected = b"".join(CHUNKS)
    assert run(aio, main()) == {"size": len(expected), "sha256": hashlib.sha256(expected).hexdigest()}


def test_aiohttp_serves_concurrent_clients(aio: pyev.aio.EventLoop) -> None:
    async def main() -> list[Any]:
        runner, base = await _serve_aiohttp(_aiohttp_app([]))
        try:
            async with aiohttp.ClientSession() as session:

                async def one(i: int) -> Any:
                    async with session.get(f"{base}/hello", params={"name": str(i)}) as resp:
                        return await resp.json()

                return await asyncio.gather(*(one(i) for i in range(20)))
        finally:
            await runner.cleanup()

    assert run(aio, main()) == [{"hello": str(i)} for i in range(20)]


# -- websockets ------------------------------------------------------------


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def _with_ws_server(
    handler: Callable[[ServerConnection], Awaitable[None]], client: Callable[[str], Awaitable[Any]]
) -> Any:
    async with ws_serve(handler, HOST, 0) as server:
        port = server.sockets[0].getsockname()[1]
        return await client(f"ws://{HOST}:{port}")


def test_websockets_echoes_text_and_binary_messages_and_closes_cleanly(aio: pyev.aio.EventLoop) -> None:
    messages: list[str | bytes] = ["hello", b"\x00\x01\x02", "x" * 100_000, os.urandom(300_000), "last"]
    server_saw: list[object] = []

    async def handler(ws: ServerConnection) -> None:
        try:
            await _echo(ws)
        finally:
            server_saw.append(ws.close_code)

    async def client(uri: str) -> tuple[list[str | bytes], int | None]:
        async with ws_connect(uri) as ws:
            echoed = []
            for message in messages:
                await ws.send(message)
                echoed.append(await ws.recv())
            pong = await ws.ping()
            await asyncio.wait_for(pong, WATCHDOG_SECONDS)
        return echoed, ws.close_code

    echoed, client_code = run(aio, _with_ws_server(handler, client))
    assert echoed == messages
    assert client_code == 1000
    assert server_saw == [1000]


def test_websockets_a_close_from_the_server_reaches_the_client_with_its_code_and_reason(
    aio: pyev.aio.EventLoop,
) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(await ws.recv())
        await ws.close(4001, "done here")

    async def client(uri: str) -> tuple[str | bytes, int | None, str | None]:
        async with ws_connect(uri) as ws:
            await ws.send("one")
            reply = await ws.recv()
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return reply, ws.close_code, ws.close_reason

    assert run(aio, _with_ws_server(handler, client)) == ("one", 4001, "done here")


def test_websockets_many_clients_at_once(aio: pyev.aio.EventLoop) -> None:
    async def client(uri: str) -> list[str | bytes]:
        async def one(i: int) -> str | bytes:
            async with ws_connect(uri) as ws:
                await ws.send(f"client {i}")
                return await ws.recv()

        return await asyncio.gather(*(one(i) for i in range(20)))

    assert run(aio, _with_ws_server(_echo, client)) == [f"client {i}" for i in range(20)]


# -- uvicorn and httpx -----------------------------------------------------

# uvicorn imports the ``loop`` string "module:attr" and calls it to make the
# loop; the test sets this to a factory on its pyev loop first.
uvicorn_loop_factory: Callable[[], asyncio.AbstractEventLoop] = pyev.aio.new_event_loop


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    loop = asyncio.get_running_loop()
    on = "pyev.aio" if isinstance(loop, pyev.aio.EventLoop) else type(loop).__name__
    text = f"{scope['method']} {scope['path']} {len(body)} on {on}"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})


@pytest.fixture
def factory_on(ev_loop: ev.Loop) -> Iterator[list[pyev.aio.EventLoop]]:
    """Points ``uvicorn_loop_factory`` at ``ev_loop``; lists the loops it made."""
    global uvicorn_loop_factory
    made: list[pyev.aio.EventLoop] = []

    def factory() -> pyev.aio.EventLoop:
        loop = pyev.aio.new_event_loop(ev_loop)
        made.append(loop)
        return loop

    uvicorn_loop_factory = factory
    try:
        yield made
    finally:
        uvicorn_loop_factory = pyev.aio.new_event_loop


def test_uvicorn_started_with_a_pyev_aio_loop_serves_httpx(factory_on: list[pyev.aio.EventLoop]) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    httpx = pytest.importorskip("httpx")
    config = uvicorn.Config(_asgi_app, loop=f"{__name__}:uvicorn_loop_factory", log_level="warning")
    server = uvicorn.Server(config)
    sock = socket.create_server((HOST, 0))
    port = sock.getsockname()[1]
    replies: list[str] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=WATCHDOG_SECONDS) as http:
                for _ in range(int(WATCHDOG_SECONDS / 0.01)):
                    if server.started:
                        break
                    threading.Event().wait(0.01)
                replies.append(http.get("/a").text)
                replies.append(http.post("/b", content=b"x" * 200_000).text)
                replies.append(http.get("/c").text)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            server.should_exit = True

    thread = threading.Thread(target=client)
    thread.start()
    try:
        server.run(sockets=[sock])
    finally:
        server.should_exit = True
        thread.join(WATCHDOG_SECONDS)
        sock.close()
    assert errors == []
    assert replies == [
        "GET /a 0 on pyev.aio",
        "POST /b 200000 on pyev.aio",
        "GET /c 0 on pyev.aio",
    ]
    assert len(factory_on) == 1 and factory_on[0].is_closed()
