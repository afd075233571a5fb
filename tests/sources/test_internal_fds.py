"""The loop's own fds (pidfds, the wake-up eventfd, signalfd, inotify) are
never captured by an Io watcher the user left on a number they closed."""

from __future__ import annotations

import os
import shutil

import pyev as ev

SH = shutil.which("sh") or "/bin/sh"


def test_io_left_on_a_closed_fd_gets_error_when_a_child_watchers_pidfd_takes_the_number(
    loop: ev.Loop,
) -> None:
    got: list[tuple[str, int]] = []
    r, w = os.pipe()
    stale = ev.Io(r, ev.READ, lambda w_, revents: got.append(("io", revents))).start(loop)
    loop.run(ev.RUN_NOWAIT)  # registered with the backend
    os.close(r)  # the user closes the file and forgets the watcher
    pid = os.posix_spawn(SH, ["sh", "-c", "exit 3"], os.environ)
    child = ev.Child(pid, lambda w_, revents: (got.append(("child", w_.exit_code or 0)), w_.stop()))
    child.start(loop)  # its pidfd takes the lowest free number: r
    watchdog = ev.Timer(10.0, lambda w_, revents: loop.break_(ev.BREAK_ALL)).start(loop)
    watchdog.keepalive = False
    loop.run()
    assert got == [("io", ev.ERROR | ev.READ), ("child", 3)]
    assert not stale.is_active
    loop.verify()
    os.close(w)


def test_io_left_on_a_closed_fd_gets_error_when_the_wakeup_eventfd_takes_the_number(
    loop: ev.Loop,
) -> None:
    got: list[str] = []
    r, w = os.pipe()
    stale = ev.Io(r, ev.READ, lambda w_, revents: got.append("io")).start(loop)
    loop.run(ev.RUN_NOWAIT)
    os.close(r)
    ev.Async(lambda w_, revents: (got.append("async"), w_.stop())).start(loop).send()  # eventfd: r
    loop.run(ev.RUN_NOWAIT)
    assert got == ["io", "async"]
    assert not stale.is_active
    loop.verify()
    os.close(w)
