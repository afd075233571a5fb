# setuptools needs a setup() call to learn about the cffi extension;
# everything else lives in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["pyev/_linux/_build.py:ffibuilder"])
