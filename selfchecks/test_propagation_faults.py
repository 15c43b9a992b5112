"""Every mask-propagation property fails under a plausible injected fault (one per rule family),
in the comparison the fault breaks."""

import pytest

from kmask.save_load import EMBED_LSTM, check_reload_keeps_masking

from .injection import assert_fails_under, assert_property_fails, case_params
from .propagation_faults import CASES, FAULTS, SAVE_LOAD_FAULT


@pytest.mark.parametrize("case", case_params(CASES))
def test_property_fails_under_fault(case):
    """The property reports a failure of the comparison ``case.fragment`` names when
    ``case.fault`` is injected into Keras."""
    assert_property_fails(FAULTS[case.fault], case)


@pytest.mark.parametrize("file_format", ["keras", "h5"])
def test_save_load_check_fails_under_fault(file_format, tmp_path):
    """The save/load check reports that the model reloaded from ``file_format`` differs when
    the reloaded Embedding no longer makes a mask."""
    assert_fails_under(
        SAVE_LOAD_FAULT, f"reloaded from {file_format}",
        lambda: check_reload_keeps_masking(EMBED_LSTM, "sequential", file_format, tmp_path),
        f"check_reload_keeps_masking(EMBED_LSTM, 'sequential', {file_format!r})",
    )
