"""asyncio I/O on pyev Io watchers: streams, readers and writers, reprs."""

from __future__ import annotations

import asyncio
import os
import socket

import pyev.aio

from .conftest import run


def test_streams_echo_server_and_client(aio: pyev.aio.EventLoop) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> bytes:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = os.urandom(1 << 20)  # larger than the socket buffers: drain() must wait
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        echoed = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        assert echoed == payload
        return echoed[:5]

    assert len(run(aio, main())) == 5


def test_many_connections_at_once(aio: pyev.aio.EventLoop) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    async def client(port: int, i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello %d\n" % i)
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line

    async def main() -> list[bytes]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await asyncio.gather(*(client(port, i) for i in range(50)))

    assert run(aio, main()) == [b"HELLO %d\n" % i for i in range(50)]


def test_add_reader_and_writer_share_one_io_watcher_per_fd(aio: pyev.aio.EventLoop) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    events: list[str] = []
    try:
        aio.add_reader(a, lambda: (events.append("read"), aio.remove_reader(a)))
        aio.add_writer(a.fileno(), lambda: (events.append("write"), aio.remove_writer(a)))
        assert len(aio._fds) == 1
        assert aio._fds[a.fileno()].io.events == pyev.READ | pyev.WRITE
        key = aio._selector.get_key(a)
        assert key.fd == a.fileno() and key.events == 3
        b.send(b"x")
        run(aio, asyncio.sleep(0.05))
        assert sorted(events) == ["read", "write"]
        assert aio._fds == {}
        assert not aio.remove_reader(a)
    finally:
        a.close()
        b.close()


def test_replacing_a_reader_cancels_the_old_handle(aio: pyev.aio.EventLoop) -> None:
    a, b = socket.socketpair()
    try:
        aio.add_reader(a, lambda: None)
        old = aio._fds[a.fileno()].reader
        aio.add_reader(a, lambda: None)
        assert old is not None and old.cancelled()
        assert aio.remove_reader(a)
    finally:
        a.close()
        b.close()


def test_transport_repr_reads_the_selector_view(aio: pyev.aio.EventLoop) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()  # Server.wait_closed waits for its connections (3.12.1+)

    async def main() -> str:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        text = repr(writer.transport)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return text

    assert "read=polling" in run(aio, main())


def test_sock_apis(aio: pyev.aio.EventLoop) -> None:
    async def main() -> bytes:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with a, b:
            await aio.sock_sendall(a, b"ping")
            return await aio.sock_recv(b, 10)

    assert run(aio, main()) == b"ping"


def test_callbacks_queued_before_a_poll_run_before_the_io_callbacks_it_brings(aio: pyev.aio.EventLoop) -> None:
    # asyncio's order, which protocols rely on: a datagram already waiting
    # when run_until_complete starts is delivered after the coroutine's first
    # step (which sets up the future the protocol completes).
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    order: list[str] = []
    try:
        aio.add_reader(a, lambda: order.append("readable") or aio.remove_reader(a))
        aio.call_soon(order.append, "queued before")
        b.send(b"x")

        async def first_step() -> None:
            order.append("task step")

        aio.run_until_complete(first_step())
    finally:
        a.close()
        b.close()
    assert order.index("queued before") < order.index("readable")
    assert order.index("task step") < order.index("readable")
