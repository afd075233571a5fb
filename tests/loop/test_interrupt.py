"""Ctrl-C while run() is blocked in the poll raises KeyboardInterrupt promptly,
with no Signal watcher for SIGINT. Tested in a subprocess: SIGINT is
process-wide."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

import pyev as ev

# The loop's only referenced watcher is a 60 s timer; the process must end
# long before that.
PROMPTLY = 20.0

SCRIPT = textwrap.dedent(
    """
    import sys
    import pyev as ev

    loop = ev.Loop(backend=ev.Backend[sys.argv[1]], signalfd=sys.argv[2] == "signalfd")
    ev.Timer(60.0, lambda w, revents: print("timer fired", flush=True)).start(loop)
    if sys.argv[3] == "with-signal-watcher":
        import signal
        ev.Signal(signal.SIGUSR1, lambda w, revents: None).start(loop)

    def ready(w, revents):
        print("ready", flush=True)
        w.stop()

    ev.Prepare(ready).start(loop)
    loop.run()
    print("run returned", flush=True)
    """
)


@pytest.mark.parametrize(
    ("mode", "extra"),
    [
        pytest.param("signalfd", "plain", id="plain"),
        pytest.param("signalfd", "with-signal-watcher", id="signal-watcher-signalfd"),
        pytest.param("handler", "with-signal-watcher", id="signal-watcher-handler"),
    ],
)
def test_ctrl_c_during_the_poll_raises_keyboard_interrupt_promptly(
    backend: ev.Backend, mode: str, extra: str
) -> None:
    assert backend.name is not None
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, backend.name, mode, extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "ready\n", proc.stderr.read() if proc.stderr else line
        time.sleep(0.05)  # let it block in the poll
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=PROMPTLY)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run() was still blocked {PROMPTLY} s after SIGINT")
        assert time.monotonic() - sent < PROMPTLY
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0
    assert "timer fired" not in out
    assert "run returned" not in out


# A signal sent at random moments around the start of run(), many times:
# some land between the loop's last look at Python's pending-signal flag and
# its poll, where they interrupt nothing. The loop must still wake at once
# (the signal pipe is in its poll) instead of waiting for its next timer.
RACE_SCRIPT = textwrap.dedent(
    """
    import os, random, signal, sys, threading, time
    import pyev as ev

    class Handled(Exception):
        pass

    def raise_handled(signum, frame):
        raise Handled()

    backend, mode, signame, tries = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    signum = getattr(signal, signame)
    expected = KeyboardInterrupt if signum == signal.SIGINT else Handled
    if signum != signal.SIGINT:
        signal.signal(signum, raise_handled)
    random.seed(1234)
    for i in range(tries):
        loop = ev.Loop(backend=ev.Backend[backend], signalfd=mode == "signalfd")
        ev.Timer(TIMER, lambda w, revents: None).start(loop)
        # Busy in C, holding the GIL, for 0-4 ms before the first poll: the
        # sender, waiting for the GIL, gets it as the loop lets go of it to
        # poll, and its signal lands right then.
        work = range(random.randrange(0, 400_000))

        def busy(w, revents):
            w.stop()
            sum(work)

        ev.Prepare(busy).start(loop)
        go = threading.Event()
        sender = threading.Thread(target=lambda: (go.wait(), os.kill(os.getpid(), signum)))
        sender.start()
        started = time.monotonic()
        try:
            go.set()
            loop.run()
        except expected:
            print("interrupted", time.monotonic() - started, flush=True)
        else:
            print("run returned", flush=True)
        sender.join()
        loop.close()
    """
)
# The loop's timer: a signal that waits for it shows as a delay this long.
RACE_TIMER = 5.0
RACE_TRIES = 40


@pytest.mark.parametrize("mode", ["signalfd", "handler"])
@pytest.mark.parametrize("signame", ["SIGINT", "SIGUSR1"], ids=["ctrl-c", "python-handler"])
def test_a_signal_with_a_python_handler_wakes_the_poll_whenever_it_lands(
    backend: ev.Backend, mode: str, signame: str
) -> None:
    assert backend.name is not None
    script = RACE_SCRIPT.replace("TIMER", repr(RACE_TIMER))
    proc = subprocess.run(
        [sys.executable, "-c", script, backend.name, mode, signame, str(RACE_TRIES)],
        capture_output=True,
        text=True,
        timeout=RACE_TRIES * RACE_TIMER + 60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == RACE_TRIES, proc.stderr
    latencies = [float(line.split()[1]) for line in lines if line.startswith("interrupted")]
    assert len(latencies) == RACE_TRIES, lines
    # Any signal left to the timer would take RACE_TIMER seconds.
    assert max(latencies) < RACE_TIMER / 2, sorted(latencies)[-5:]
