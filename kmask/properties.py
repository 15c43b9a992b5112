"""Reach a test of ``tests/`` by its pytest id (``"tests/test_gradients.py::test_name"``), so that
self-checks and benchmarks never import a test file themselves."""

from __future__ import annotations

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: ``tests/`` lives there and is imported as the package ``tests``."""


def load(test_id: str):
    """The test function that ``test_id`` ("tests/test_x.py::test_name") names."""
    path, _, name = test_id.partition("::")
    if not (path.startswith("tests/") and path.endswith(".py") and name):
        raise ValueError(f"{test_id!r} is not a test id like 'tests/test_x.py::test_name'")
    if not (ROOT / path).is_file():
        raise LookupError(f"{test_id}: no file {ROOT / path}")
    module = importlib.import_module(path[: -len(".py")].replace("/", "."))
    test = getattr(module, name, None)
    if test is None:
        raise LookupError(f"{test_id}: {path} defines no {name}")
    return test


def properties() -> dict:
    """Every Hypothesis property in ``tests/``, by test id."""
    found = {}
    for file in sorted((ROOT / "tests").glob("test_*.py")):
        module = importlib.import_module(f"tests.{file.stem}")
        for name in sorted(vars(module)):
            test = getattr(module, name)
            if name.startswith("test_") and hasattr(test, "hypothesis"):
                found[f"tests/{file.name}::{name}"] = test
    return found
