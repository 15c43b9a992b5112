"""User expectations: a plain-text file of tests the user expects to fail, marked xfail at collection.

Pick the file with ``--kmask-xfails FILE`` or ``KMASK_XFAILS=FILE``. One expectation a line::

    tests/test_compiled_loss.py::test_loss_ignores_padded_targets*  # our data never pads NaNs

a pytest node id, or a pattern over node ids where ``*`` and ``?`` are wildcards (brackets are
literal: they belong to parametrized ids), then ``#`` and the reason. Blank lines and lines that
start with ``#`` are ignored. Every collected test that a pattern matches is marked
``xfail(reason=..., strict=False)`` (the first matching line wins) and carries the pattern in its
report's ``user_properties`` as ``kmask_expectation``. Patterns that match no collected test are
listed in the terminal summary and in the result file, so a stale line is seen, not ignored.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from pathlib import Path

import pytest

VARIABLE = "KMASK_XFAILS"
PROPERTY = "kmask_expectation"
"""The ``user_properties`` name under which a test's report carries the pattern that matched it."""
_WORKER_OUTPUT = "kmask_unmatched_expectations"


@dataclasses.dataclass(frozen=True)
class Expectation:
    """One line of the file: which tests, why, and where the line is."""

    pattern: str
    reason: str
    line: int

    def matches(self, nodeid: str) -> bool:
        """Whether ``nodeid`` is this pattern, ``*`` and ``?`` being the only wildcards."""
        return fnmatch.fnmatchcase(nodeid, self.pattern.replace("[", "[[]"))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def chosen_file(config) -> Path | None:
    """The expectations file named by ``--kmask-xfails`` or ``KMASK_XFAILS``, if any."""
    name = config.getoption("kmask_xfails", None) or os.environ.get(VARIABLE)
    return Path(name) if name else None


def parse(path: Path) -> list[Expectation]:
    """The expectations in ``path``; a missing file or a line without a reason is a one-line
    ``pytest.UsageError`` that says how to fix it."""
    if not path.is_file():
        raise pytest.UsageError(
            f"kmask xfails file {str(path)!r} does not exist: create it (one 'TEST-ID-OR-PATTERN"
            f"  # reason' a line) or fix --kmask-xfails / {VARIABLE}"
        )
    expectations = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        pattern, _, reason = (part.strip() for part in text.partition("#"))
        if not reason:
            raise pytest.UsageError(
                f"{path}:{number}: {pattern!r} has no reason: write it as "
                f"'{pattern}  # why this test is expected to fail'"
            )
        expectations.append(Expectation(pattern, reason, number))
    return expectations


class Expectations:
    """The pytest plugin that applies the expectations of one file and reports the unmatched ones.

    Under pytest-xdist every worker collects (and marks) the whole suite; the controller, which
    collects nothing, takes the unmatched patterns from the first worker that finishes."""

    def __init__(self, path: Path, expectations: list[Expectation]):
        self.path = path
        self.expectations = expectations
        self.unmatched: list[Expectation] | None = None
        """Patterns that matched no collected test; None until some collection has finished."""

    @pytest.hookimpl(tryfirst=True)  # before -m/-k deselect: "collected" means before deselection
    def pytest_collection_modifyitems(self, config, items):
        for item in items:
            expectation = next((e for e in self.expectations if e.matches(item.nodeid)), None)
            if expectation is None:
                continue
            item.add_marker(pytest.mark.xfail(
                reason=f"{expectation.reason} (expected in {self.path}:{expectation.line})",
                strict=False,
            ))
            item.user_properties.append((PROPERTY, expectation.pattern))
        self.unmatched = [e for e in self.expectations if not any(e.matches(i.nodeid) for i in items)]
        if hasattr(config, "workeroutput"):
            config.workeroutput[_WORKER_OUTPUT] = [e.as_dict() for e in self.unmatched]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node):
        reported = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT)
        if self.unmatched is None and reported is not None:
            self.unmatched = [Expectation(**e) for e in reported]

    def pytest_terminal_summary(self, terminalreporter, config):
        if not self.unmatched or hasattr(config, "workeroutput"):
            return
        terminalreporter.write_sep("=", f"kmask xfails: {len(self.unmatched)} pattern(s) match no collected test")
        for e in self.unmatched:
            terminalreporter.write_line(f"{self.path}:{e.line}: {e.pattern}  # {e.reason}")
