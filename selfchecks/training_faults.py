"""Plausible bugs in how Keras trains on padded batches, injected by monkeypatching.

Each fault leaves the forward pass of inference right, or nearly, and leaks padding into what
training sees: a gradient, a loss average, dropout noise, normalisation statistics, or the
16-bit path of mixed precision. ``CASES`` says which property each must break, and in which
comparison; ``test_training_faults.py`` proves it.
"""

from __future__ import annotations

from kmask.keras_compat import GENERATION, layers, tf

from .faults import rnn_blends_by_mask_arithmetic, rnn_with
from .injection import Fault, FaultCase, patched, registry
from .loss_faults import loss_divides_by_all_steps

LEAK = 1e-6
"""Weight a padded step keeps under the leaky-mask fault: far below the forward properties'
tolerance (about 1e-4), so only the gradient sees it."""

if GENERATION == 3:
    from keras import ops as _ops
else:
    _ops = tf


def rnn_blends_with_leaky_mask():
    """The RNN loop blends new and held states by ``m * new + (1 - m) * old``, padded steps
    weighted ``LEAK`` instead of 0."""
    return rnn_blends_by_mask_arithmetic(LEAK)


def pooling_gradient_ignores_mask():
    """GlobalAveragePooling1D averages over real steps forward but its backward pass spreads the
    gradient over every step, as a hand-written gradient that forgot the mask would."""

    def replacement(original):
        def call(self, inputs, mask=None):
            masked = original(self, inputs, mask=mask)
            if mask is None:
                return masked
            plain = original(self, inputs, mask=None)
            return plain + _ops.stop_gradient(masked - plain)

        return call

    return patched(layers.GlobalAveragePooling1D, "call", replacement)


def dropout_ignores_noise_shape():
    """Dropout draws one noise value per element, ignoring ``noise_shape``."""

    def replacement(original):
        def call(self, inputs, training=None):
            noise_shape = self.noise_shape
            object.__setattr__(self, "noise_shape", None)
            try:
                return original(self, inputs, training=training)
            finally:
                object.__setattr__(self, "noise_shape", noise_shape)

        return call

    return patched(layers.Dropout, "call", replacement)


def batchnorm_moments_ignore_mask():
    """BatchNormalization computes its moments over every timestep, ignoring the mask."""

    def replacement(original):
        def call(self, inputs, training=None, mask=None):
            return original(self, inputs, training=training, mask=None)

        return call

    return patched(layers.BatchNormalization, "call", replacement)


def rnn_drops_mask_in_16_bit():
    """The RNN loop's 16-bit path (float16/bfloat16 inputs) ignores the mask."""

    def transform(rnn, args, kw):
        if args[1].dtype in (tf.float16, tf.bfloat16):
            kw = {**kw, "mask": None}
        return rnn(*args, **kw)

    return rnn_with(transform)


FAULTS = registry(
    Fault(
        "rnn_blends_with_leaky_mask",
        "RNN loops blend new and held states with a float mask that is 1e-6, not 0, at padding.",
        rnn_blends_with_leaky_mask,
    ),
    Fault(
        "pooling_gradient_ignores_mask",
        "GlobalAveragePooling1D's gradient flows to padded steps (forward pass right).",
        pooling_gradient_ignores_mask,
    ),
    Fault(
        "loss_divides_by_all_steps",
        "Masked losses are averaged over all timesteps, padded ones included.",
        loss_divides_by_all_steps,
    ),
    Fault(
        "dropout_ignores_noise_shape",
        "Dropout ignores noise_shape and draws noise per timestep.",
        dropout_ignores_noise_shape,
    ),
    Fault(
        "batchnorm_moments_ignore_mask",
        "BatchNormalization's training-mode moments include padded timesteps.",
        batchnorm_moments_ignore_mask,
    ),
    Fault(
        "rnn_drops_mask_in_16_bit",
        "RNN loops ignore the mask when running on float16/bfloat16 inputs.",
        rnn_drops_mask_in_16_bit,
    ),
)

GRADIENTS = "tests/test_gradients.py::"
STEPS = "tests/test_optimizer_steps.py::"
PADDED_INPUT_GRADIENT = "gradient of the masked loss reaches padded inputs"

CASES = [
    FaultCase("rnn_blends_with_leaky_mask", GRADIENTS + "test_input_gradient_is_zero_at_padded_steps",
              dict(focus="LSTM"), PADDED_INPUT_GRADIENT),
    FaultCase("pooling_gradient_ignores_mask", GRADIENTS + "test_input_gradient_is_zero_at_padded_steps",
              dict(focus="GlobalAveragePooling1D"), PADDED_INPUT_GRADIENT),
    FaultCase("pooling_gradient_ignores_mask", GRADIENTS + "test_weight_gradients_ignore_padding",
              dict(focus="GlobalAveragePooling1D"), "gradient of weight"),
    FaultCase("pooling_gradient_ignores_mask", STEPS + "test_optimizer_step_ignores_padding",
              dict(focus="GlobalAveragePooling1D", optimizer="SGD"), "weights after one SGD step"),
    FaultCase("loss_divides_by_all_steps", STEPS + "test_fit_ignores_padding", dict(focus="GRU"),
              "weights after fit"),
    FaultCase("dropout_ignores_noise_shape", "tests/test_training_mode.py::test_training_outputs_ignore_padding",
              dict(focus="Dropout"), "training mode: padded batch vs"),
    FaultCase("batchnorm_moments_ignore_mask",
              "tests/test_batchnorm_mask.py::test_batchnorm_statistics_ignore_padded_steps", {}, "moving mean"),
    FaultCase("rnn_drops_mask_in_16_bit", "tests/test_mixed_precision.py::test_mixed_precision_agrees_with_float32",
              dict(focus="LSTM", policy="mixed_float16"), "mixed_float16 vs float32"),
]
"""Which property, with which parameters, each fault must break, and the comparison its
failure must name."""
