# setuptools needs a setup() call to learn about the C parts; everything
# else lives in pyproject.toml. Two compiled modules: the cffi shim over the
# kernel (pyev/_linux/_build.py) and the loop's hot path (pyev/_c/, one file
# per concept: see pyev/_c/core.h).
from setuptools import Extension, setup

CORE_SOURCES = ["module.c", "watchers.c", "pending.c", "heap.c", "fdtable.c", "loop.c", "iterate.c"]

setup(
    cffi_modules=["pyev/_linux/_build.py:ffibuilder"],
    ext_modules=[
        Extension(
            "pyev._core",
            [f"pyev/_c/{name}" for name in CORE_SOURCES],
            include_dirs=["pyev/_linux"],
            depends=["pyev/_c/core.h", "pyev/_linux/waiter.h"],
            # hidden: only PyInit__core leaves the shared object, so the
            # calls between the files are direct (no PLT, no interposition)
            extra_compile_args=["-O2", "-Wall", "-fvisibility=hidden"],
        )
    ],
)
