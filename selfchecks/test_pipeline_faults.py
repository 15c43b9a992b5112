"""The text-token property fails when an unknown word gets the padding token."""

import pytest

from .injection import assert_property_fails, case_params
from .pipeline_faults import CASES, FAULTS


@pytest.mark.parametrize("case", case_params(CASES))
def test_property_fails_under_fault(case):
    """The property reports a failure of the comparison ``case.fragment`` names when
    ``case.fault`` is injected into Keras."""
    assert_property_fails(FAULTS[case.fault], case)
