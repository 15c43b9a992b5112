"""A fault case checked whole, in one property run: the property fails in the comparison the
fault breaks, and the script it writes shows the fault and only it (run in a fresh interpreter
with the fault injected it exits 1, against healthy Keras it exits 0, and it imports nothing but
TensorFlow/Keras, NumPy and the standard library).

Every property writes a script when it fails. The script is run for one case per (property,
comparison): another fault that breaks the same comparison of the same property makes the same
script fail the same way, and each run costs two fresh interpreters. The other cases still write
their script (cheap) but do not run it."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import subprocess
import sys

from kmask.properties import ROOT
from kmask.report import AGREES, REPORT_DIR_VARIABLE, REPRODUCES, RUN_VARIABLE

import selfchecks

from .injection import FaultCase, assert_property_fails


def families():
    """Every fault family module (``selfchecks/*faults.py``, test files aside), by name: the
    order that picks which case of a (property, comparison) runs its script, the first."""
    return [
        importlib.import_module(f"selfchecks.{info.name}")
        for info in sorted(pkgutil.iter_modules(selfchecks.__path__), key=lambda info: info.name)
        if info.name.endswith("faults") and not info.name.startswith("test_")
    ]

ALLOWED_IMPORTS = {"numpy", "tensorflow", "keras", "tf_keras", "importlib", "inspect", "os", "platform", "tempfile",
                   "traceback"}


def _script_cases() -> set[tuple[str, str]]:
    """(family module, case name) of the first case of each (property, comparison)."""
    chosen, seen = set(), set()
    for family in families():
        for case in family.CASES:
            if (case.test_id, case.fragment) not in seen:
                seen.add((case.test_id, case.fragment))
                chosen.add((family.__name__, case.name))
    return chosen


SCRIPT_CASES = _script_cases()


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module the script imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").partition(".")[0])
    return names


def run_script(script, fault: str | None = None) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, with ``fault`` ("module:expression" naming a
    :class:`~selfchecks.injection.Fault`) injected if given."""
    if fault is None:
        command = [sys.executable, str(script)]
    else:
        module_name, _, expression = fault.partition(":")
        runner = (f"import runpy\nimport {module_name}\n"
                  f"with {module_name}.{expression}.inject():\n    runpy.run_path({str(script)!r}, run_name='__main__')")
        command = [sys.executable, "-c", runner]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def assert_script_shows(directory, fault: str) -> None:
    """The one script written in ``directory`` imports only Keras, NumPy and the standard library,
    exits 1 with ``fault`` injected and 0 without it."""
    scripts = list(directory.glob("*.py"))
    assert len(scripts) == 1, f"reproducers written under {fault}: {scripts}"
    source = scripts[0].read_text()
    assert imported_modules(source) <= ALLOWED_IMPORTS, imported_modules(source) - ALLOWED_IMPORTS
    broken = run_script(scripts[0], fault)
    assert broken.returncode == REPRODUCES, f"under {fault}:\n{broken.stdout}{broken.stderr}"
    healthy = run_script(scripts[0])
    assert healthy.returncode == AGREES, f"healthy Keras:\n{healthy.stdout}{healthy.stderr}"


def assert_fault_case_holds(family, case: FaultCase, tmp_path, monkeypatch) -> None:
    """``case``'s property fails in its comparison under its fault (its script written under
    ``tmp_path``, not run by the property itself); for the case that stands for its (property,
    comparison), the script then shows the fault."""
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv(RUN_VARIABLE, "0")  # run below where it is this case's to run, twice
    assert_property_fails(family.FAULTS[case.fault], case)
    if (family.__name__, case.name) in SCRIPT_CASES:
        assert_script_shows(tmp_path, f"{family.__name__}:FAULTS[{case.fault!r}]")
