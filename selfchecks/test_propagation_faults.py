"""Every mask-propagation property fails under a plausible injected fault (one per rule family),
in the comparison the fault breaks (the save/load check's fault: selfchecks/test_reproducers.py)."""

import pytest

from .injection import assert_property_fails, case_params
from .propagation_faults import CASES, FAULTS


@pytest.mark.parametrize("case", case_params(CASES))
def test_property_fails_under_fault(case):
    """The property reports a failure of the comparison ``case.fragment`` names when
    ``case.fault`` is injected into Keras."""
    assert_property_fails(FAULTS[case.fault], case)
