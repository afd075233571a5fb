"""Timer and idle workloads: timer_churn, timer_fire, idle."""

from __future__ import annotations

import random
from typing import Any

from common import (
    Result,
    aio_loop,
    gevent_loop,
    impl,
    noop,
    perf_counter,
    pyev_loop,
    run_aio,
)

# --- 1. timer_churn ---------------------------------------------------------


def churn_plan(n: int) -> tuple[list[float], list[int]]:
    rng = random.Random(1)
    afters = [rng.uniform(0.5, 60.0) for _ in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    return afters, order


@impl("timer_churn", "pyev")
def timer_churn_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["timer_churn"])
    afters, order = churn_plan(n)
    loop = pyev_loop()
    Timer = ev.Timer
    ws: list[Any] = []
    append = ws.append
    t0 = perf_counter()
    for after in afters:
        append(Timer(after, noop).start(loop))
    for i in order:
        ws[i].stop()
    loop.run(ev.RUN_NOWAIT)
    return n / (perf_counter() - t0), {"n": n}


@impl("timer_churn", "gevent")
def timer_churn_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["timer_churn"])
    afters, order = churn_plan(n)
    loop = gevent_loop()
    timer = loop.timer
    ws: list[Any] = []
    append = ws.append
    t0 = perf_counter()
    for after in afters:
        w = timer(after)
        w.start(noop)
        append(w)
    for i in order:
        ws[i].stop()
    loop.run(nowait=True)
    return n / (perf_counter() - t0), {"n": n}


@impl("timer_churn", "asyncio", "uvloop")
def timer_churn_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["timer_churn"])
    afters, order = churn_plan(n)
    loop = aio_loop(library)
    call_later = loop.call_later
    hs: list[Any] = []
    append = hs.append
    t0 = perf_counter()
    for after in afters:
        append(call_later(after, noop))
    for i in order:
        hs[i].cancel()
    # One iteration, in which asyncio drops the cancelled handles.
    loop.call_soon(loop.stop)
    loop.run_forever()
    rate = n / (perf_counter() - t0)
    loop.close()
    return rate, {"n": n}


# --- 2. timer_fire ----------------------------------------------------------


def fire_plan(n: int) -> list[float]:
    rng = random.Random(2)
    return [rng.uniform(0.0, 0.05) for _ in range(n)]


@impl("timer_fire", "pyev")
def timer_fire_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["timer_fire"])
    afters = fire_plan(n)
    loop = pyev_loop()
    fired = 0
    t_end = 0.0

    def on_timer(w: Any, revents: int) -> None:
        nonlocal fired, t_end
        fired += 1
        if fired == n:
            t_end = perf_counter()

    Timer = ev.Timer
    loop.now_update()
    t0 = perf_counter()
    for after in afters:
        Timer(after, on_timer).start(loop)
    t_started = perf_counter()
    loop.run()
    return n / (t_end - t0), {"n": n, "fired": fired, "start_s": t_started - t0}


@impl("timer_fire", "gevent")
def timer_fire_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["timer_fire"])
    afters = fire_plan(n)
    loop = gevent_loop()
    fired = 0
    t_end = 0.0

    def on_timer() -> None:
        nonlocal fired, t_end
        fired += 1
        if fired == n:
            t_end = perf_counter()

    timer = loop.timer
    # gevent's watchers keep themselves referenced while active.
    loop.update_now()
    t0 = perf_counter()
    for after in afters:
        timer(after).start(on_timer)
    t_started = perf_counter()
    loop.run()
    return n / (t_end - t0), {"n": n, "fired": fired, "start_s": t_started - t0}


@impl("timer_fire", "asyncio", "uvloop")
def timer_fire_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["timer_fire"])
    afters = fire_plan(n)
    loop = aio_loop(library)
    fired = 0
    t_end = 0.0

    def on_timer() -> None:
        nonlocal fired, t_end
        fired += 1
        if fired == n:
            t_end = perf_counter()
            loop.stop()

    call_later = loop.call_later
    t0 = perf_counter()
    for after in afters:
        call_later(after, on_timer)
    t_started = perf_counter()
    run_aio(loop)
    return n / (t_end - t0), {"n": n, "fired": fired, "start_s": t_started - t0}


# --- 3. idle ----------------------------------------------------------------


@impl("idle", "pyev")
def idle_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["idle"])
    loop = pyev_loop()
    count = 0

    def on_idle(w: Any, revents: int) -> None:
        nonlocal count
        count += 1
        if count >= n:
            w.stop()

    ev.Idle(on_idle).start(loop)
    t0 = perf_counter()
    loop.run()
    return count / (perf_counter() - t0), {"n": n}


@impl("idle", "gevent")
def idle_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["idle"])
    loop = gevent_loop()
    count = 0
    w = loop.idle()

    def on_idle() -> None:
        nonlocal count
        count += 1
        if count >= n:
            w.stop()

    w.start(on_idle)
    t0 = perf_counter()
    loop.run()
    return count / (perf_counter() - t0), {"n": n}


@impl("idle", "asyncio", "uvloop")
def idle_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["idle"])
    loop = aio_loop(library)
    count = 0
    call_soon = loop.call_soon

    def on_idle() -> None:
        nonlocal count
        count += 1
        if count >= n:
            loop.stop()
        else:
            call_soon(on_idle)

    call_soon(on_idle)
    t0 = perf_counter()
    loop.run_forever()
    rate = count / (perf_counter() - t0)
    loop.close()
    return rate, {"n": n}
