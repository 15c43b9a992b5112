"""What every self-check family shares: a fault record, a monkeypatch helper, and the settings
under which a property is run with a fault injected."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    bug: str
    """The bug, as a Keras changelog would describe it."""
    inject: Callable[[], contextlib.AbstractContextManager]


@contextlib.contextmanager
def patched(owner, name, replacement):
    """``owner.name`` replaced by ``replacement(original)`` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, replacement(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


UNDER_FAULT = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # a failure is all we need; shrinking it would cost minutes
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


def under_fault_settings(prop):
    """``prop`` re-wrapped with the self-check settings (the original keeps its own)."""
    return UNDER_FAULT(given(data=st.data())(prop.hypothesis.inner_test))


def registry(*faults: Fault) -> dict[str, Fault]:
    """Faults by name."""
    return {f.name: f for f in faults}


def case_params(cases):
    """``pytest.param``s with readable ids for a family's ``(fault, property, parameters)`` cases."""
    return [
        pytest.param(f, p, kw, id="-".join([f, p.__name__, *map(str, kw.values())]))
        for f, p, kw in cases
    ]


def assert_property_fails(fault: Fault, prop, params: dict) -> None:
    """``prop`` with ``params`` reports a failure while ``fault`` is injected into Keras."""
    with fault.inject():
        try:
            under_fault_settings(prop)(**params)
        except AssertionError:
            return
    pytest.fail(f"{prop.__name__}({params}) did not fail under the fault '{fault.name}': {fault.bug}")
