# setuptools needs a setup() call to learn about the C parts; everything
# else lives in pyproject.toml. Two compiled modules: the cffi shim over the
# kernel (pyev/_linux/_build.py) and the loop's hot path (pyev/_core.c).
from setuptools import Extension, setup

setup(
    cffi_modules=["pyev/_linux/_build.py:ffibuilder"],
    ext_modules=[
        Extension(
            "pyev._core",
            ["pyev/_core.c"],
            include_dirs=["pyev/_linux"],
            depends=["pyev/_linux/waiter.h"],
            extra_compile_args=["-O2", "-Wall"],
        )
    ],
)
