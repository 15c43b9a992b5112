"""Every mask-propagation property fails under a plausible injected fault (one per rule family)."""

import pytest

from tests import test_api_equivalence as equivalence
from tests import test_mask_propagation as propagation
from tests import test_masking_claims as claims
from tests import test_save_load as save_load

from .injection import assert_property_fails, case_params
from .propagation_faults import FAULTS, SAVE_LOAD_FAULT

# fault -> the property and parameters it must break
CASES = [
    ("dense_drops_mask", propagation.test_functional_graph_masks_follow_rules, dict(group="kept")),
    ("dense_drops_mask", propagation.test_sequential_masks_follow_rules, dict()),
    ("dense_drops_mask", equivalence.test_apis_give_same_outputs_and_mask, dict(api="sequential")),
    ("dense_drops_mask", claims.test_consumer_after_propagating_layers_ignores_padding, dict(api="functional")),
    ("conv1d_claims_mask_support", propagation.test_functional_graph_masks_follow_rules, dict(group="dropped")),
    ("conv1d_claims_mask_support", claims.test_unsupported_layer_drops_mask_silently, dict()),
    ("pooling_passes_mask_on", propagation.test_functional_graph_masks_follow_rules, dict(group="reduced")),
    ("merge_keeps_first_mask", propagation.test_functional_graph_masks_follow_rules, dict(group="merged")),
    ("attention_returns_value_mask", propagation.test_functional_graph_masks_follow_rules, dict(group="attention")),
    ("implicit_mask_only_in_functional_graphs", claims.test_consumer_after_propagating_layers_ignores_padding, dict(api="subclassed")),
    ("implicit_mask_only_in_functional_graphs", claims.test_consumer_after_propagating_layers_ignores_padding, dict(api="subclassed_layer")),
    ("implicit_mask_only_in_functional_graphs", equivalence.test_apis_give_same_outputs_and_mask, dict(api="subclassed_relying")),
]


@pytest.mark.parametrize("fault, prop, params", case_params(CASES))
def test_property_fails_under_fault(fault, prop, params):
    """The property reports a failure when ``fault`` is injected into Keras."""
    assert_property_fails(FAULTS[fault], prop, params)


@pytest.mark.parametrize("file_format", ["keras", "h5"])
def test_save_load_check_fails_under_fault(file_format, tmp_path):
    """The save/load check reports a failure when a reloaded model loses its mask."""
    with SAVE_LOAD_FAULT.inject():
        with pytest.raises(AssertionError):
            save_load.check_reload_keeps_masking(save_load.EMBED_LSTM, "sequential", file_format, tmp_path)
