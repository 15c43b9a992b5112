"""Plausible masking bugs in the forward pass, injected into the installed Keras by monkeypatching.

Each fault is a bug a Keras contributor could write: an off-by-one at the
padding boundary, a mask honoured eagerly but dropped in graph mode, a pooling
layer that forgets the mask. ``CASES`` says which property each must break, and in which
comparison; ``test_faults.py`` proves it. A property that no fault can fail is not a test.
"""

from __future__ import annotations

import contextlib

from kmask.keras_compat import GENERATION, backend_impl, layers, tf
from kmask.mask_checks import POOLED_VALUE
from kmask.pipelines import PIPELINE_PREDICT
from kmask.recurrent_wiring import STATEFUL_VS_WHOLE, WIRING_VS_ALONE
from kmask.text_tokens import SENTENCE_VS_ALONE

from .injection import Fault, FaultCase, patched, registry


def rnn_with(transform):
    """Patch the backend loop every recurrent layer runs: ``transform(original, args, kwargs)``."""

    def replacement(original):
        def rnn(step_function, inputs, initial_states, **kwargs):
            return transform(original, (step_function, inputs, initial_states), kwargs)

        return rnn

    return patched(backend_impl, "rnn", replacement)


def rnn_blends_by_mask_arithmetic(leak: float):
    """The RNN loop selects between new and held states by arithmetic on a float mask,
    ``m * new + (1 - m) * old``, padded steps weighted ``leak`` instead of 0: with a small leak
    only gradients see it; with none only non-finite padding does (``0 * NaN = NaN``)."""

    def transform(rnn, args, kw):
        step_function, inputs, initial_states = args
        mask = kw.get("mask")
        if mask is None:
            return rnn(*args, **kw)
        zero_output = kw.get("zero_output_for_mask", False)
        kw = {**kw, "mask": None, "zero_output_for_mask": False}
        weight = tf.cast(mask, inputs.dtype) * (1 - leak) + leak

        def step(x, states):
            m = x[:, -1:]
            output, new_states = step_function(x[:, :-1], states)
            held = [m * new + (1 - m) * old for new, old in zip(new_states, states)]
            output = m * output + (0 if zero_output else (1 - m) * states[0])
            return output, held

        return rnn(step, tf.concat([inputs, weight[..., None]], axis=-1), initial_states, **kw)

    return rnn_with(transform)


def rnn_ignores_mask():
    return rnn_with(lambda rnn, args, kw: rnn(*args, **{**kw, "mask": None}))


def rnn_runs_one_step_past_padding_boundary():
    def transform(rnn, args, kw):
        mask = kw.get("mask")
        if mask is not None:
            mask = tf.cast(mask, tf.bool)
            previous = tf.concat([tf.zeros_like(mask[:, :1]), mask[:, :-1]], axis=1)
            kw = {**kw, "mask": tf.logical_or(mask, previous)}
        return rnn(*args, **kw)

    return rnn_with(transform)


def rnn_zeroes_padded_outputs():
    return rnn_with(lambda rnn, args, kw: rnn(*args, **{**kw, "zero_output_for_mask": True}))


def rnn_states_run_through_padding():
    def transform(rnn, args, kw):
        last, outputs, _ = rnn(*args, **kw)
        _, _, states = rnn(*args, **{**kw, "mask": None})
        return last, outputs, states

    return rnn_with(transform)


def rnn_drops_mask_in_graph_mode():
    def transform(rnn, args, kw):
        if not tf.executing_eagerly():
            kw = {**kw, "mask": None}
        return rnn(*args, **kw)

    return rnn_with(transform)


if GENERATION == 3:  # Keras 3 functional graphs take keras.ops, not tf ops
    from keras import ops as _ops

    _any, _all = _ops.any, _ops.all
else:
    _ops = tf
    _any, _all = tf.reduce_any, tf.reduce_all


def _masking_with(mask_fn):
    """Replace Masking's mask with ``mask_fn(inputs, mask_value)`` in call and compute_mask."""

    def call(self, inputs):
        mask = mask_fn(inputs, self.mask_value)
        outputs = inputs * _ops.cast(mask[..., None], inputs.dtype)
        if GENERATION == 3:
            from keras.src import backend

            backend.set_keras_mask(outputs, mask)
        else:
            outputs._keras_mask = mask
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask_fn(inputs, self.mask_value)

    stack = contextlib.ExitStack()
    stack.enter_context(patched(layers.Masking, "call", lambda _: call))
    stack.enter_context(patched(layers.Masking, "compute_mask", lambda _: compute_mask))
    return stack


def masking_requires_every_feature_to_differ():
    return _masking_with(lambda x, v: _all(_ops.not_equal(x, v), axis=-1))


def masking_compares_with_tolerance():
    return _masking_with(lambda x, v: _any(_ops.abs(x - v) > 1e-6 * (1 + abs(v)), axis=-1))


def pooling_ignores_mask():
    def replacement(original):
        def call(self, inputs, mask=None):
            return original(self, inputs, mask=None)

        return call

    return patched(layers.GlobalAveragePooling1D, "call", replacement)


def pooling_divides_by_all_steps():
    def replacement(original):
        def call(self, inputs, mask=None):
            if mask is not None:  # zero the padded steps, then average over every step
                inputs = inputs * _ops.expand_dims(_ops.cast(mask, inputs.dtype), -1)
            return original(self, inputs, mask=None)

        return call

    return patched(layers.GlobalAveragePooling1D, "call", replacement)


def score_attention_ignores_value_mask():
    def replacement(original):
        def apply_scores(self, scores, value, scores_mask=None, **kwargs):
            return original(self, scores, value, None, **kwargs)

        return apply_scores

    return patched(layers.Attention, "_apply_scores", replacement)


def attention_ignores_key_padding():
    def replacement(original):
        def compute_attention_mask(self, query, value, *args, **kwargs):
            if GENERATION == 3:
                kwargs.update(value_mask=None, key_mask=None)
            else:  # Keras 2 reads the key mask from value._keras_mask
                value = tf.identity(value)
                if kwargs.get("key") is not None:
                    kwargs["key"] = tf.identity(kwargs["key"])
            return original(self, query, value, *args, **kwargs)

        return compute_attention_mask

    return patched(layers.MultiHeadAttention, "_compute_attention_mask", replacement)


def layer_calls_without_input_mask(when):
    """``Layer.__call__`` given a copy of its first input without the mask attached to it,
    whenever ``when(layer, tensor, call_kwargs)`` holds for a tensor that carries one."""
    def replacement(original):
        def __call__(self, *args, **kwargs):
            x = args[0] if args else None
            if isinstance(x, tf.Tensor) and getattr(x, "_keras_mask", None) is not None and when(self, x, kwargs):
                args = (tf.identity(x),) + args[1:]  # a copy without the attached mask
            return original(self, *args, **kwargs)

        return __call__

    return patched(layers.Layer, "__call__", replacement)


def causal_mask_dropped_with_padding_mask():
    def replacement(original):
        def compute_attention_mask(self, query, value, *args, **kwargs):
            padded = (kwargs.get("value_mask") is not None if GENERATION == 3
                      else getattr(value, "_keras_mask", None) is not None)
            if padded:
                kwargs["use_causal_mask"] = False
            return original(self, query, value, *args, **kwargs)

        return compute_attention_mask

    return patched(layers.MultiHeadAttention, "_compute_attention_mask", replacement)


FAULTS = registry(
    Fault("rnn_ignores_mask", "RNN loops run over padded steps as if they were real.", rnn_ignores_mask),
    Fault(
        "rnn_one_step_past_padding",
        "RNN loops treat the first padded step after the real ones as real (off by one).",
        rnn_runs_one_step_past_padding_boundary,
    ),
    Fault(
        "rnn_zeroes_padded_outputs",
        "RNN layers output zeros at padded steps instead of repeating the last real output.",
        rnn_zeroes_padded_outputs,
    ),
    Fault(
        "rnn_states_run_through_padding",
        "RNN outputs stop at padding but the returned states keep updating through it.",
        rnn_states_run_through_padding,
    ),
    Fault(
        "rnn_drops_mask_in_graph_mode",
        "RNN loops honour the mask eagerly but drop it inside tf.function/XLA.",
        rnn_drops_mask_in_graph_mode,
    ),
    Fault(
        "masking_requires_every_feature_to_differ",
        "Masking masks a timestep when any feature equals the mask value (all/any swapped).",
        masking_requires_every_feature_to_differ,
    ),
    Fault(
        "masking_compares_with_tolerance",
        "Masking treats features within 1e-6 of the mask value as equal to it.",
        masking_compares_with_tolerance,
    ),
    Fault(
        "pooling_ignores_mask",
        "GlobalAveragePooling1D averages over padded steps too.",
        pooling_ignores_mask,
    ),
    Fault(
        "pooling_divides_by_all_steps",
        "GlobalAveragePooling1D zeroes padded steps but divides by every step, real or padded.",
        pooling_divides_by_all_steps,
    ),
    Fault(
        "score_attention_ignores_value_mask",
        "Attention lets queries attend to padded values (its scores are not masked).",
        score_attention_ignores_value_mask,
    ),
    Fault(
        "attention_ignores_key_padding",
        "MultiHeadAttention lets queries attend to padded keys.",
        attention_ignores_key_padding,
    ),
    Fault(
        "causal_mask_dropped_with_padding_mask",
        "MultiHeadAttention forgets use_causal_mask when its keys carry a padding mask, so a "
        "query attends to later keys.",
        causal_mask_dropped_with_padding_mask,
    ),
)

INVISIBLE = "tests/test_padding_invisible.py::"
EXTREME = "tests/test_extreme_padding.py::"
CASES = [
    FaultCase("rnn_ignores_mask", INVISIBLE + "test_padded_batch_equals_each_sample_alone",
              dict(focus="LSTM", api="functional"), "padded batch vs the row run alone"),
    FaultCase("rnn_ignores_mask", INVISIBLE + "test_real_outputs_ignore_padding_content",
              dict(focus="GRU", api="subclassed"), "original vs other padding content"),
    FaultCase("rnn_one_step_past_padding", INVISIBLE + "test_padded_batch_equals_each_sample_alone",
              dict(focus="GRU", api="sequential"), "padded batch vs the row run alone"),
    FaultCase("rnn_one_step_past_padding", INVISIBLE + "test_real_outputs_ignore_extra_padding",
              dict(focus="SimpleRNN", api="functional"), "padded vs 3 more padded steps"),
    FaultCase("rnn_zeroes_padded_outputs",
              "tests/test_recurrent_padding.py::test_recurrent_outputs_hold_at_padded_steps",
              dict(kind="SimpleRNN", api="functional"), "each padded step must repeat the last real step"),
    FaultCase("rnn_states_run_through_padding",
              "tests/test_recurrent_padding.py::test_recurrent_outputs_hold_at_padded_steps",
              dict(kind="LSTM", api="functional"), "returned state"),
    FaultCase("rnn_drops_mask_in_graph_mode", "tests/test_execution_modes.py::test_compiled_outputs_equal_eager",
              dict(focus="LSTM", mode="tf_function"), "tf_function vs eager"),
    FaultCase("rnn_drops_mask_in_graph_mode", "tests/test_execution_modes.py::test_compiled_outputs_equal_eager",
              dict(focus="GRU", mode="xla"), "xla vs eager"),
    FaultCase("rnn_drops_mask_in_graph_mode", "tests/test_execution_modes.py::test_compiled_outputs_equal_eager",
              dict(focus="SimpleRNN", mode="predict"), "predict vs eager"),
    FaultCase("rnn_drops_mask_in_graph_mode", "tests/test_edge_shapes.py::test_predict_over_padded_batches_equals_eager",
              {}, "predict in batches of"),
    FaultCase("masking_requires_every_feature_to_differ", INVISIBLE + "test_masking_layer_equals_true_mask",
              dict(focus="LSTM", api="functional"), "vs the true mask passed explicitly"),
    FaultCase("masking_compares_with_tolerance", INVISIBLE + "test_masking_layer_equals_true_mask",
              dict(focus="Dense", api="sequential"), "vs the true mask passed explicitly"),
    FaultCase("pooling_ignores_mask", INVISIBLE + "test_padded_batch_equals_each_sample_alone",
              dict(focus="GlobalAveragePooling1D", api="functional"), "padded batch vs the row run alone"),
    FaultCase("pooling_ignores_mask", INVISIBLE + "test_real_outputs_ignore_extra_padding",
              dict(focus="GlobalAveragePooling1D", api="subclassed"), "padded vs 3 more padded steps"),
    FaultCase("rnn_ignores_mask", "tests/test_input_pipelines.py::test_padded_batch_pipeline_ignores_how_far_it_pads",
              {}, PIPELINE_PREDICT),
    FaultCase("rnn_ignores_mask", "tests/test_input_pipelines.py::test_text_tokens_mask_only_padding", {},
              SENTENCE_VS_ALONE),
    FaultCase("rnn_ignores_mask", "tests/test_recurrent_padding.py::test_recurrent_wiring_keeps_rows_independent",
              {}, WIRING_VS_ALONE),
    FaultCase("rnn_states_run_through_padding",
              "tests/test_recurrent_padding.py::test_stateful_rnn_continues_from_last_real_step", {},
              STATEFUL_VS_WHOLE),
    FaultCase("pooling_ignores_mask", "tests/test_mask_propagation.py::test_functional_graph_masks_follow_rules",
              dict(group="ops"), POOLED_VALUE),
    FaultCase("attention_ignores_key_padding", INVISIBLE + "test_real_outputs_ignore_padding_content",
              dict(focus="MultiHeadAttention", api="functional"), "original vs other padding content"),
    FaultCase("attention_ignores_key_padding", INVISIBLE + "test_padded_batch_equals_each_sample_alone",
              dict(focus="MultiHeadAttention", api="subclassed"), "padded batch vs the row run alone"),
    FaultCase("pooling_divides_by_all_steps", EXTREME + "test_pooling_gives_masked_mean",
              {}, "GlobalAveragePooling1D vs the mean over real steps"),
    FaultCase("attention_ignores_key_padding", EXTREME + "test_attention_reads_only_real_keys",
              dict(kind="MultiHeadAttention"), "original vs other padded keys"),
    FaultCase("score_attention_ignores_value_mask", EXTREME + "test_attention_reads_only_real_keys",
              dict(kind="Attention"), "original vs other padded keys"),
    FaultCase("causal_mask_dropped_with_padding_mask", EXTREME + "test_attention_reads_only_real_keys",
              dict(kind="MultiHeadAttention"), "vs the same with other keys from step"),
]
"""Which property, with which parameters, each fault must break, and the comparison its
failure must name."""
