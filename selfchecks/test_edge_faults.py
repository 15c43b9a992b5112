"""Each edge-shape property fails under a masking bug that only edge batches and shapes reveal."""

import pytest

from . import edge_faults
from .fault_scripts import assert_fault_case_holds
from .injection import case_params


@pytest.mark.parametrize("case", case_params(edge_faults.CASES))
def test_property_fails_under_fault(case, tmp_path, monkeypatch):
    """The property reports a failure of the comparison ``case.fragment`` names when
    ``case.fault`` is injected into Keras, and the script it writes shows the fault (run for one
    case per property and comparison; see selfchecks/fault_scripts.py)."""
    assert_fault_case_holds(edge_faults, case, tmp_path, monkeypatch)
