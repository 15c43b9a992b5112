"""Every loss and metric property, and the seed notebook's regression test, fails under a
plausible injected fault, in the comparison the fault breaks."""

import pytest

from .injection import assert_property_fails, case_params
from .loss_faults import CASES, FAULTS


@pytest.mark.parametrize("case", case_params(CASES))
def test_property_fails_under_fault(case):
    """The property reports a failure of the comparison ``case.fragment`` names when
    ``case.fault`` is injected into Keras."""
    assert_property_fails(FAULTS[case.fault], case)
