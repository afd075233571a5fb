"""Async.send from another thread while the loop closes never writes into a
file that took the number of the loop's closed eventfd."""

from __future__ import annotations

import os
import socket
import threading

import pytest

import pyev as ev

# How long a send held at its write waits for the close to go ahead.
HOLD_SECONDS = 0.5


def test_send_racing_close_never_writes_to_the_file_that_reuses_the_eventfd_number(
    backend: ev.Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another open loop keeps pyev's signal pipe open, so that the eventfd's
    # is the only number the close frees.
    keeper = ev.Loop(backend=backend)
    loop = ev.Loop(backend=backend)
    async_ = ev.Async(lambda w, revents: None).start(loop)
    about_to_write = threading.Event()
    reopened = threading.Event()
    real_write = os.eventfd_write

    def held_write(fd: int, value: int) -> None:
        # The sender has picked the fd it writes to: let the loop close and
        # the number be reused before the write, if the close can go ahead.
        about_to_write.set()
        reopened.wait(HOLD_SECONDS)
        real_write(fd, value)

    monkeypatch.setattr(os, "eventfd_write", held_write)
    sender = threading.Thread(target=async_.send)
    sender.start()
    assert about_to_write.wait(10)
    eventfd = loop._wakeup.fd if loop._wakeup is not None else -1
    loop.close()
    # The lowest free numbers, the eventfd's among them if it is closed; a
    # write to either end can be read at the other.
    a, b = socket.socketpair()
    reopened.set()
    sender.join()
    try:
        assert eventfd in (a.fileno(), b.fileno())  # the number was reused: the race was real
        for end in (a, b):
            end.setblocking(False)
            with pytest.raises(BlockingIOError):
                end.recv(64)  # nothing was written into either end
    finally:
        a.close()
        b.close()
        keeper.close()
