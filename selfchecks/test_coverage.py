"""Every property in tests/ is broken by some fault, and every fault breaks some property.

Self-check families live in ``selfchecks/test_*faults.py``: each module holds ``CASES``,
a list of ``(fault name, property, parameters)``, and ``FAULTS``, its fault registry.
"""

import importlib
import pkgutil

import selfchecks
import tests


def _modules(package, prefix):
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
        if info.name.startswith(prefix)
    ]


def _families():
    return [m for m in _modules(selfchecks, "test_") if hasattr(m, "CASES")]


def properties():
    """Every Hypothesis property in tests/."""
    return {
        getattr(module, name)
        for module in _modules(tests, "test_")
        for name in dir(module)
        if name.startswith("test_") and hasattr(getattr(module, name), "hypothesis")
    }


def test_every_property_has_a_fault():
    """Each property in tests/ is broken by at least one injected fault."""
    covered = {prop for family in _families() for _, prop, _ in family.CASES}
    missing = sorted(p.__name__ for p in properties() - covered)
    assert not missing, f"properties no fault is shown to break: {missing}"


def test_every_fault_is_used():
    """Each fault in every family's registry breaks at least one property."""
    for family in _families():
        unused = set(family.FAULTS) - {fault for fault, _, _ in family.CASES}
        assert not unused, f"{family.__name__}: faults that break no property: {sorted(unused)}"
