"""Plausible bugs in how compiled losses and metrics apply the output mask.

Keras 3 folds the mask into the sample weights in ``keras.src.losses.loss.apply_mask``
(losses and ``MeanMetricWrapper`` metrics both call it); Keras 2 does it twice: in
``compile_utils`` (``losses_utils.apply_mask``) and in ``Loss.__call__``
(``losses_utils.apply_valid_mask``). Each fault below is patched where the installed
generation does the work, so the same bug is injected into either. ``CASES`` says which
property each must break, and in which comparison; ``test_loss_faults.py`` proves it.
"""

from __future__ import annotations

import contextlib

from kmask.graph_loss import GRAPH_LOSS
from kmask.pipelines import PIPELINE_LOSS
from kmask.keras_compat import GENERATION, keras_internal, tf

from .faults import layer_calls_without_input_mask
from .injection import Fault, FaultCase, patched, registry

MEAN_REDUCTIONS = ("mean", "sum_over_batch_size", "auto")

if GENERATION == 3:
    from keras import ops

    _loss = keras_internal("losses.loss")
    _compile = keras_internal("trainers.compile_utils")
    from keras.src.backend import get_keras_mask, set_keras_mask
else:
    _losses_utils = keras_internal("utils.losses_utils")
    _compile = keras_internal("engine.compile_utils")

_metrics = keras_internal("metrics.reduction_metrics" if GENERATION == 3 else "metrics.base_metric")


def _weighted_everywhere(scale, losses_like, sample_weight):
    """Weight ``scale`` at every step, padded ones included, times ``sample_weight``."""
    weights = tf.ones_like(tf.cast(losses_like, tf.float32)) * scale
    if sample_weight is None:
        return weights
    sample_weight = tf.cast(sample_weight, weights.dtype)
    if sample_weight.shape.rank == 1 and weights.shape.rank == 2:
        sample_weight = sample_weight[:, None]
    return weights * sample_weight


def loss_counts_padded_steps():
    """The loss divides by the real steps but sums over padded steps too (a lost ``where``)."""
    if GENERATION == 3:

        def replacement(original):
            def apply_mask(sample_weight, mask, dtype, reduction):
                if mask is None or reduction not in MEAN_REDUCTIONS:
                    return original(sample_weight, mask, dtype, reduction)
                mask = ops.cast(mask, dtype)
                scale = ops.divide_no_nan(ops.cast(ops.size(mask), dtype), ops.sum(mask))
                return _weighted_everywhere(scale, mask, sample_weight)

            return apply_mask

        return patched(_loss, "apply_mask", replacement)

    def apply_mask(y_p, sw, mask):  # compile_utils no longer zeroes padded steps
        return sw

    def apply_valid_mask(losses, sw, mask, reduction):
        if mask is None:
            return sw
        mask = tf.cast(mask, losses.dtype)
        return _weighted_everywhere(tf.cast(tf.size(mask), losses.dtype) / tf.reduce_sum(mask), losses, sw)

    stack = contextlib.ExitStack()
    stack.enter_context(patched(_losses_utils, "apply_mask", lambda _: apply_mask))
    stack.enter_context(patched(_losses_utils, "apply_valid_mask", lambda _: apply_valid_mask))
    return stack


def loss_divides_by_all_steps():
    """The masked sum is divided by every timestep, padded ones included (old tf.keras)."""
    if GENERATION == 3:

        def replacement(original):
            def apply_mask(sample_weight, mask, dtype, reduction):
                return original(sample_weight, mask, dtype, "sum")  # a plain 0/1 mask

            return apply_mask

        return patched(_loss, "apply_mask", replacement)

    def replacement(original):
        def apply_valid_mask(losses, sw, mask, reduction):
            return _losses_utils.apply_mask(losses, sw, mask)

        return apply_valid_mask

    return patched(_losses_utils, "apply_valid_mask", replacement)


def loss_drops_sample_weight_under_mask():
    """When an output carries a mask, the mask replaces the sample weights instead of scaling them."""

    def replacement(original):
        def apply_mask(y_p, sw, mask):
            return original(y_p, None if mask is not None else sw, mask)

        return apply_mask

    return patched(_losses_utils, "apply_mask", replacement)


def all_padded_batch_divides_by_zero():
    """A batch without real steps divides by zero real steps (divide instead of divide_no_nan)."""

    def replacement(original):
        def apply_mask(sample_weight, mask, dtype, reduction):
            weights = original(sample_weight, mask, dtype, reduction)
            if mask is None or reduction not in MEAN_REDUCTIONS:
                return weights
            real = ops.sum(ops.cast(mask, dtype))
            return weights * (real / real)  # NaN when there is no real step, 1 otherwise

        return apply_mask

    return patched(_loss, "apply_mask", replacement)


def metrics_ignore_mask():
    """Compiled metrics average over padded steps too."""
    if GENERATION == 3:

        def replacement(original):
            def update_state(self, y_true, y_pred, sample_weight=None):
                return original(self, y_true, tf.identity(y_pred), sample_weight)  # mask lost

            return update_state

    else:  # Keras 2 passes the mask to metrics as their sample_weight

        def replacement(original):
            def update_state(self, y_true, y_pred, sample_weight=None):
                return original(self, y_true, y_pred, None)

            return update_state

    return patched(_metrics.MeanMetricWrapper, "update_state", replacement)


def multi_output_losses_share_first_mask():
    """With several outputs, every output's loss uses the first output's mask."""

    def first_mask_everywhere(y_pred):
        if not isinstance(y_pred, (list, tuple)) or len(y_pred) < 2:
            return y_pred
        if GENERATION == 3:
            mask = get_keras_mask(y_pred[0])
            copies = [tf.identity(p) for p in y_pred]
            for copy in copies:
                set_keras_mask(copy, mask)
            return type(y_pred)(copies)
        mask = getattr(y_pred[0], "_keras_mask", None)
        copies = [tf.identity(p) for p in y_pred]
        for copy in copies:
            copy._keras_mask = mask
        return type(y_pred)(copies)

    owner, name = (_compile.CompileLoss, "call") if GENERATION == 3 else (_compile.LossesContainer, "__call__")

    def replacement(original):
        def call(self, y_true, y_pred, *args, **kwargs):
            return original(self, y_true, first_mask_everywhere(y_pred), *args, **kwargs)

        return call

    return patched(owner, name, replacement)


def float32_layer_drops_16bit_mask():
    """Keras 3.0-3.13's bug (float32-head-drops-mask-under-mixed-policy) put back: a layer whose
    compute dtype differs from its 16-bit input's gets the input without its mask."""
    return layer_calls_without_input_mask(
        lambda layer, x, kwargs: x.dtype in (tf.float16, tf.bfloat16) and layer.compute_dtype != x.dtype.name
    )


_FAULTS = [
    Fault("loss_counts_padded_steps", "The masked loss sums over padded steps too.", loss_counts_padded_steps),
    Fault(
        "loss_divides_by_all_steps",
        "The masked loss divides by all timesteps, padded ones included.",
        loss_divides_by_all_steps,
    ),
    Fault("metrics_ignore_mask", "Compiled metrics average over padded steps.", metrics_ignore_mask),
    Fault(
        "multi_output_losses_share_first_mask",
        "Each output's loss uses the first output's mask.",
        multi_output_losses_share_first_mask,
    ),
]
if GENERATION == 3:  # Keras 2 casts inside the layer, after the mask was read
    _FAULTS.append(
        Fault(
            "float32_layer_drops_16bit_mask",
            "Under a mixed policy, a float32 layer reading a 16-bit masked tensor gets no mask.",
            float32_layer_drops_16bit_mask,
        )
    )
if GENERATION == 2:  # Keras 3 cannot take sample weights on sequence outputs at all (a divergence)
    _FAULTS.append(
        Fault(
            "loss_drops_sample_weight_under_mask",
            "Sample weights are dropped when the output carries a mask.",
            loss_drops_sample_weight_under_mask,
        )
    )
else:  # Keras 2 already gives NaN there (a divergence), so the property avoids the case
    _FAULTS.append(
        Fault(
            "all_padded_batch_divides_by_zero",
            "A batch without real steps gets a NaN loss.",
            all_padded_batch_divides_by_zero,
        )
    )

FAULTS = registry(*_FAULTS)

LOSS = "tests/test_compiled_loss.py::"
REFERENCE_LOSS = "vs sum(mask*weight*loss)/sum(mask)"
"""What the compiled-loss property names when the reported loss misses the masked reference."""

CASES = [
    FaultCase("loss_counts_padded_steps", LOSS + "test_loss_ignores_padded_targets", {},
              "after changing only the targets at padded steps"),
    FaultCase("loss_divides_by_all_steps", LOSS + "test_compiled_loss_equals_masked_reference",
              dict(execution="graph"), REFERENCE_LOSS),
    FaultCase("loss_divides_by_all_steps", LOSS + "test_mixed_precision_loss_equals_masked_reference", {},
              REFERENCE_LOSS),
    FaultCase("loss_divides_by_all_steps", LOSS + "test_graph_output_loss_follows_its_rule_mask", {},
              GRAPH_LOSS),
    FaultCase("loss_divides_by_all_steps",
              "tests/test_input_pipelines.py::test_padded_batch_pipeline_ignores_how_far_it_pads", {},
              PIPELINE_LOSS),
    FaultCase("loss_divides_by_all_steps",
              "tests/test_seed_notebook.py::test_seed_notebook_evaluate_equals_masked_loss", {},
              "Older tf.keras"),
    FaultCase("metrics_ignore_mask", LOSS + "test_compiled_metrics_equal_masked_reference",
              dict(execution="eager"), "vs its mean over real steps"),
    FaultCase("multi_output_losses_share_first_mask",
              "tests/test_multi_output_loss.py::test_each_output_masked_with_its_own_mask", {},
              "vs the reference with its own mask"),
]
if GENERATION == 2:
    CASES.append(FaultCase("loss_drops_sample_weight_under_mask",
                           LOSS + "test_compiled_loss_equals_masked_reference",
                           dict(execution="jit"), REFERENCE_LOSS))
else:
    CASES.append(FaultCase("float32_layer_drops_16bit_mask",
                           LOSS + "test_mixed_precision_loss_equals_masked_reference", {},
                           REFERENCE_LOSS))
    CASES.append(FaultCase("all_padded_batch_divides_by_zero",
                           LOSS + "test_compiled_loss_equals_masked_reference",
                           dict(execution="eager"), REFERENCE_LOSS))
"""Which test, with which parameters, each fault must break, and the comparison its failure
must name (the seed notebook's regression test among them)."""
