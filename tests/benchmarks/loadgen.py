"""The echo workload's load generator, the same for every library.

``loadgen.py --port P [--conns 50] [--seconds 3] [--http]`` opens ``conns``
TCP connections to 127.0.0.1:P and keeps one request (a 16-byte line) in
flight on each: every complete response line is counted and answered by the
next request, for ``seconds`` from the first request. Then it closes every
connection (the server counts the closes to know it is done) and prints one
JSON object: ``{"requests", "seconds", "cpu_share"}``.

With ``--http`` the request is an HTTP/1.1 keep-alive ``GET /`` and a
response counts once its head and ``Content-Length`` body are complete; a
status other than 200 is an error (``aio.py``'s HTTP row).

One process with a ``selectors`` (epoll) loop, not threads: 50 threads
contending for the GIL would cap the rate well below what the servers can
do. ``cpu_share`` (CPU time / wall time) tells whether the generator itself
was the bottleneck (near 1.0) in a run.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
import time

LINE = b"pyev benchmark!\n"
HTTP_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: pyev-loadgen\r\n\r\n"
CONNECT_TIMEOUT = 10.0


def complete_lines(buf: bytearray) -> int:
    """Counts and removes the complete lines at the start of ``buf``."""
    lines = buf.count(b"\n")
    if lines:
        del buf[: buf.rfind(b"\n") + 1]
    return lines


def complete_http_responses(buf: bytearray) -> int:
    """Counts and removes the complete HTTP responses at the start of ``buf``."""
    done = 0
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return done
        head = bytes(buf[:end]).lower()
        if not head.startswith(b"http/1.1 200 "):
            raise ConnectionError(f"unexpected response {head[:40]!r}")
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ConnectionError("response without content-length")
        eol = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : eol if eol >= 0 else len(head)])
        total = end + 4 + length
        if len(buf) < total:
            return done
        del buf[:total]
        done += 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--http", action="store_true", help="HTTP/1.1 GET instead of echo lines")
    args = parser.parse_args(argv)
    request, complete = (HTTP_REQUEST, complete_http_responses) if args.http else (LINE, complete_lines)

    socks = []
    for _ in range(args.conns):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=CONNECT_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)

    sel = selectors.EpollSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ, (s, bytearray()))

    requests = 0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + args.seconds
    for s in socks:
        s.send(request)
    now = t0
    while now < deadline:
        for key, _ in sel.select(deadline - now):
            s, buf = key.data
            data = s.recv(65536)
            if not data:
                raise ConnectionError("server closed a connection")
            buf += data
            done = complete(buf)
            if done:
                requests += done
                s.send(request)
        now = time.perf_counter()
    seconds = now - t0
    cpu = time.process_time() - cpu0
    sel.close()
    for s in socks:
        s.close()
    print(
        json.dumps(
            {"requests": requests, "seconds": seconds, "cpu_share": round(cpu / seconds, 3)}
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
