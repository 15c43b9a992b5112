"""A masking bug only extreme padding content reveals, injected into the installed Keras.

An RNN loop that applies its mask by arithmetic, ``m * new + (1 - m) * old`` with ``m`` exactly
0 or 1, gives the right numbers for every finite input, so every other forward property passes;
a NaN, an infinity or an overflow at a padded step turns ``0 * new`` into NaN.
"""

from __future__ import annotations

from kmask.keras_compat import tf

from .faults import rnn_with
from .injection import Fault, FaultCase, registry


def rnn_masks_by_arithmetic():
    def transform(rnn, args, kw):
        step_function, inputs, initial_states = args
        mask = kw.get("mask")
        if mask is None:
            return rnn(*args, **kw)
        zero_output = kw.get("zero_output_for_mask", False)
        kw = {**kw, "mask": None, "zero_output_for_mask": False}

        def step(x, states):
            m = x[:, -1:]
            output, new_states = step_function(x[:, :-1], states)
            held = [m * new + (1 - m) * old for new, old in zip(new_states, states)]
            output = m * output + (0 if zero_output else (1 - m) * states[0])
            return output, held

        weight = tf.cast(mask, inputs.dtype)[..., None]
        return rnn(step, tf.concat([inputs, weight], axis=-1), initial_states, **kw)

    return rnn_with(transform)


FAULTS = registry(
    Fault(
        "rnn_masks_by_arithmetic",
        "RNN loops hold states through padding by m * new + (1 - m) * old (NaN * 0 = NaN).",
        rnn_masks_by_arithmetic,
    ),
)

EXTREME = "tests/test_extreme_padding.py::"
CASES = [
    FaultCase("rnn_masks_by_arithmetic", EXTREME + "test_real_outputs_ignore_extreme_padding_content",
              dict(focus="LSTM"), "ordinary vs extreme padding content"),
    FaultCase("rnn_masks_by_arithmetic", EXTREME + "test_real_outputs_ignore_extreme_padding_content",
              dict(focus="Bidirectional"), "ordinary vs extreme padding content"),
]
"""Which property, with which parameters, the fault must break, and the comparison its failure
must name."""
