"""Test files are leaves: no file in tests/, selfchecks/ or benchmarks/ imports a test module
(``test_*``) or the ``tests`` package. What two files share lives in kmask/; self-checks and
benchmarks reach a property by its test id through ``kmask.properties``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("tests", "selfchecks", "benchmarks")


def imported_names(source: str, package: tuple[str, ...]) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every module ``source`` imports, relative imports resolved
    against ``package``; ``from m import a`` yields both ``m`` and ``m.a`` (``a`` may be a
    module)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def is_test_file(name: str) -> bool:
    """Whether the dotted ``name`` is (or is inside) the tests package or a ``test_*`` module."""
    parts = name.split(".")
    return parts[0] == "tests" or any(part.startswith("test_") for part in parts)


def test_rule_sees_absolute_and_relative_imports():
    """The rule flags every way a file can import a test file, and nothing else."""
    in_tests = "from .test_gradients import min_length\nfrom . import _draw\nimport tests\n"
    in_selfchecks = (
        "from tests import test_gradients\nfrom selfchecks.test_coverage import cases\n"
        "from .test_faults import CASES\nfrom kmask.draw import targets\nfrom .injection import FaultCase\n"
    )
    flagged = [
        (package[0], line)
        for source, package in ((in_tests, ("tests",)), (in_selfchecks, ("selfchecks",)))
        for line, name in imported_names(source, package)
        if is_test_file(name)
    ]
    assert sorted(set(flagged)) == [("selfchecks", 1), ("selfchecks", 2), ("selfchecks", 3),
                                    ("tests", 1), ("tests", 2), ("tests", 3)]


def test_no_file_imports_a_test_file():
    """Every import in tests/, selfchecks/ and benchmarks/ names a module that is not a test file."""
    offending = []
    for directory in CHECKED:
        for path in sorted((ROOT / directory).rglob("*.py")):
            package = path.parent.relative_to(ROOT).parts
            flagged = {}
            for line, name in imported_names(path.read_text(), package):
                if is_test_file(name) and line not in flagged:
                    flagged[line] = name
            offending += [f"{path.relative_to(ROOT)}:{line} imports {name}" for line, name in flagged.items()]
    assert not offending, "test files must be leaves:\n" + "\n".join(offending)
