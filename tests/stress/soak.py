"""Soak: an echo server, child processes and signals, all at once on one
pyev loop, for a while.

    python tests/stress/soak.py --seconds 60
    python tests/stress/soak.py --seconds 600 --backend poll --no-signalfd

On one loop, for --seconds:

- an echo server on 127.0.0.1 (Io watchers; ``events`` switched between READ
  and READ|WRITE as its output buffers fill and drain) with --connections
  (default 1,000) concurrent clients, kept in a separate process that uses
  plain non-blocking sockets: each client sends a numbered line, waits for
  its echo, checks it, and sends the next;
- children: a Timer spawns ``/bin/true`` every --child-interval seconds
  (at most 16 at a time), each watched by a Child watcher;
- signals: a thread sends SIGUSR1 (``os.kill``, to the process) and SIGUSR2
  (``pthread_kill``, to the loop's thread) in turn, each only after the
  Signal watcher saw the previous one, so every send must be seen exactly
  once: signals of one number coalesce when sent faster than the loop
  takes them, and sending one at a time keeps the count exact.

Then the clients stop sending, drain their last answers and disconnect, the
last children are reaped, and it reports requests sent / served / answered,
child exits seen vs spawned, signals seen vs sent, and open fds and RSS at
the start and at the end. Exit status 1 if anything was lost or wrong, or
the fd count grew; RSS is reported, not judged. The soft RLIMIT_NOFILE is
raised to the hard limit when the connections need it.

Not collected by pytest (pyproject.toml's norecursedirs excludes
tests/stress).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

TRUE = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
MAX_CHILDREN_IN_FLIGHT = 16
SIGNAL_TIMEOUT = 5.0  # a signal not seen within this is lost
DRAIN_SECONDS = 20.0  # clients wait this long for their last answers
GRACE_SECONDS = 60.0  # the server gives up this long after --seconds


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_targets() -> list[str]:
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:
            pass  # the listing's own fd
    return out


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"soak: needs {needed} fds, the hard RLIMIT_NOFILE is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the clients (a separate process, plain sockets) --------------------------------------------


def client_main(port: int, connections: int, seconds: float) -> int:
    raise_nofile(connections + 64)
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    stats = {"connections": 0, "connect_failures": 0, "sent": 0, "answered": 0,
             "mismatched": 0, "errors": 0, "unanswered": 0}
    # Per connection: [next seq, the expected answer, bytes received so far]
    state: dict[int, list[Any]] = {}
    for cid in range(connections):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            stats["connect_failures"] += 1
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
        state[s.fileno()] = [0, b"", b""]
        sel.register(s, selectors.EVENT_READ, cid)
    stats["connections"] = len(socks)

    def send_next(s: socket.socket, cid: int) -> None:
        st = state[s.fileno()]
        msg = f"{cid}:{st[0]}:{'x' * (st[0] % 50)}\n".encode()
        st[0] += 1
        st[1] = msg
        st[2] = b""
        s.sendall(msg)  # short lines into an empty buffer: never blocks for long
        stats["sent"] += 1

    deadline = time.monotonic() + seconds
    for s in socks:
        send_next(s, sel.get_key(s).data)
    outstanding = len(socks)
    sending = True
    drain_deadline = None
    while outstanding:
        now = time.monotonic()
        if sending and now >= deadline:
            sending = False
            drain_deadline = now + DRAIN_SECONDS
        if drain_deadline is not None and now >= drain_deadline:
            break
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            st = state[s.fileno()]
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                stats["errors"] += 1
                sel.unregister(s)
                outstanding -= 1
                continue
            if not data:
                stats["errors"] += 1  # the server closed on us
                sel.unregister(s)
                outstanding -= 1
                continue
            st[2] += data
            if len(st[2]) < len(st[1]):
                continue
            if st[2] != st[1]:
                stats["mismatched"] += 1
            stats["answered"] += 1
            if sending:
                send_next(s, key.data)
            else:
                sel.unregister(s)
                outstanding -= 1
    stats["unanswered"] = outstanding
    for s in socks:
        s.close()
    print(json.dumps(stats), flush=True)
    return 0


# -- the server: everything on one pyev loop ----------------------------------------------------


def server_main(args: argparse.Namespace) -> int:
    import pyev as ev

    raise_nofile(args.connections + 256)
    fds_base = open_fds()
    fds_base_targets = fd_targets()
    backend = {"epoll": ev.Backend.EPOLL, "poll": ev.Backend.POLL}[args.backend]
    loop = ev.Loop(backend=backend, signalfd=args.signalfd)
    main_thread = threading.get_ident()

    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(args.connections + 64)
    lsock.setblocking(False)
    port = lsock.getsockname()[1]

    stats: dict[str, Any] = {
        "accepted": 0, "closed": 0, "served": 0, "server_errors": 0,
        "spawned": 0, "exited": 0, "bad_exit": 0,
        "signals_sent": {"SIGUSR1": 0, "SIGUSR2": 0}, "signals_seen": {"SIGUSR1": 0, "SIGUSR2": 0},
        "signals_lost": 0,
    }
    conns: dict[int, tuple[socket.socket, ev.Io, bytearray]] = {}

    # -- echo
    def on_conn(w: ev.Io, revents: int) -> None:
        sock, _io, out = conns[w.fd]
        if revents & ev.READ:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                stats["server_errors"] += 1
                data = b""
            if data == b"":
                w.stop()
                del conns[w.fd]
                sock.close()
                stats["closed"] += 1
                return
            if data:
                stats["served"] += data.count(b"\n")
                out += data
        if out:
            try:
                n = sock.send(out)
                del out[:n]
            except BlockingIOError:
                pass
        want = ev.READ | ev.WRITE if out else ev.READ
        if w.events != want:
            w.events = want

    def on_accept(w: ev.Io, revents: int) -> None:
        for _ in range(128):
            try:
                sock, _addr = lsock.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            io = ev.Io(sock, ev.READ, on_conn)
            conns[sock.fileno()] = (sock, io, bytearray())
            io.start(loop)
            stats["accepted"] += 1

    accept_io = ev.Io(lsock, ev.READ, on_accept).start(loop)

    # -- children
    in_flight: set[int] = set()
    ending = threading.Event()

    def on_child(w: ev.Child, revents: int) -> None:
        w.stop()
        in_flight.discard(w.pid)
        stats["exited"] += 1
        if w.exit_code != 0:
            stats["bad_exit"] += 1

    def spawn(w: ev.Timer, revents: int) -> None:
        if ending.is_set():
            w.stop()
            return
        if len(in_flight) >= MAX_CHILDREN_IN_FLIGHT:
            return
        pid = os.posix_spawn(TRUE, [TRUE], os.environ)
        stats["spawned"] += 1
        in_flight.add(pid)
        ev.Child(pid, on_child).start(loop)

    spawner = ev.Timer(0.0, spawn, repeat=args.child_interval).start(loop)

    # -- signals
    seen = threading.Event()
    names = {signal.SIGUSR1: "SIGUSR1", signal.SIGUSR2: "SIGUSR2"}

    def on_signal(w: ev.Signal, revents: int) -> None:
        stats["signals_seen"][names[w.signum]] += 1
        seen.set()

    sigwatchers = [ev.Signal(s, on_signal).start(loop) for s in names]

    def send_signals() -> None:
        k = 0
        while not ending.is_set():
            signum = (signal.SIGUSR1, signal.SIGUSR2)[k % 2]
            k += 1
            seen.clear()
            if signum == signal.SIGUSR1:
                os.kill(os.getpid(), signum)
            else:
                signal.pthread_kill(main_thread, signum)
            stats["signals_sent"][names[signum]] += 1
            if not seen.wait(SIGNAL_TIMEOUT):
                stats["signals_lost"] += 1
            time.sleep(args.signal_interval)

    # -- the clients
    client = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--client", str(port),
         "--connections", str(args.connections), "--seconds", str(args.seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    sender = threading.Thread(target=send_signals, name="signals", daemon=True)
    sender.start()

    started = time.monotonic()
    report_every = max(1.0, min(10.0, args.seconds / 6))
    last_report = [started, 0]

    def tick(w: ev.Timer, revents: int) -> None:
        now = time.monotonic()
        if now - last_report[0] >= report_every:
            rate = (stats["served"] - last_report[1]) / (now - last_report[0])
            last_report[:] = [now, stats["served"]]
            print(f"  {now - started:6.0f} s: {len(conns)} connections, {rate:8.0f} requests/s, "
                  f"{stats['served']} served, {stats['exited']}/{stats['spawned']} children, "
                  f"{sum(stats['signals_seen'].values())} signals, fds {open_fds()}, RSS {rss_kib()} KiB",
                  flush=True)
        if now - started >= args.seconds and not ending.is_set():
            ending.set()  # no new children or signals
        if ending.is_set() and client.poll() is not None and not conns and not in_flight \
                and not sender.is_alive():
            loop.break_(ev.BREAK_ALL)
        if now - started > args.seconds + GRACE_SECONDS:
            print("soak: the end did not come within the grace period", flush=True)
            stats["server_errors"] += 1
            loop.break_(ev.BREAK_ALL)

    ticker = ev.Timer(0.2, tick, repeat=0.2).start(loop)

    print(f"soak: {args.seconds:g} s, {args.connections} connections on 127.0.0.1:{port}, "
          f"{loop.backend.name} backend, {'signalfd' if args.signalfd else 'signal handlers'}, "
          f"pid {os.getpid()}", flush=True)
    fds_before_setup = fds_base
    fds_start, rss_start = open_fds(), rss_kib()
    try:
        loop.run()
    finally:
        ending.set()
    fds_end, rss_end = open_fds(), rss_kib()
    out, _ = client.communicate(timeout=30)
    sender.join(timeout=SIGNAL_TIMEOUT + 1)
    try:
        cstats = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        cstats = {}
    ticker.stop()
    spawner.stop()
    accept_io.stop()
    for w in sigwatchers:
        w.stop()
    loop.run(ev.RUN_NOWAIT)
    lsock.close()
    loop.close()
    fds_after_close = open_fds()

    problems = []
    if client.returncode != 0 or not cstats:
        problems.append(f"the client process failed (exit status {client.returncode})")
    sent = cstats.get("sent", 0)
    checks = [
        ("connections made", cstats.get("connections", 0), args.connections),
        ("connections accepted", stats["accepted"], args.connections),
        ("connections closed", stats["closed"], stats["accepted"]),
        ("requests served", stats["served"], sent),
        ("requests answered", cstats.get("answered", 0), sent),
        ("child exits seen", stats["exited"], stats["spawned"]),
    ]
    for name in ("SIGUSR1", "SIGUSR2"):
        checks.append((f"{name} seen", stats["signals_seen"][name], stats["signals_sent"][name]))
    print(f"soak: {time.monotonic() - started:.0f} s")
    for what, got, want in checks:
        flag = "" if got == want else "   <-- LOST" if got < want else "   <-- TOO MANY"
        print(f"  {what:22} {got:>10} of {want:<10}{flag}")
        if got != want:
            problems.append(f"{what}: {got} of {want}")
    for key in ("mismatched", "errors", "connect_failures", "unanswered"):
        if cstats.get(key, 0):
            problems.append(f"client {key}: {cstats[key]}")
    for key in ("server_errors", "bad_exit", "signals_lost"):
        if stats[key]:
            problems.append(f"{key}: {stats[key]}")
    print(f"  {'open fds':22} {fds_start:>10} at start, {fds_end} at end "
          f"({fds_before_setup} before the loop was made, {fds_after_close} after it was closed)")
    print(f"  {'RSS':22} {rss_start:>10} KiB at start, {rss_end} KiB at end ({rss_end - rss_start:+d} KiB)")
    if sent:
        print(f"  {'requests/s':22} {sent / args.seconds:>10.0f}")
    if fds_end > fds_start:
        problems.append(f"open fds grew from {fds_start} to {fds_end}")
    if fds_after_close > fds_before_setup:
        # Not judged: pyev keeps one signal pipe per process (the wakeup fd
        # given to signal.set_wakeup_fd), made on first use.
        left = sorted(set(fd_targets()) - set(fds_base_targets))
        print(f"  {'':22} after close: {left} (pyev's process-wide signal pipe, made once)")
    if problems:
        print("soak: FAILED: " + "; ".join(problems))
        return 1
    print("soak: OK, nothing lost")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="how long to send (default 60)")
    p.add_argument("--connections", type=int, default=1000, help="concurrent clients (default 1000)")
    p.add_argument("--backend", choices=["epoll", "poll"], default="epoll")
    p.add_argument("--no-signalfd", dest="signalfd", action="store_false",
                   help="signals through Python handlers instead of signalfd")
    p.add_argument("--child-interval", type=float, default=0.005,
                   help="seconds between child spawns (default 0.005)")
    p.add_argument("--signal-interval", type=float, default=0.001,
                   help="pause after each signal is seen (default 0.001)")
    p.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.client is not None:
        return client_main(args.client, args.connections, args.seconds)
    return server_main(args)


if __name__ == "__main__":
    sys.exit(main())
