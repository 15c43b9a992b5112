"""Every training property fails under a plausible injected fault (and so can fail at all)."""

import pytest

from tests import test_batchnorm_mask as batchnorm
from tests import test_gradients as gradients
from tests import test_mixed_precision as mixed
from tests import test_optimizer_steps as steps
from tests import test_training_mode as training_mode

from .injection import assert_property_fails, case_params
from .training_faults import FAULTS

# fault -> the property and parameters it must break
CASES = [
    ("rnn_blends_with_leaky_mask", gradients.test_input_gradient_is_zero_at_padded_steps, dict(focus="LSTM")),
    ("pooling_gradient_ignores_mask", gradients.test_input_gradient_is_zero_at_padded_steps, dict(focus="GlobalAveragePooling1D")),
    ("pooling_gradient_ignores_mask", gradients.test_weight_gradients_ignore_padding, dict(focus="GlobalAveragePooling1D")),
    ("pooling_gradient_ignores_mask", steps.test_optimizer_step_ignores_padding, dict(focus="GlobalAveragePooling1D", optimizer="SGD")),
    ("loss_divides_by_all_steps", steps.test_fit_ignores_padding, dict(focus="GRU")),
    ("dropout_ignores_noise_shape", training_mode.test_training_outputs_ignore_padding, dict(focus="Dropout")),
    ("batchnorm_moments_ignore_mask", batchnorm.test_batchnorm_statistics_ignore_padded_steps, dict()),
    ("rnn_drops_mask_in_16_bit", mixed.test_mixed_precision_agrees_with_float32, dict(focus="LSTM", policy="mixed_float16")),
]


@pytest.mark.parametrize("fault, prop, params", case_params(CASES))
def test_property_fails_under_fault(fault, prop, params):
    """The property reports a failure when ``fault`` is injected into Keras."""
    assert_property_fails(FAULTS[fault], prop, params)
