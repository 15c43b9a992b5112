"""What every self-check family shares: a fault record, a fault case (the property a fault must
break and the comparison it must break), a monkeypatch helper, and the check that a property
fails in that comparison while the fault is injected."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kmask.build import CACHE
from kmask.properties import load


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    bug: str
    """The bug, as a Keras changelog would describe it."""
    inject: Callable[[], contextlib.AbstractContextManager]


@dataclasses.dataclass(frozen=True)
class FaultCase:
    """A fault, the property it must break (by test id and parameters), and ``fragment``: text
    that the property's AssertionError must contain, naming the comparison the fault breaks."""

    fault: str
    test_id: str
    params: dict
    fragment: str

    @property
    def name(self) -> str:
        test = self.test_id.rpartition("::")[2]
        return "-".join([self.fault, test, *map(str, self.params.values())])


@contextlib.contextmanager
def patched(owner, name, replacement):
    """``owner.name`` replaced by ``replacement(original)`` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, replacement(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def injected(fault: Fault):
    """``fault`` injected into Keras, with nothing built or traced outside it serving inside it,
    nor the other way round: every cached model, runner and compiled model (kmask.build.CACHE,
    which kmask/compiled.py also caches in) is dropped, and Keras's session cleared (which
    ``CACHE.release`` does), before the fault goes in and after it comes out."""
    CACHE.release()
    try:
        with fault.inject():
            yield
    finally:
        CACHE.release()


UNDER_FAULT = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # a failure is all we need; shrinking it would cost minutes
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


def run_once(test, params: dict) -> None:
    """A Hypothesis property under the self-check settings (its own settings stay as they are),
    or a plain test called as it is."""
    if hasattr(test, "hypothesis"):
        UNDER_FAULT(given(data=st.data())(test.hypothesis.inner_test))(**params)
    else:
        test(**params)


def registry(*faults: Fault) -> dict[str, Fault]:
    """Faults by name."""
    return {f.name: f for f in faults}


def case_params(cases) -> list:
    """A family's :class:`FaultCase` list as ``pytest.param``s with readable ids."""
    return [pytest.param(case, id=case.name) for case in cases]


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "(no message)"


def assert_fails_under(fault: Fault, fragment: str, action: Callable[[], None], what: str) -> None:
    """``action()`` raises an AssertionError whose message contains ``fragment`` while ``fault``
    is injected; anything else (no failure, another exception, an AssertionError about another
    comparison) fails the self-check, saying what happened instead."""
    broken = f"under the fault '{fault.name}' ({fault.bug})"
    with injected(fault):
        try:
            action()
        except AssertionError as failure:
            if fragment in str(failure):
                return
            pytest.fail(
                f"{what} failed {broken}, but not in the comparison the fault breaks: its "
                f"AssertionError does not mention {fragment!r}:\n{failure}", pytrace=False,
            )
        except Exception as error:
            pytest.fail(
                f"{what} raised {type(error).__name__} {broken} instead of an AssertionError "
                f"mentioning {fragment!r}: {_first_line(error)}", pytrace=False,
            )
    pytest.fail(f"{what} did not fail {broken}", pytrace=False)


def assert_property_fails(fault: Fault, case: FaultCase) -> None:
    """The property of ``case`` fails in the comparison ``case.fragment`` names while ``fault``
    is injected into Keras."""
    prop = load(case.test_id)
    assert_fails_under(
        fault, case.fragment, lambda: run_once(prop, case.params), f"{case.test_id}({case.params})"
    )
