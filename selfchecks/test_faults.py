"""Every forward property fails under a plausible injected fault (and so can fail at all)."""

import pytest

from tests import test_execution_modes as modes
from tests import test_padding_invisible as invisible
from tests import test_recurrent_padding as recurrent

from .faults import FAULTS
from .injection import assert_property_fails, case_params

# fault -> the property and parameters it must break
CASES = [
    ("rnn_ignores_mask", invisible.test_padded_batch_equals_each_sample_alone, dict(focus="LSTM", api="functional")),
    ("rnn_ignores_mask", invisible.test_real_outputs_ignore_padding_content, dict(focus="GRU", api="subclassed")),
    ("rnn_one_step_past_padding", invisible.test_padded_batch_equals_each_sample_alone, dict(focus="GRU", api="sequential")),
    ("rnn_one_step_past_padding", invisible.test_real_outputs_ignore_extra_padding, dict(focus="SimpleRNN", api="functional")),
    ("rnn_zeroes_padded_outputs", recurrent.test_recurrent_outputs_hold_at_padded_steps, dict(kind="SimpleRNN", api="functional")),
    ("rnn_states_run_through_padding", recurrent.test_recurrent_outputs_hold_at_padded_steps, dict(kind="LSTM", api="functional")),
    ("rnn_drops_mask_in_graph_mode", modes.test_compiled_outputs_equal_eager, dict(focus="LSTM", mode="tf_function")),
    ("rnn_drops_mask_in_graph_mode", modes.test_compiled_outputs_equal_eager, dict(focus="GRU", mode="xla")),
    ("rnn_drops_mask_in_graph_mode", modes.test_compiled_outputs_equal_eager, dict(focus="SimpleRNN", mode="predict")),
    ("masking_requires_every_feature_to_differ", invisible.test_masking_layer_equals_true_mask, dict(focus="LSTM", api="functional")),
    ("masking_compares_with_tolerance", invisible.test_masking_layer_equals_true_mask, dict(focus="Dense", api="sequential")),
    ("pooling_ignores_mask", invisible.test_padded_batch_equals_each_sample_alone, dict(focus="GlobalAveragePooling1D", api="functional")),
    ("pooling_ignores_mask", invisible.test_real_outputs_ignore_extra_padding, dict(focus="GlobalAveragePooling1D", api="subclassed")),
    ("attention_ignores_key_padding", invisible.test_real_outputs_ignore_padding_content, dict(focus="MultiHeadAttention", api="functional")),
    ("attention_ignores_key_padding", invisible.test_padded_batch_equals_each_sample_alone, dict(focus="MultiHeadAttention", api="subclassed")),
]


@pytest.mark.parametrize("fault, prop, params", case_params(CASES))
def test_property_fails_under_fault(fault, prop, params):
    """The property reports a failure when ``fault`` is injected into Keras."""
    assert_property_fails(FAULTS[fault], prop, params)
