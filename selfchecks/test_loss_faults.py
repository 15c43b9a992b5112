"""Every loss and metric property fails under a plausible injected fault."""

import pytest

from tests import test_compiled_loss as loss
from tests import test_multi_output_loss as multi_output
from tests import test_seed_notebook as seed

from .injection import assert_property_fails, case_params
from .loss_faults import FAULTS

CASES = [
    ("loss_counts_padded_steps", loss.test_loss_ignores_padded_targets, {}),
    ("loss_divides_by_all_steps", loss.test_compiled_loss_equals_masked_reference, dict(execution="graph")),
    ("metrics_ignore_mask", loss.test_compiled_metrics_equal_masked_reference, dict(execution="eager")),
    ("multi_output_losses_share_first_mask", multi_output.test_each_output_masked_with_its_own_mask, {}),
]
if "loss_drops_sample_weight_under_mask" in FAULTS:
    CASES.append(("loss_drops_sample_weight_under_mask", loss.test_compiled_loss_equals_masked_reference, dict(execution="jit")))
if "all_padded_batch_divides_by_zero" in FAULTS:
    CASES.append(("all_padded_batch_divides_by_zero", loss.test_compiled_loss_equals_masked_reference, dict(execution="eager")))


@pytest.mark.parametrize("fault, prop, params", case_params(CASES))
def test_property_fails_under_fault(fault, prop, params):
    """The property reports a failure when ``fault`` is injected into Keras."""
    assert_property_fails(FAULTS[fault], prop, params)


def test_seed_notebook_fails_under_old_denominator():
    """The seed notebook regression test fails when the loss divides by all timesteps again."""
    with FAULTS["loss_divides_by_all_steps"].inject():
        with pytest.raises(AssertionError, match="Older tf.keras"):
            seed.test_seed_notebook_evaluate_equals_masked_loss()
