"""A line server on asyncio streams whose configuration is reloaded by pyev
watchers, all on one loop (pyev.aio).

    python examples/aio_reload.py --config greeter.conf --port 8080
    $ printf 'world\\n' | nc 127.0.0.1 8080
    Hello, world
    $ echo 'greeting = Hi' > greeter.conf          # reloaded: the file changed
    $ kill -HUP PID                                # reloaded: SIGHUP

The configuration file has one "key = value" per line; blank lines and
lines starting with "#" are ignored. Keys:

    greeting = Hello      # the reply is "GREETING, LINE"
    shout = no            # yes: the reply is in upper case

Every line a client sends is answered with the configuration in force when
the line arrives, so a connection that stays open sees each reload.

What runs where. ``pyev.aio.run`` runs ``main()`` on an asyncio loop whose
core is a pyev loop, ``asyncio.get_running_loop().ev``. The server is plain
asyncio (``asyncio.start_server``, StreamReader/StreamWriter). Next to it,
on that same pyev loop, are three pyev watchers:

- an ``ev.Stat`` on the configuration file: inotify where available (stat
  polling every --interval seconds with --poll). It reports every attribute
  change, so our own read of the file (an atime update) would look like a
  change: only a different inode, size or mtime counts.
- an ``ev.Timer`` that debounces those changes: an editor's save can be
  several steps (truncate, write, rename), and reading between them would
  see half a file. Each change re-arms it with ``again()``; the reload
  happens once the file has been quiet for --debounce seconds.
- an ``ev.Signal`` for SIGHUP, the traditional "reload your configuration"
  signal, which reloads at once.

A reload that fails (the file is missing or malformed) keeps the
configuration in force and says why. SIGINT and SIGTERM (asyncio's
``add_signal_handler``) close the server and exit with status 0.

Output: "listening on HOST:PORT" on stdout, first; one "[reload] ..." line
on stderr per event (configuration loaded, reload failed, connections,
shutting down).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from dataclasses import dataclass

import pyev as ev
import pyev.aio

TRUE = frozenset({"yes", "true", "on", "1"})
FALSE = frozenset({"no", "false", "off", "0"})
CLOSE_GRACE = 2.0  # seconds open connections get to take their last replies


def log(message: str) -> None:
    print(f"[reload] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Config:
    greeting: str = "Hello"
    shout: bool = False

    def reply(self, line: str) -> str:
        text = f"{self.greeting}, {line}"
        return text.upper() if self.shout else text

    def describe(self) -> str:
        return f"greeting={self.greeting!r} shout={'yes' if self.shout else 'no'}"


def parse_config(text: str) -> Config:
    """The file's "key = value" lines; ValueError says what is wrong."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key:
            raise ValueError(f"line {number}: expected 'key = value', got {raw!r}")
        if key not in ("greeting", "shout"):
            raise ValueError(f"line {number}: unknown key {key!r}")
        values[key] = value
    shout = values.get("shout", "no").lower()
    if shout not in TRUE | FALSE:
        raise ValueError(f"shout must be yes or no, not {values['shout']!r}")
    return Config(greeting=values.get("greeting", Config.greeting), shout=shout in TRUE)


def load_config(path: str) -> Config:
    with open(path, encoding="utf-8") as f:
        return parse_config(f.read())


def identity(st: os.stat_result | None) -> tuple[int, int, int, int] | None:
    """What must differ for the file to have changed."""
    if st is None:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Reloader:
    """The configuration in force and the pyev watchers that reload it."""

    def __init__(self, path: str, config: Config, *, interval: float, debounce: float) -> None:
        self.path = path
        self.config = config
        self.stat = ev.Stat(path, self._changed, interval=interval)
        # Started and re-armed by again() only: `after` is never used.
        self.settle = ev.Timer(0.0, self._settled, repeat=debounce)
        self.hangup = ev.Signal(signal.SIGHUP, self._hangup)
        self.loop: ev.Loop | None = None

    def start(self, loop: ev.Loop) -> None:
        self.loop = loop
        self.stat.start(loop)
        self.hangup.start(loop)

    def stop(self) -> None:
        for watcher in (self.stat, self.settle, self.hangup):
            watcher.stop()

    def reload(self, reason: str) -> None:
        # A pyev callback's exception would stop the asyncio loop (pyev.aio's
        # default): a bad file is reported and the old configuration kept.
        try:
            config = load_config(self.path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log(f"reload ({reason}) failed, keeping {self.config.describe()}: {exc}")
            return
        self.config = config
        log(f"reloaded ({reason}): {config.describe()}")

    def _changed(self, w: ev.Stat, revents: int) -> None:
        if identity(w.prev) != identity(w.attr) and self.loop is not None:
            self.settle.again(self.loop)

    def _settled(self, w: ev.Timer, revents: int) -> None:
        w.stop()
        self.reload("file changed")

    def _hangup(self, w: ev.Signal, revents: int) -> None:
        self.reload("SIGHUP")


async def serve(options: argparse.Namespace) -> int:
    try:
        config = load_config(options.config)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log(f"cannot load {options.config}: {exc}")
        return 1
    loop = asyncio.get_running_loop()
    assert isinstance(loop, pyev.aio.EventLoop)
    reloader = Reloader(options.config, config, interval=options.interval, debounce=options.debounce)
    connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        task = asyncio.current_task()
        assert task is not None
        connections[writer] = task
        log(f"{host}:{port}: connected")
        try:
            while line := await reader.readline():
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                writer.write(reloader.config.reply(text).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            del connections[writer]
            writer.close()
            log(f"{host}:{port}: closed")

    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(client, options.host, options.port)
    reloader.start(loop.ev)
    try:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        mode = f"polling every {reloader.stat.effective_interval:g} s" if options.poll else "inotify"
        log(f"config {options.config} ({mode}): {config.describe()}; SIGHUP reloads, Ctrl-C quits")
        await stop.wait()
        log(f"shutting down, {len(connections)} connection(s) open")
    finally:
        reloader.stop()
        server.close()
        # Closing a connection ends its handler (readline() sees EOF). A
        # client that does not read keeps its output unsent, and is aborted
        # after CLOSE_GRACE seconds.
        writers = list(connections)
        handlers = list(connections.values())
        for writer in writers:
            writer.close()
        if handlers:
            _, stuck = await asyncio.wait(handlers, timeout=CLOSE_GRACE)
            for writer in writers:
                writer.transport.abort()
            if stuck:
                await asyncio.wait(stuck)
        await server.wait_closed()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, metavar="FILE", help="the configuration file")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--poll", action="store_true", help="poll the file with stat() instead of using inotify")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="SECONDS", help="stat polling interval (default 1)"
    )
    parser.add_argument(
        "--debounce",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="reload once the file has been quiet this long (default 0.1)",
    )
    options = parser.parse_args(argv)
    if options.interval < 0.1 or options.debounce <= 0:
        parser.error("--interval must be at least 0.1 and --debounce positive")
    # The pyev loop is ours (borrowed by pyev.aio.run), so that --poll can
    # turn inotify off for it.
    with ev.Loop(inotify=not options.poll) as ev_loop:
        return pyev.aio.run(serve(options), ev_loop=ev_loop)


if __name__ == "__main__":
    sys.exit(main())
