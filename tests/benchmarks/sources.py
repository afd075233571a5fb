"""Wake-ups from outside the loop: async_send (a thread), child_reap (child
exits), signals."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from common import (
    Result,
    aio_loop,
    gevent_loop,
    impl,
    perf_counter,
    pyev_loop,
)

# Children in flight at once in child_reap.
CHILD_WINDOW = 16


# --- 6. async_send ----------------------------------------------------------


class Sender:
    """A thread that calls ``send(*args)`` n times, sets ``finished``, then
    calls ``send(*finish_args)`` once more."""

    def __init__(
        self,
        n: int,
        send: Callable[..., object],
        args: tuple[object, ...] = (),
        finish_args: tuple[object, ...] = (),
    ) -> None:
        self.n = n
        self.seconds = 0.0
        self.finished = False
        self.thread = threading.Thread(target=self.run, args=(send, args, finish_args))

    def run(
        self, send: Callable[..., object], args: tuple[object, ...], finish_args: tuple[object, ...]
    ) -> None:
        t0 = perf_counter()
        for _ in range(self.n):
            send(*args)
        self.seconds = perf_counter() - t0
        self.finished = True
        send(*finish_args)


@impl("async_send", "pyev")
def async_send_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["async_send"])
    loop = pyev_loop()
    callbacks = 0
    sender: Sender

    def on_async(w: Any, revents: int) -> None:
        nonlocal callbacks
        callbacks += 1
        if sender.finished:
            w.stop()

    w = ev.Async(on_async).start(loop)
    sender = Sender(n, w.send)
    t0 = perf_counter()
    sender.thread.start()
    loop.run()
    dt = perf_counter() - t0
    sender.thread.join()
    return n / dt, {"n": n, "callbacks": callbacks, "sender_s": sender.seconds}


@impl("async_send", "gevent")
def async_send_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["async_send"])
    loop = gevent_loop()
    callbacks = 0
    w = loop.async_()

    def on_async() -> None:
        nonlocal callbacks
        callbacks += 1
        if sender.finished:
            w.stop()

    w.start(on_async)
    sender = Sender(n, w.send)
    t0 = perf_counter()
    sender.thread.start()
    loop.run()
    dt = perf_counter() - t0
    sender.thread.join()
    return n / dt, {"n": n, "callbacks": callbacks, "sender_s": sender.seconds}


@impl("async_send", "asyncio", "uvloop")
def async_send_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["async_send"])
    loop = aio_loop(library)
    callbacks = 0

    def on_call() -> None:
        nonlocal callbacks
        callbacks += 1

    sender = Sender(n, loop.call_soon_threadsafe, (on_call,), (loop.stop,))
    t0 = perf_counter()
    sender.thread.start()
    loop.run_forever()
    dt = perf_counter() - t0
    sender.thread.join()
    loop.close()
    return n / dt, {"n": n, "callbacks": callbacks, "sender_s": sender.seconds}


# --- 8. child_reap ----------------------------------------------------------


class Spawner:
    """Keeps CHILD_WINDOW children of /bin/true in flight until n have exited."""

    def __init__(self, n: int, watch: Callable[[int], None]) -> None:
        self.n = n
        self.spawned = 0
        self.reaped = 0
        self.failed = 0
        self.watch = watch

    def spawn(self) -> None:
        self.spawned += 1
        self.watch(os.posix_spawn("/bin/true", ["/bin/true"], os.environ))

    def start(self) -> None:
        for _ in range(min(CHILD_WINDOW, self.n)):
            self.spawn()

    def exited(self, status: int) -> bool:
        """Records one exit, spawns the next; True when all have exited."""
        self.reaped += 1
        if status != 0:
            self.failed += 1
        if self.spawned < self.n:
            self.spawn()
        return self.reaped == self.n


@impl("child_reap", "pyev")
def child_reap_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["child_reap"])
    loop = pyev_loop()

    def on_child(w: Any, revents: int) -> None:
        w.stop()
        spawner.exited(w.rstatus)

    def watch(pid: int) -> None:
        ev.Child(pid, on_child).start(loop)

    spawner = Spawner(n, watch)
    t0 = perf_counter()
    spawner.start()
    loop.run()
    return spawner.reaped / (perf_counter() - t0), {"n": n, "failed": spawner.failed}


@impl("child_reap", "gevent")
def child_reap_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["child_reap"])
    loop = gevent_loop()
    # gevent.subprocess does this before its first child; the cext watcher does not.
    loop.install_sigchld()

    def on_child(w: Any) -> None:
        w.stop()
        spawner.exited(w.rstatus)

    def watch(pid: int) -> None:
        w = loop.child(pid)
        w.start(on_child, w)

    spawner = Spawner(n, watch)
    t0 = perf_counter()
    spawner.start()
    loop.run()
    return spawner.reaped / (perf_counter() - t0), {"n": n, "failed": spawner.failed}


@impl("child_reap", "asyncio", "uvloop")
def child_reap_aio(library: str, size: dict[str, float]) -> Result:
    # asyncio's own PidfdChildWatcher mechanism (deprecated API, so inlined):
    # a pidfd per child, watched with add_reader, then waitpid.
    n = int(size["child_reap"])
    loop = aio_loop(library)

    def on_exit(pid: int, pidfd: int) -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        if spawner.exited(status):
            loop.stop()

    def watch(pid: int) -> None:
        pidfd = os.pidfd_open(pid)
        loop.add_reader(pidfd, on_exit, pid, pidfd)

    spawner = Spawner(n, watch)
    t0 = perf_counter()
    spawner.start()
    loop.run_forever()
    rate = spawner.reaped / (perf_counter() - t0)
    loop.close()
    return rate, {"n": n, "failed": spawner.failed, "mechanism": "pidfd+add_reader"}


# --- 9. signals -------------------------------------------------------------


@impl("signals", "pyev")
def signals_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["signals"])
    loop = pyev_loop()
    pid = os.getpid()
    count = 0

    def on_signal(w: Any, revents: int) -> None:
        nonlocal count
        count += 1
        if count < n:
            os.kill(pid, signal.SIGUSR1)
        else:
            w.stop()

    ev.Signal(signal.SIGUSR1, on_signal).start(loop)
    t0 = perf_counter()
    os.kill(pid, signal.SIGUSR1)
    loop.run()
    return count / (perf_counter() - t0), {"n": n}


@impl("signals", "gevent")
def signals_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["signals"])
    loop = gevent_loop()
    pid = os.getpid()
    count = 0
    w = loop.signal(signal.SIGUSR1)

    def on_signal() -> None:
        nonlocal count
        count += 1
        if count < n:
            os.kill(pid, signal.SIGUSR1)
        else:
            w.stop()

    w.start(on_signal)
    t0 = perf_counter()
    os.kill(pid, signal.SIGUSR1)
    loop.run()
    return count / (perf_counter() - t0), {"n": n}


@impl("signals", "asyncio", "uvloop")
def signals_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["signals"])
    loop = aio_loop(library)
    pid = os.getpid()
    count = 0

    def on_signal() -> None:
        nonlocal count
        count += 1
        if count < n:
            os.kill(pid, signal.SIGUSR1)
        else:
            loop.stop()

    loop.add_signal_handler(signal.SIGUSR1, on_signal)
    loop.call_soon(os.kill, pid, signal.SIGUSR1)
    t0 = perf_counter()
    loop.run_forever()
    rate = count / (perf_counter() - t0)
    loop.remove_signal_handler(signal.SIGUSR1)
    loop.close()
    return rate, {"n": n}
