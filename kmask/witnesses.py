"""One witness per record of :data:`kmask.divergences.DIVERGENCES`: a fixed example of the
property the record says Keras breaks.

A witness raises AssertionError where Keras diverges and returns where it behaves;
``tests/test_known_divergences.py`` replays each one and checks that it fails exactly where its
record is active. A witness whose divergence is "Keras raises" catches exactly that exception,
recognised by its type and its message, and reports it as an AssertionError; any other exception
propagates as what it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import tempfile

import numpy as np
import pytest

from strategies import LayerSpec, PaddedBatch, StackSpec
from strategies.graphs import GraphSpec, Node

from . import loss_reference as ref
from .build import model_for
from .compare import assert_close, loss_tolerance, tolerance
from .compiled import CompiledModel, compiled_for, with_head
from .divergences import BY_ID
from .edge import check_empty_batch
from .extreme import (
    ATTENTIONS,
    attention_layer,
    check_attention_reads_only_real_keys,
    check_extreme_content_ignored,
    check_pooling_gives_masked_mean,
)
from .forward_checks import check_modes_agree, check_padded_equals_alone
from .graph_build import as_mask, attached_mask, chain_model, functional_graph, run_graph
from .keras_compat import GENERATION, keras, layers, tensor, tf, to_numpy
from .loss_checks import LossCase, check_loss, check_padded_targets_ignored, run_case
from .mask_checks import NO_MASK_SUPPORT, assert_same_mask, check_graph_masks
from .mask_rules import SCORE_ATTENTIONS, expected_graph_masks
from .modes import runner_for
from .recurrent_wiring import CONV_ROWS, FEATURES, Wiring, check_rows_alone
from .run import call_eagerly
from .save_load import EMBED_POOL, MASKING_BIGRU, check_reload_keeps_masking
from .training_checks import check_mixed_agrees_with_float32

PER_SAMPLE_WEIGHT_ERRORS = (
    (ValueError, "Dimensions must be equal"),
    (tf.errors.InvalidArgumentError, "Incompatible shapes"),
    (ValueError, "Incompatible shapes for broadcasting"),
    (TypeError, "incompatible shapes for broadcasting"),
    (RuntimeError, "must match the size of tensor"),
)
"""How Keras 3 refuses per-sample weights on a sequence output: on TensorFlow while tracing the
loss (graph, XLA) or while running it (eager); on JAX and PyTorch while broadcasting them."""


@contextlib.contextmanager
def keras_raises(error_type, fragment: str, what: str):
    """Keras raising ``error_type`` with ``fragment`` in its message inside the block is the
    divergence: it is reported as an AssertionError saying ``what`` failed. Every other
    exception propagates unchanged."""
    try:
        yield
    except error_type as error:
        if fragment not in str(error):
            raise
        first_line = str(error).strip().splitlines()[0]
        raise AssertionError(f"{what}: Keras raised {type(error).__name__}: {first_line}") from error


# --------------------------------------------------------------------------- forward


def _tokens(rows, timesteps):
    values = np.zeros((len(rows), timesteps), np.int32)
    for i, row in enumerate(rows):
        values[i, : len(row)] = row
    return PaddedBatch("embedding", values, values != 0)


def _unless_unrolled_backward_fails():
    """Skip a witness whose unrolled backward RNN cannot run here at all (PyTorch)."""
    crash = BY_ID["torch-unrolled-backward-rnn-mask-fails"]
    if crash.active:
        pytest.skip(f"cannot run here: {crash.explain()}")


def bidirectional_unroll_witness():
    """Bidirectional(LSTM(unroll=True)) on a post-padded row gives what the row gives alone."""
    _unless_unrolled_backward_fails()
    lstm = LayerSpec.make(
        "LSTM", units=3, return_sequences=True, return_state=False, go_backwards=False, unroll=True
    )
    spec = StackSpec("embedding", (LayerSpec.make("Bidirectional", layer=lstm, merge_mode="concat"),))
    check_padded_equals_alone(spec, "functional", _tokens([[3, 5]], 4))


def zero_output_final_witness():
    """LSTM(zero_output_for_mask=True, return_sequences=False) gives a post-padded row's final
    output as the row gives it alone."""
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=False, return_state=False,
                          go_backwards=False, unroll=False, zero_output_for_mask=True)
    check_padded_equals_alone(StackSpec("embedding", (lstm,)), "functional", _tokens([[3, 5]], 4))


def initial_state_mask_witness():
    """An LSTM given an encoder's states as initial_state gives a post-padded row the final
    output the row gives alone (the padding after its real steps has no weight)."""
    wiring = Wiring("encoder_decoder", "LSTM", return_sequences=False)
    rows = np.zeros((1, 4, 2), np.float32)
    rows[0, :2] = [[0.5, -0.25], [1.0, 0.75]]
    seq = PaddedBatch("masking", rows, np.array([[True, True, False, False]]))
    check_rows_alone(wiring, {"seq": seq, "context": seq})


def jax_conv_lstm_witness():
    """ConvLSTM1D after Masking gives each row of a post-padded batch, at its real steps, in its
    final output and states, what the row gives alone."""
    values = np.zeros((2, 4, CONV_ROWS * FEATURES), np.float32)
    values[0, :2], values[1, :3] = 0.5, -0.25
    seq = PaddedBatch("masking", values, np.array([[True, True, False, False], [True, True, True, False]]))
    with keras_raises(ValueError, "Incompatible shapes for broadcasting", "ConvLSTM1D after Masking"):
        check_rows_alone(Wiring("conv_lstm", "LSTM", return_sequences=True), {"seq": seq})


def torch_unrolled_backward_witness():
    """An unrolled LSTM(go_backwards=True) returning sequences runs on a masked batch and gives a
    post-padded row's real steps as the row gives them alone."""
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=True, return_state=False,
                          go_backwards=True, unroll=True, zero_output_for_mask=False)
    with keras_raises(AttributeError, "'tuple' object has no attribute 'shape'",
                      "LSTM(unroll=True, go_backwards=True) on a masked batch"):
        check_padded_equals_alone(StackSpec("embedding", (lstm,)), "functional", _tokens([[3, 5]], 4))


def jax_unrolled_zero_output_witness():
    """An unrolled LSTM(zero_output_for_mask=True) returning sequences gives zeros at a
    post-padded row's padded steps."""
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=True, return_state=False,
                          go_backwards=False, unroll=True, zero_output_for_mask=True)
    spec, batch = StackSpec("embedding", (lstm,)), _tokens([[3, 5]], 4)
    sequence = call_eagerly(model_for(spec, "functional", batch.timesteps), batch)[0]
    padded = sequence[~batch.mask]
    assert_close(padded, np.zeros_like(padded), tolerance(spec.depth, batch.timesteps),
                 f"with zero_output_for_mask, every padded step must be zeros; model {spec}")


def backward_zero_output_witness():
    """An unrolled LSTM(go_backwards=True, zero_output_for_mask=True) returning sequences gives a
    post-padded row's real steps as the row gives them alone."""
    _unless_unrolled_backward_fails()
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=True, return_state=False,
                          go_backwards=True, unroll=True, zero_output_for_mask=True)
    check_padded_equals_alone(StackSpec("embedding", (lstm,)), "functional", _tokens([[3, 5]], 4))


TIMEDISTRIBUTED_DENSE = StackSpec(
    "embedding", (LayerSpec.make("TimeDistributed", layer=LayerSpec.make("Dense", units=3)),)
)
TIMEDISTRIBUTED_RETRACE_ERRORS = (
    (ValueError, "Invalid dtype: NoneType"),
    (tf.errors.OperatorNotAllowedInGraphError, "as a Python `bool` is not allowed"),
)
"""How TimeDistributed.call fails when predict() retraces it for an unknown sequence length:
Keras 3.0-3.4.0 read a None time size, 3.4.1-3.8 test a symbolic mask shape in Python."""


def _predict_two_lengths():
    check_modes_agree(TIMEDISTRIBUTED_DENSE, "predict", _tokens([[1, 2], [3]], 6))
    check_modes_agree(TIMEDISTRIBUTED_DENSE, "predict", _tokens([[1, 2], [3]], 9))


def _retrace_error(error) -> str | None:
    """The fragment of :data:`TIMEDISTRIBUTED_RETRACE_ERRORS` that ``error`` matches, if any."""
    return next((fragment for kind, fragment in TIMEDISTRIBUTED_RETRACE_ERRORS
                 if isinstance(error, kind) and fragment in str(error)), None)


def timedistributed_predict_raises_witness():
    """predict() of a masked TimeDistributed model runs on a second sequence length (what it
    returns there is timedistributed-predict-second-length's question)."""
    try:
        for batch in (_tokens([[1, 2], [3]], 6), _tokens([[1, 2], [3]], 9)):
            runner_for(TIMEDISTRIBUTED_DENSE, "functional", "predict", batch.timesteps).compiled(batch)
    except (ValueError, tf.errors.OperatorNotAllowedInGraphError) as error:
        fragment = _retrace_error(error)
        if fragment is None:
            raise
        raise AssertionError(
            f"predict() of {TIMEDISTRIBUTED_DENSE} on a second sequence length: Keras raised "
            f"{type(error).__name__} in TimeDistributed.call: {fragment}"
        ) from error


def timedistributed_predict_witness():
    """predict() of a TimeDistributed model agrees with eager calls on two sequence lengths,
    wherever it runs on the second one."""
    try:
        _predict_two_lengths()
    except (ValueError, tf.errors.OperatorNotAllowedInGraphError) as error:
        if _retrace_error(error) is None:
            raise
        return  # predict() raises instead: that is timedistributed-predict-retrace-raises


# --------------------------------------------------------------------------- losses


def _loss_case(loss="mean_absolute_error", execution="graph", method="test_on_batch", **changes):
    """A fixed loss example: Masking(0) -> Dense head, two rows."""
    values = np.array([[[1, 2], [3, 0.5], [0, 0]], [[0.5, 1], [0, 0], [0, 0]]], np.float32)
    mask = np.any(values != 0, axis=-1)
    case = LossCase(
        spec=with_head(StackSpec("masking", ()), loss), api="functional", loss=loss,
        execution=execution, method=method, batch_size=len(values), seed=1, values=values,
        mask=mask, targets=np.linspace(-1, 1, 18, dtype=np.float32).reshape(2, 3, 3),
        sample_weight=None,
    )
    return dataclasses.replace(case, **changes)


def timedistributed_compiled_evaluate_witness():
    """evaluate() in graph mode of Masking -> TimeDistributed(Dense) -> Dense, two rows in Keras's
    default batch of 32 (so the traced batch size is not static), reports the masked reference loss."""
    case = _loss_case(method="evaluate", batch_size=32)
    case = dataclasses.replace(case, spec=with_head(StackSpec("masking", TIMEDISTRIBUTED_DENSE.layers), case.loss))
    with keras_raises(tf.errors.OperatorNotAllowedInGraphError, "as a Python `bool` is not allowed",
                      f"evaluate() of {case.spec} in graph mode"):
        check_loss(case)


PER_SAMPLE_THEN_PER_STEP = (np.array([0.5, 2], np.float32), np.full((2, 3), 0.5, np.float32))


def _refuses_per_sample_weights(error: Exception) -> bool:
    return any(isinstance(error, kind) and fragment in str(error)
               for kind, fragment in PER_SAMPLE_WEIGHT_ERRORS)


def all_padded_batch_witness():
    """A batch without real steps reports the reference loss, 0."""
    case = _loss_case()
    check_loss(dataclasses.replace(case, values=np.zeros_like(case.values), mask=np.zeros_like(case.mask)))


def sequence_sample_weight_witness():
    """Per-sample weights of shape (batch,) on a sequence output give the reference loss."""
    weights = PER_SAMPLE_THEN_PER_STEP[0]
    try:
        check_loss(_loss_case(sample_weight=weights))
    except (ValueError, TypeError, RuntimeError, tf.errors.InvalidArgumentError) as error:
        if not _refuses_per_sample_weights(error):
            raise
        first_line = str(error).strip().splitlines()[0]
        raise AssertionError(f"sample_weight of shape {weights.shape} on a sequence output: "
                             f"Keras raised {type(error).__name__}: {first_line}") from error


def jit_timestep_sample_weight_witness():
    """Per-sample then per-timestep weights work under XLA wherever they work without it."""
    try:
        for weights in PER_SAMPLE_THEN_PER_STEP:
            check_loss(_loss_case(execution="graph", sample_weight=weights))
    except (ValueError, TypeError, RuntimeError, tf.errors.InvalidArgumentError) as error:
        if not _refuses_per_sample_weights(error):
            raise
        return  # per-sample weights fail without XLA too: that is sample-weight-sequence-outputs-fail
    for weights in PER_SAMPLE_THEN_PER_STEP:
        with keras_raises(tf.errors.InvalidArgumentError, "Tried to explicitly squeeze dimension",
                          f"sample_weight of shape {weights.shape} under jit_compile=True"):
            check_loss(_loss_case(execution="jit", sample_weight=weights))


def unequal_batches_witness():
    """evaluate() over batches of 2 and 1 rows reports their losses weighted by batch size."""
    case = _loss_case(method="evaluate", batch_size=1)
    values, mask = np.concatenate([case.values, case.values[:1]]), np.concatenate([case.mask, case.mask[:1]])
    targets = np.concatenate([case.targets, case.targets[:1] + 1])
    check_loss(dataclasses.replace(case, batch_size=2, values=values, mask=mask, targets=targets))


def first_test_on_batch_witness():
    """test_on_batch as the first call on a freshly compiled model (metrics named by string)
    reports the reference loss."""
    case = _loss_case()
    compiled = CompiledModel(case.spec, case.api, case.loss, case.execution, None)  # not cached
    compiled.set_weights(case.seed)
    try:
        loss = compiled.model.test_on_batch(case.values, case.targets, return_dict=True)["loss"]
    except StopIteration as error:  # raised with no message
        raise AssertionError(f"test_on_batch as the first call on {case.spec}: Keras raised "
                             "StopIteration") from error
    per_step = ref.per_step_loss(case.loss, case.targets, compiled.predict_eagerly(case.values))
    assert_close(loss, ref.masked_batch_loss(per_step, case.mask), loss_tolerance(case.spec.depth, 3),
                 f"loss of the first test_on_batch on {case.spec} vs the masked reference")


def _assert_mae_over_real_steps(case: LossCase, logged: str, what: str) -> None:
    """The mean absolute error Keras logs as ``logged`` for ``case`` (``what``: how it was
    compiled and fed) equals its mean over real steps, weighted by the case's sample weights."""
    logs, predictions = run_case(case)
    per_step = ref.per_step_metric("mae", case.targets, predictions)
    assert_close(logs[logged], ref.masked_metric(per_step, case.mask, case.sample_weight),
                 loss_tolerance(case.spec.depth, 3),
                 f"metric '{logged}' ({what}) reported by {case.method} of {case.spec} vs its mean over "
                 f"real steps (its mean over every step is {per_step.mean():.6f})")


def unweighted_metrics_mask_witness():
    """metrics=['mae'] reports the mean absolute error over real steps only."""
    _assert_mae_over_real_steps(_loss_case(method="evaluate"), "mae", "metrics=")


def jax_training_metrics_witness():
    """fit() with per-timestep sample weights of 1 reports weighted_metrics=['mae'] as the mean
    absolute error over real steps only. (Weighted, so that on Keras 3.0-3.11, whose unweighted
    metrics ignore the mask in every method and backend, it checks only this divergence.)"""
    case = _loss_case(method="fit", sample_weight=np.ones((2, 3), np.float32))
    _assert_mae_over_real_steps(case, "weighted_mae", "weighted_metrics=, per-timestep weights of 1")


def torch_weighted_metric_batches_witness():
    """evaluate() in batches of one row, with per-timestep sample weights of 1, reports
    weighted_metrics=['mae'] as the mean absolute error over real steps."""
    case = _loss_case(method="evaluate", batch_size=1, sample_weight=np.ones((2, 3), np.float32))
    _assert_mae_over_real_steps(case, "weighted_mae", "weighted_metrics=, per-timestep weights of 1, batches of 1")


def nonfinite_padded_targets_witness():
    """A NaN or inf target at a padded step leaves the loss as it was."""
    case = _loss_case(loss="mean_squared_error")
    for value in (np.nan, np.inf):
        other = np.where(case.mask[..., None], case.targets, np.float32(value))
        check_padded_targets_ignored(case, other)


def torch_binary_padded_targets_witness():
    """binary_crossentropy with real targets 0/1 and a pad value of -1 at padded steps reports
    the loss it reports with 0 there: padded targets are masked out, whatever they hold."""
    case = _loss_case(loss="binary_crossentropy", method="evaluate")
    case = dataclasses.replace(case, targets=(case.targets > 0).astype(np.float32))
    other = np.where(case.mask[..., None], case.targets, np.float32(-1))
    with keras_raises(RuntimeError, "all elements of target should be between 0 and 1",
                      "binary_crossentropy with -1 at padded targets"):
        check_padded_targets_ignored(case, other)


def class_weight_witness():
    """fit(class_weight=) on (batch, timesteps) labels weighs each real step by its own class,
    or refuses; it must not report another loss. Keras 3 refuses with the shape error of
    per-sample weights on a sequence output (what class_weight becomes)."""
    case = _loss_case("sparse_categorical_crossentropy", method="fit")
    labels = np.array([[2, 0, 1], [1, 1, 0]], np.int32)
    class_weight = {0: 1.0, 1: 3.0, 2: 0.25}
    compiled = compiled_for(case.spec, case.api, case.loss, case.execution, 3)
    compiled.set_weights(case.seed)
    predictions = compiled.predict_eagerly(case.values)
    try:
        history = compiled.model.fit(case.values, labels, class_weight=class_weight, epochs=1,
                                     shuffle=False, verbose=0)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError, RuntimeError) as error:
        if not any(f in str(error) for f in ("ncompatible shapes", "must match the size of tensor")):
            raise  # TensorFlow: "Incompatible shapes"; JAX: "... for broadcasting"; PyTorch: "must match"
        return  # refusing is an acceptable answer for sequence targets
    weights = np.vectorize(class_weight.get)(labels)
    expected = ref.masked_batch_loss(
        ref.per_step_loss(case.loss, labels, predictions), case.mask, weights
    )
    assert_close(
        history.history["loss"][-1], expected, loss_tolerance(case.spec.depth, 3),
        "fit(class_weight=...) on per-timestep labels vs each real step weighted by its class",
    )


# --------------------------------------------------------------------------- mixed precision


def masking_rounds_in_compute_dtype_witness():
    """Real steps whose features lie within half a float16 ulp of the mask value stay real
    under mixed_float16."""
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=False)
    spec = StackSpec("masking", (lstm,), mask_value=1.0)
    values = np.array([[[2.0, -1.0], [1.0001, 1.0], [0.5, 0.25]]], np.float32)
    batch = PaddedBatch("masking", values, np.ones((1, 3), bool), 1.0)
    check_mixed_agrees_with_float32(spec, "mixed_float16", batch)


def explicit_mask_mixed_policy_witness():
    """An LSTM Functional model called with mask= under mixed_float16 agrees with float32 on a
    post-padded row whose padded steps hold large values."""
    spec = StackSpec("explicit", (LayerSpec.make("LSTM", units=3, return_sequences=False),))
    values = np.array([[[0.5, -1.0], [1.0, 0.25], [9.0, 9.0], [9.0, 9.0]]], np.float32)
    batch = PaddedBatch("explicit", values, np.array([[True, True, False, False]]))
    check_mixed_agrees_with_float32(spec, "mixed_float16", batch)


def float32_head_mixed_loss_witness():
    """Under mixed_float16, Embedding(mask_zero=True) -> a float32 Dense head: evaluate reports
    the masked reference loss."""
    tokens = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], np.int32)
    case = dataclasses.replace(
        _loss_case(execution="eager", method="evaluate"),
        spec=with_head(StackSpec("embedding", ()), "mean_absolute_error", "mixed_float16"),
        values=tokens, mask=tokens != 0, targets=np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 4, 3),
        policy="mixed_float16",
    )
    check_loss(case)


def rnn_bfloat16_witness():
    """A GRU builds and agrees with float32 under mixed_bfloat16."""
    spec = StackSpec("embedding", (LayerSpec.make("GRU", units=3, return_sequences=False),))
    batch = PaddedBatch("embedding", np.array([[3, 5, 0]], np.int32), np.array([[True, True, False]]))
    with keras_raises(TypeError, "DataType bfloat16 not in list of allowed values",
                      f"building {spec} under mixed_bfloat16"):
        check_mixed_agrees_with_float32(spec, "mixed_bfloat16", batch)


def layernorm_bfloat16_witness():
    """A LayerNormalization runs and agrees with float32 under mixed_bfloat16."""
    spec = StackSpec("embedding", (LayerSpec.make("LayerNormalization"), LayerSpec.make("Dense", units=3)))
    batch = PaddedBatch("embedding", np.array([[3, 5, 0]], np.int32), np.array([[True, True, False]]))
    with keras_raises(tf.errors.InvalidArgumentError, "does not support bfloat16",
                      f"running {spec} under mixed_bfloat16"):
        check_mixed_agrees_with_float32(spec, "mixed_bfloat16", batch)


# --------------------------------------------------------------------------- mask propagation


def _graph(style, *nodes):
    return GraphSpec(style, tuple(Node(LayerSpec.make(kind, **options), inputs)
                                  for kind, options, inputs in nodes))


def _tokens_and_raw():
    tokens = np.array([[1, 2, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0]], np.int32)
    batch = PaddedBatch("embedding", tokens, tokens != 0)
    return batch, np.ones((2, 6, 2), np.float32)


def concatenate_time_axis_unmasked_witness():
    """Concatenate(axis=1).compute_mask of a masked and an unmasked sequence concatenates the
    mask with all True."""
    batch, raw = _tokens_and_raw()
    embedded = layers.Embedding(12, 2, mask_zero=True)(batch.values)
    with keras_raises(tf.errors.InvalidArgumentError, "ConcatOp",
                      "Concatenate(axis=1).compute_mask of a masked and an unmasked sequence"):
        got = layers.Concatenate(axis=1).compute_mask([embedded, tensor(raw)],
                                                      [tensor(batch.mask), None])
    expected = np.concatenate([batch.mask, np.ones(raw.shape[:2], bool)], axis=1)
    assert_same_mask(as_mask(got), expected, "Concatenate(axis=1).compute_mask")


def list_input_masks_witness():
    """Add()(t0, t0) in a Functional model: its output carries the mask the rules say."""
    check_graph_masks(_graph("embedding", ("Add", {}, (0, 0))), *_tokens_and_raw())


def attention_mixed_masks_witness():
    """Attention over an unmasked query and a masked value builds and follows the rules."""
    spec = _graph("embedding", ("Attention", {"use_causal_mask": True}, (1, 0)))
    with keras_raises(ValueError, "you cannot mix tensors and non-tensors", f"building {spec}"):
        check_graph_masks(spec, *_tokens_and_raw())


def attention_symbolic_query_mask_witness():
    """A Functional model with Attention and AdditiveAttention over a masked query builds."""
    for kind in SCORE_ATTENTIONS:
        spec = _graph("embedding", (kind, {"use_causal_mask": True}, (0, 0)))
        with keras_raises(ValueError, "A KerasTensor cannot be used as input to a TensorFlow "
                          "function", f"building {spec}"):
            functional_graph(spec, 6)


def attention_value_mask_witness():
    """Attention and AdditiveAttention over a masked value, without a causal mask: each row of a
    padded batch gives, at its real steps, what it gives alone (batch 3 = Tq 3, so the
    misbroadcast value mask does not crash but masks each query step with another row's mask)."""
    batch = _tokens([[1, 2], [3], [4, 5, 6]], 3)
    embed = layers.Embedding(12, 2, mask_zero=True)
    embedded, mask = embed(batch.values), tensor(batch.mask)
    for kind in SCORE_ATTENTIONS:
        attention = getattr(layers, kind)()
        padded = to_numpy(attention([embedded, embedded], mask=[mask, mask]))
        for i, length in enumerate(batch.lengths):
            row = embed(batch.values[i:i + 1, :length])
            assert_close(padded[i, :length], to_numpy(attention([row, row]))[0], tolerance(2, 3),
                         f"{kind} over a masked value: row {i} of a padded batch vs the row alone")


def _explicit(values, mask):
    return PaddedBatch("explicit", np.asarray(values, np.float32), np.asarray(mask, bool))


def pooling_empty_row_witness():
    """GlobalAveragePooling1D pools a row without any real step to zeros (and a real row to its
    mean over real steps)."""
    values = np.arange(16, dtype=np.float32).reshape(2, 4, 2) / 8
    batch = _explicit(values, [[1, 1, 0, 0], [0, 0, 0, 0]])
    check_pooling_gives_masked_mean(StackSpec("explicit", (LayerSpec.make("GlobalAveragePooling1D"),)), batch)


def go_backwards_mask_witness():
    """LSTM(go_backwards=True, return_sequences=True) -> GlobalAveragePooling1D on post-padded
    rows: the pooling averages the outputs of the real steps, which come last first."""
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=True, return_state=False, go_backwards=True,
                          unroll=False)
    spec = StackSpec("explicit", (lstm, LayerSpec.make("GlobalAveragePooling1D")))
    values = np.arange(16, dtype=np.float32).reshape(2, 4, 2) / 8
    check_pooling_gives_masked_mean(spec, _explicit(values, [[1, 1, 0, 0], [1, 1, 1, 0]]))


def attention_no_real_key_witness(kinds=ATTENTIONS):
    """MultiHeadAttention, Attention and AdditiveAttention: a query whose every key is padded
    gets the empty attention (zeros; MultiHeadAttention's output bias), whatever the padded keys
    hold. One row of one query per call (batch 1 sidesteps attention-value-mask-misbroadcast)."""
    rng = np.random.default_rng(3)
    query = rng.uniform(-1, 1, (1, 2, 2)).astype(np.float32)
    value = rng.uniform(-1, 1, (1, 4, 2)).astype(np.float32)
    failures = []
    for kind in kinds:
        try:
            check_attention_reads_only_real_keys(
                attention_layer(kind, 2), kind, query, value, np.zeros((1, 4), bool), value + 2.5
            )
        except AssertionError as failure:
            failures.append(str(failure).splitlines()[0])
    if failures:
        raise AssertionError("; ".join(failures))


PADDED_ROWS = _explicit(
    np.random.default_rng(5).uniform(-1, 1, (2, 6, 2)), [[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]]
)
"""A post- and a pre-padded row with explicit masks, for the extreme-content witnesses."""


def _content_failures(kinds, value) -> list[str]:
    """The first line of each failure of the extreme-content relation with ``value`` at every
    padded step: MultiHeadAttention self-attending in a stack, Attention and AdditiveAttention
    over a value batch of one (which sidesteps attention-value-mask-misbroadcast)."""
    failures = []
    for kind in kinds:
        try:
            if kind == "MultiHeadAttention":
                layer = LayerSpec.make(kind, num_heads=2, key_dim=2, use_causal_mask=False)
                content = np.full(PADDED_ROWS.values.shape, value, np.float32)
                check_extreme_content_ignored(StackSpec("explicit", (layer,)), "functional", PADDED_ROWS, content)
            else:
                query, keys = PADDED_ROWS.values[:1, :2], PADDED_ROWS.values[:1]
                check_attention_reads_only_real_keys(
                    attention_layer(kind, 2), kind, query, keys, PADDED_ROWS.mask[:1], np.float32(value)
                )
        except AssertionError as failure:
            failures.append(f"{kind} with {value} at padded steps: {str(failure).splitlines()[0]}")
    return failures


def pooling_nonfinite_padding_witness():
    """NaN and inf at the padded steps GlobalAveragePooling1D reads change no pooled value."""
    spec = StackSpec("explicit", (LayerSpec.make("GlobalAveragePooling1D"),))
    for value in (np.nan, np.inf):
        content = np.full(PADDED_ROWS.values.shape, value, np.float32)
        check_extreme_content_ignored(spec, "functional", PADDED_ROWS, content)


def attention_nonfinite_padding_witness(kinds=ATTENTIONS):
    """NaN and inf at padded keys change no query's output, in every attention layer."""
    failures = _content_failures(kinds, np.nan) + _content_failures(kinds, np.inf)
    if failures:
        raise AssertionError("; ".join(failures))


def attention_huge_padding_witness(kinds=("Attention", "AdditiveAttention")):
    """A padded key holding 1e30 (finite; no projection overflows) changes no query's output."""
    failures = _content_failures(kinds, 1e30)
    if failures:
        raise AssertionError("; ".join(failures))


def multiheadattention_huge_padding_witness():
    """A padded key holding 1e30 changes no MultiHeadAttention output at a real query."""
    attention_huge_padding_witness(("MultiHeadAttention",))


def _empty_batch_witness(layer: LayerSpec):
    for style in ("masking", "explicit"):
        check_empty_batch(StackSpec(style, (layer,)), "functional", dataclasses.replace(PADDED_ROWS, style=style))


def lstm_empty_batch_witness():
    """Masking -> LSTM, and LSTM with an explicit mask, run on a batch of zero rows."""
    _empty_batch_witness(LayerSpec.make("LSTM", units=3))


def pooling_empty_batch_witness():
    """Masking -> GlobalAveragePooling1D, and with an explicit mask, run on a batch of zero rows."""
    _empty_batch_witness(LayerSpec.make("GlobalAveragePooling1D"))


def multiheadattention_strips_input_masks_witness():
    """Two MultiHeadAttention layers over the same masked tensor, both outputs and the tensor
    itself returned: every tensor keeps the mask the rules say."""
    mha = ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2}, (0, 0))
    spec = _graph("embedding", mha, mha)
    graph = functional_graph(spec, 6)
    batch, raw = _tokens_and_raw()
    _, values, masks = run_graph(graph, batch.values, raw)
    expected = expected_graph_masks(spec, batch.values, values, GENERATION)
    for i in (0, 2, 3):
        assert_same_mask(masks[i], expected[i], f"tensor t{i} of {spec}")


def nested_model_symbolic_mask_witness():
    """Embedding -> Dense nested in a Functional model: the symbolic output keeps the mask."""
    spec = GraphSpec("embedding", (Node(LayerSpec.make("Dense", units=2), (0,)),))
    model = chain_model(spec, "nested", 6)
    if attached_mask(model.outputs[0]) is None:
        raise AssertionError(f"nested model of {spec}: the symbolic output has no mask")


def functional_h5_witness():
    """Embedding -> TimeDistributed -> GlobalAveragePooling1D as a Functional model, through .h5."""
    with tempfile.TemporaryDirectory() as directory:
        with keras_raises(ValueError, "Unknown layer: 'NotEqual'",
                          f"functional model of {EMBED_POOL} reloaded from h5"):
            check_reload_keeps_masking(EMBED_POOL, "functional", "h5", pathlib.Path(directory))


def bidirectional_keras_format_witness():
    """Masking -> Bidirectional(GRU) as a Sequential model, through .keras."""
    with tempfile.TemporaryDirectory() as directory:
        with keras_raises(ValueError, "could not be loaded",
                          f"sequential model of {MASKING_BIGRU} reloaded from keras"):
            check_reload_keeps_masking(MASKING_BIGRU, "sequential", "keras", pathlib.Path(directory))


# --------------------------------------------------------------------------- the claims as written


class _EmbedThenGRU(keras.layers.Layer):
    """The seed notebook's situation: a subclassed layer chaining layers without ``mask=``."""

    def __init__(self):
        super().__init__()
        self.embed = layers.Embedding(5, 2, mask_zero=True)
        self.gru = layers.GRU(2)

    def call(self, tokens):
        return self.gru(self.embed(tokens))


def subclassed_masks_not_propagated_witness():
    """Claim: inside a subclassed layer the GRU does not get the Embedding's mask, so it runs
    over the padding exactly as it does on the same vectors with no mask."""
    wrapper = _EmbedThenGRU()
    tokens = np.array([[1, 2, 0, 0]], np.int32)
    actual = to_numpy(wrapper(tokens))
    without_mask = to_numpy(wrapper.gru(tensor(to_numpy(wrapper.embed(tokens)))))
    if not np.allclose(actual, without_mask, atol=1e-6):
        raise AssertionError(
            "claim 'inside a subclassed layer or model, masks aren't automatically propagated' is "
            f"false here: the inner GRU used the mask ({actual} differs from the unmasked {without_mask})"
        )


def unsupported_layer_raises_witness():
    """Claim (Masking docstring): a downstream layer without mask support that receives the mask
    raises an exception (the TypeError Keras 2's compute_mask raises when called directly)."""
    inputs = keras.Input((4, 2))
    try:
        model = keras.Model(inputs, layers.Conv1D(2, 2, padding="same")(layers.Masking(0.0)(inputs)))
        model(np.zeros((1, 4, 2), np.float32))
    except TypeError as error:
        if NO_MASK_SUPPORT not in str(error):
            raise
        return
    raise AssertionError(
        "claim 'if any downstream layer does not support masking yet receives such an input mask, "
        "an exception will be raised' is false here: Masking -> Conv1D builds and runs"
    )


SOFTMAX_MASK_ERRORS = ("broadcastable", "Dimensions must be equal", "Incompatible shapes")
"""How Keras refuses a ``(batch, time)`` mask on a ``(batch, time, features)`` Softmax input."""


def softmax_sequence_mask_witness():
    """Embedding(mask_zero=True) -> Dense(2) -> Softmax() in a Functional model builds, keeps the
    sequence mask, and gives at every real step the softmax over features of Dense's output."""
    batch, raw = _tokens_and_raw()
    spec = _graph("embedding", ("Dense", {"units": 2}, (0,)), ("Softmax", {}, (2,)))
    try:
        check_graph_masks(spec, batch, raw)
        _, values, _ = run_graph(functional_graph(spec, batch.timesteps), batch.values, raw)
    except (ValueError, tf.errors.InvalidArgumentError) as error:
        if not any(fragment in str(error) for fragment in SOFTMAX_MASK_ERRORS):
            raise
        raise AssertionError(f"{spec}: Softmax fails on the sequence mask: {error!r}") from error
    logits = values[2].astype(np.float64)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    assert_close(values[3][batch.mask], expected[batch.mask], tolerance(3, batch.timesteps),
                 f"{spec}: Softmax at real steps vs the softmax over features")


WITNESSES = {
    "bidirectional-unroll-zeroes-backward": bidirectional_unroll_witness,
    "timedistributed-predict-second-length": timedistributed_predict_witness,
    "timedistributed-predict-retrace-raises": timedistributed_predict_raises_witness,
    "timedistributed-mask-compiled-evaluate-raises": timedistributed_compiled_evaluate_witness,
    "loss-all-padded-batch-nan": all_padded_batch_witness,
    "sample-weight-sequence-outputs-fail": sequence_sample_weight_witness,
    "first-test-on-batch-stopiteration": first_test_on_batch_witness,
    "loss-batches-averaged-unweighted": unequal_batches_witness,
    "unweighted-metrics-ignore-mask": unweighted_metrics_mask_witness,
    "jit-timestep-sample-weight-fails": jit_timestep_sample_weight_witness,
    "padded-nonfinite-targets-poison-loss": nonfinite_padded_targets_witness,
    "torch-weighted-metrics-misweigh-batches": torch_weighted_metric_batches_witness,
    "jax-training-metrics-ignore-mask": jax_training_metrics_witness,
    "class-weight-misreads-sequence-targets": class_weight_witness,
    "masking-compares-in-compute-dtype": masking_rounds_in_compute_dtype_witness,
    "rnn-bfloat16-cudnn-type-error": rnn_bfloat16_witness,
    "layernorm-bfloat16-fused-kernel-missing": layernorm_bfloat16_witness,
    "concatenate-time-axis-unmasked-input": concatenate_time_axis_unmasked_witness,
    "multiheadattention-strips-input-masks": multiheadattention_strips_input_masks_witness,
    "list-input-layers-attach-no-mask": list_input_masks_witness,
    "attention-mixed-input-masks-fail": attention_mixed_masks_witness,
    "attention-symbolic-query-mask-fails": attention_symbolic_query_mask_witness,
    "attention-value-mask-misbroadcast": attention_value_mask_witness,
    "nested-model-symbolic-mask-dropped": nested_model_symbolic_mask_witness,
    "claim-subclassed-masks-not-propagated": subclassed_masks_not_propagated_witness,
    "claim-unsupported-layer-raises": unsupported_layer_raises_witness,
    "functional-h5-mask-op-unloadable": functional_h5_witness,
    "explicit-mask-dropped-under-mixed-policy": explicit_mask_mixed_policy_witness,
    "bidirectional-keras-format-unloadable": bidirectional_keras_format_witness,
    "pooling-empty-row-nan": pooling_empty_row_witness,
    "go-backwards-sequence-mask-not-reversed": go_backwards_mask_witness,
    "attention-no-real-key-reads-padding": attention_no_real_key_witness,
    "pooling-nonfinite-padding-nan": pooling_nonfinite_padding_witness,
    "attention-nonfinite-padding-nan": attention_nonfinite_padding_witness,
    "multiheadattention-huge-padded-keys-attended": multiheadattention_huge_padding_witness,
    "attention-huge-padded-keys-attended": attention_huge_padding_witness,
    "lstm-empty-batch-fails": lstm_empty_batch_witness,
    "pooling-empty-batch-fails": pooling_empty_batch_witness,
    "softmax-misreads-sequence-mask": softmax_sequence_mask_witness,
    "zero-output-zeroes-final-output": zero_output_final_witness,
    "go-backwards-zero-output-zeroes-real-steps": backward_zero_output_witness,
    "float32-head-drops-mask-under-mixed-policy": float32_head_mixed_loss_witness,
    "rnn-initial-state-drops-input-mask": initial_state_mask_witness,
    "torch-unrolled-backward-rnn-mask-fails": torch_unrolled_backward_witness,
    "jax-conv-lstm-masking-mask-fails": jax_conv_lstm_witness,
    "jax-unrolled-rnn-ignores-zero-output-for-mask": jax_unrolled_zero_output_witness,
    "torch-binary-crossentropy-checks-padded-targets": torch_binary_padded_targets_witness,
}
"""Witnesses by divergence id."""
