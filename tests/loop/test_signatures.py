"""Every public callable has a signature ``inspect.signature`` can read
(help(), IDEs and documentation tools rely on it), including the parts
implemented in C (pyev/_c/: Timer's constructor, Timer.start/stop,
Async.send, Loop.invoke_pending)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

import pyev as ev


def _own_attribute(cls: type, attr: str) -> object | None:
    """``cls``'s attribute ``attr`` as stored where pyev defines it, or None
    when it is inherited from outside pyev (int.conjugate, enum's methods)."""
    for owner in cls.__mro__:
        if attr in owner.__dict__:
            return owner.__dict__[attr] if owner.__module__.startswith("pyev") else None
    return None


def _public_callables() -> list[tuple[str, Callable[..., object]]]:
    found: list[tuple[str, Callable[..., object]]] = []
    for name in ev.__all__:
        obj = getattr(ev, name)
        if isinstance(obj, type):
            found.append((name, obj))
            for attr in dir(obj):
                if attr.startswith("_"):
                    continue
                raw = _own_attribute(obj, attr)
                if raw is None or isinstance(raw, property):
                    continue
                value = getattr(obj, attr)
                if callable(value) and not isinstance(value, obj):  # not an enum member
                    found.append((f"{name}.{attr}", value))
        elif callable(obj):
            found.append((name, obj))
    return found


PUBLIC = _public_callables()


def test_the_walk_finds_the_callables_implemented_in_c() -> None:
    names = {name for name, _ in PUBLIC}
    assert {"Timer", "Timer.start", "Timer.stop", "Async.send", "Loop.invoke_pending", "Loop.run"} <= names


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_callable_has_a_signature(name: str, obj: Callable[..., object]) -> None:
    inspect.signature(obj)


def test_timer_signature_names_the_constructor_arguments() -> None:
    params = inspect.signature(ev.Timer).parameters
    assert list(params)[:2] == ["after", "callback"]
    assert {"repeat", "priority", "data"} <= set(params)
    assert params["repeat"].kind is inspect.Parameter.KEYWORD_ONLY


def test_bound_methods_of_a_loop_and_its_watchers_have_signatures(loop: ev.Loop) -> None:
    timer = ev.Timer(60.0, lambda w, revents: None).start(loop)
    async_ = ev.Async(lambda w, revents: None).start(loop)
    for obj in (loop, timer, async_):
        for attr in dir(obj):
            if attr.startswith("_") or isinstance(_own_attribute(type(obj), attr), property):
                continue
            value = getattr(obj, attr)
            if inspect.ismethod(value) or inspect.isbuiltin(value):
                assert "self" not in inspect.signature(value).parameters, f"{type(obj).__name__}.{attr}"
    assert list(inspect.signature(timer.start).parameters) == ["loop"]
    assert list(inspect.signature(loop.invoke_pending).parameters) == []
    timer.stop()
    async_.stop()
