"""The ceiling for a Python-level loop on the ping-pong workload.

A bare loop over the standard library's ``select.epoll`` with a dict of
callbacks (no watchers, no priorities, no timers: nothing pyev does) next to
gevent's C loop on the same socketpair ping-pong. If the bare loop cannot
reach gevent, no Python implementation of pyev's loop can.

    python tests/benchmarks/bare_epoll_bound.py [round_trips]
"""

from __future__ import annotations

import select
import socket
import statistics
import sys
import time


def bare_epoll(n: int) -> float:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    ep = select.epoll()
    ep.register(a.fileno(), select.EPOLLIN)
    ep.register(b.fileno(), select.EPOLLIN)
    count = 0
    running = True

    def on_a() -> None:
        nonlocal count, running
        a.recv(1)
        count += 1
        if count >= n:
            running = False
            return
        a.send(b"x")

    def on_b() -> None:
        b.recv(1)
        b.send(b"x")

    callbacks = {a.fileno(): on_a, b.fileno(): on_b}
    a.send(b"x")
    start = time.perf_counter()
    while running:
        for fd, _ in ep.poll(1.0):
            callbacks[fd]()
    elapsed = time.perf_counter() - start
    ep.close()
    a.close()
    b.close()
    return n / elapsed


def gevent_loop(n: int) -> float:
    import gevent.core

    loop = gevent.core.loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    wa, wb = loop.io(a.fileno(), 1), loop.io(b.fileno(), 1)
    count = 0

    def on_a() -> None:
        nonlocal count
        a.recv(1)
        count += 1
        if count >= n:
            wa.stop()
            wb.stop()
            return
        a.send(b"x")

    def on_b() -> None:
        b.recv(1)
        b.send(b"x")

    wa.start(on_a)
    wb.start(on_b)
    a.send(b"x")
    start = time.perf_counter()
    loop.run()
    return n / (time.perf_counter() - start)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    bare, gev = [], []
    for _ in range(5):  # interleaved
        bare.append(bare_epoll(n))
        gev.append(gevent_loop(n))
    print(f"bare select.epoll loop: {statistics.median(bare):,.0f} round trips/s")
    print(f"gevent libev loop:      {statistics.median(gev):,.0f} round trips/s")
    print(f"bare / gevent:          {statistics.median(bare) / statistics.median(gev):.2f}x")


if __name__ == "__main__":
    main()
