"""A masking bug only extreme padding content reveals, injected into the installed Keras.

An RNN loop that applies its mask by arithmetic, ``m * new + (1 - m) * old`` with ``m`` exactly
0 or 1, gives the right numbers for every finite input, so every other forward property passes;
a NaN, an infinity or an overflow at a padded step turns ``0 * new`` into NaN.
"""

from __future__ import annotations

from .faults import rnn_blends_by_mask_arithmetic
from .injection import Fault, FaultCase, registry


def rnn_masks_by_arithmetic():
    """The RNN loop holds states through padding by ``m * new + (1 - m) * old``, exact for
    finite inputs."""
    return rnn_blends_by_mask_arithmetic(0.0)


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
