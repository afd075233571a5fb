"""The C↔Python seam is declared once, and every name C looks up resolves.

The C core calls back into Python by name (``PyObject_CallMethod``,
``PyObject_GetAttr`` on interned strings). A Python method renamed without
its C caller would pass mypy and fail at run time, on a rare path perhaps.
So: every name the C sources look up must be declared in the stubs
(``pyev/_core.pyi``, as an abstract method or a Protocol member, or the
backends' ``BackendImpl`` Protocol), and every declared member must exist on
each Python class that implements it. mypy then checks the signatures
(``Loop`` cannot be instantiated while an abstract method is missing).
"""

from __future__ import annotations

import ast
import pathlib
import re
from collections.abc import Iterator

import pytest

import pyev as ev
from pyev import _backends, _constants, _core, _linux
from pyev import _loop as loop_module
from pyev._sources.wakeup import Wakeup

PACKAGE = pathlib.Path(ev.__file__).parent
C_SOURCES = sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".c", ".h") and not p.name.startswith("_kernel"))

# Names C reads off modules, not off pyev's objects: module -> names.
MODULE_LOOKUPS = {"pyev._constants": {"Error"}, "pyev._loop": {"default_loop"}}

LOOKUP_PATTERNS = [
    re.compile(r'intern\(&\w+,\s*"(\w+)"\)'),  # interned names, used with GetAttr / CallMethod
    re.compile(r'PyObject_CallMethod\(\s*[^,]+,\s*"(\w+)"'),
    re.compile(r'PyObject_GetAttrString\(\s*[^,]+,\s*"(\w+)"\)'),
]


def c_lookups() -> set[str]:
    names: set[str] = set()
    for path in C_SOURCES:
        text = path.read_text()
        for pattern in LOOKUP_PATTERNS:
            names.update(pattern.findall(text))
    return names


def stub_classes() -> dict[str, set[str]]:
    """Class name -> the members it declares, read from the stubs."""
    declared: dict[str, set[str]] = {}
    sources = [PACKAGE / "_core.pyi", PACKAGE / "_backends" / "__init__.py"]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                members = declared.setdefault(node.name, set())
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        members.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        members.add(item.target.id)
    return declared


def abstract_members(path: pathlib.Path) -> dict[str, set[str]]:
    """Class name -> its @abstractmethod members, in the stub."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id == "abstractmethod" for d in item.decorator_list
                ):
                    found.setdefault(node.name, set()).add(item.name)
    return found


def implementers() -> Iterator[tuple[str, object]]:
    """(declaring stub class, a Python object that must implement it)."""
    for backend in (ev.Backend.EPOLL, ev.Backend.POLL):
        if backend not in ev.supported_backends():
            continue
        loop = ev.Loop(backend=backend)
        try:
            loop.run(ev.RUN_NOWAIT)
            yield "LoopBase", loop
            yield "BackendImpl", loop._backend
            yield "WakeupHooks", loop._get_wakeup()
            waiter = getattr(loop._backend, "_waiter", None)
            if waiter is not None:
                yield "CWaiterOwner", waiter
        finally:
            loop.close()
    yield "TimerBase", ev.Timer(1.0, lambda w, r: None)
    yield "PeriodicBase", ev.Periodic(0.0, lambda w, r: None, interval=60.0)


def test_the_c_sources_are_found() -> None:
    assert any(p.suffix == ".c" for p in C_SOURCES)
    assert len(c_lookups()) >= 15  # the scan sees the core's lookups


def test_every_name_c_looks_up_is_declared_in_the_stubs() -> None:
    declared = set().union(*stub_classes().values())
    module_names = set().union(*MODULE_LOOKUPS.values())
    undeclared = sorted(c_lookups() - declared - module_names)
    assert undeclared == [], f"looked up by C but declared nowhere in the stubs: {undeclared}"


def test_every_name_c_reads_off_a_module_exists() -> None:
    modules = {"pyev._constants": _constants, "pyev._loop": loop_module}
    for module, names in MODULE_LOOKUPS.items():
        for name in names:
            assert hasattr(modules[module], name), f"{module}.{name}"


@pytest.mark.parametrize("declaring", ["LoopBase", "TimerBase", "PeriodicBase", "CWaiterOwner", "WakeupHooks",
                                       "BackendImpl"])
def test_every_declared_member_resolves_on_each_implementer(declaring: str) -> None:
    declared = stub_classes()
    # The Protocols and abstract methods are the seam; a base class' own C
    # members (fields, methods) are C's and need no check.
    abstract = abstract_members(PACKAGE / "_core.pyi")
    if declaring in ("LoopBase", "TimerBase", "PeriodicBase"):
        wanted = abstract[declaring]
    else:
        wanted = declared[declaring]
    objects = [obj for name, obj in implementers() if name == declaring]
    if declaring == "CWaiterOwner" and not _linux.AVAILABLE:
        pytest.skip("no epoll here: the C waiter is not used")
    assert objects, f"no implementer of {declaring} found"
    for obj in objects:
        missing = sorted(name for name in wanted if not hasattr(obj, name))
        assert missing == [], f"{type(obj).__name__} lacks {missing}, which {declaring} declares"


def test_the_c_base_classes_are_the_stubs_classes() -> None:
    declared = stub_classes()
    for name in ("WatcherBase", "DeadlineBase", "TimerBase", "PeriodicBase", "IoBase", "ListedBase", "AsyncBase",
                 "DeadlineHeap", "FdTableBase", "LoopBase"):
        assert name in declared
        assert isinstance(getattr(_core, name), type)
    assert issubclass(ev.Loop, _core.LoopBase)
    assert issubclass(ev.Timer, _core.TimerBase)
    assert issubclass(ev.Periodic, _core.PeriodicBase)
    assert isinstance(_backends.BackendImpl, type)
    assert Wakeup.__slots__  # armed is a slot: declared on the instance
