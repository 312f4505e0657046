"""The supported Python versions: pyproject's requires-python and classifiers agree, the running interpreter is one
of them, and the Makefile keeps one virtual environment per interpreter (``.venv`` for the default python3, so
that ``make test`` stays as CI runs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
CLASSIFIER = "Programming Language :: Python :: 3."


def supported_minors() -> set[int]:
    """The 3.x minor versions that requires-python admits (x below 40)."""
    allowed = SpecifierSet(PROJECT["requires-python"])
    return {minor for minor in range(40) if f"3.{minor}.0" in allowed}


def test_classifiers_name_exactly_the_versions_requires_python_admits():
    classified = {int(c.removeprefix(CLASSIFIER)) for c in PROJECT["classifiers"] if c.startswith(CLASSIFIER)}
    assert classified == supported_minors() == {11, 12, 13}


def test_running_interpreter_is_supported():
    assert sys.version_info[:2] in {(3, minor) for minor in supported_minors()}, sys.version


def venv_of(*args: str) -> str:
    """The folder `make install ARGS` would create its virtual environment in (a dry run: nothing is made)."""
    # Without the calling make's variables (`make test VENV=...` passes them down through MAKEFLAGS).
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON", "VENV"}}
    out = subprocess.run(["make", "-n", "-B", "install", *args], cwd=REPO, capture_output=True, text=True,
                         timeout=60, check=True, env=env).stdout
    (line,) = [line for line in out.splitlines() if " -m venv " in line]
    return line.split(" -m venv ")[1].strip()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_keeps_one_virtual_environment_per_interpreter():
    assert venv_of() == ".venv"
    assert venv_of("PYTHON=python3") == ".venv"
    assert venv_of("PYTHON=python3.12") == ".venv-3.12"
    assert venv_of("PYTHON=/usr/local/bin/python3.13") == ".venv-3.13"
    assert venv_of("PYTHON=python3.12", "VENV=/tmp/elsewhere") == "/tmp/elsewhere"
