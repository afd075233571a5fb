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
