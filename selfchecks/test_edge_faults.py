"""Each edge-shape property fails under a masking bug that only edge batches and shapes reveal."""

import pytest

from .edge_faults import CASES, FAULTS
from .injection import assert_property_fails, case_params


@pytest.mark.parametrize("case", case_params(CASES))
def test_property_fails_under_fault(case):
    """The property reports a failure of the comparison ``case.fragment`` names when
    ``case.fault`` is injected into Keras."""
    assert_property_fails(FAULTS[case.fault], case)
