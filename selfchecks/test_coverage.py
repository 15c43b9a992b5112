"""Every property in tests/ is broken by some fault case, every fault case names a test that
exists, and every fault breaks some property.

Fault families live in ``selfchecks/*faults.py`` (``faults``, ``loss_faults``, ...): each holds
``FAULTS``, its fault registry, and ``CASES``, its :class:`~selfchecks.injection.FaultCase` list.
"""

from kmask.properties import load, properties

from .fault_scripts import families


def cases():
    return [case for family in families() for case in family.CASES]


PROVEN_ELSEWHERE = {
    "tests/test_backends_agree.py::test_backends_give_same_masked_results":
        "selfchecks/test_differential_faults.py (the fault goes into the worker process, on the "
        "backend under test, so the proof runs where no second backend is installed)",
}
"""Properties whose fault injection cannot be a FaultCase, and the self-check that proves them."""


def test_every_property_has_a_fault():
    """Each property in tests/ is broken by at least one injected fault (a fault case, or the
    self-check :data:`PROVEN_ELSEWHERE` names)."""
    covered = {case.test_id for case in cases()} | set(PROVEN_ELSEWHERE)
    missing = sorted(set(properties()) - covered)
    assert not missing, f"properties no fault is shown to break: {missing}"


def test_every_case_names_a_test():
    """Each fault case names a test of tests/ that exists (``load`` raises otherwise)."""
    for case in cases():
        load(case.test_id)


def test_every_fault_is_used():
    """Each fault in every family's registry breaks at least one property."""
    for family in families():
        unused = set(family.FAULTS) - {case.fault for case in family.CASES}
        assert not unused, f"{family.__name__}: faults that break no property: {sorted(unused)}"
