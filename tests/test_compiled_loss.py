"""What compile(), evaluate(), fit() and the *_on_batch methods report equals a masked NumPy reference.

The semantics checked are written in ``kmask/loss_reference.py``: per batch,
``sum(mask * weight * loss) / sum(mask)``; over batches, the batch-size-weighted mean;
metrics, ``sum(mask * weight * value) / sum(mask * weight)`` over all batches.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask import loss_reference as ref
from kmask import report
from kmask.compare import POLICY_EPS, assert_close, loss_tolerance
from kmask.compiled import BATCHED_METHODS, EXECUTIONS, METHODS, with_head
from kmask.divergences import BY_ID
from kmask.edge import budget
from kmask.reproducers import metric_reproducer
from kmask.draw import graphs_without_known_divergences, targets, without_known_divergences
from kmask.graph_loss import GraphLossCase, check_graph_loss, loss_outputs, rule_mask
from kmask.loss_checks import (
    BATCH_SIZE,
    MIN_REAL_STEPS,
    LossCase,
    check_loss,
    check_padded_targets_ignored,
    run_case,
    where,
)
from strategies import StackSpec, context_layers, mask_values
from strategies.graphs import graph_inputs, graph_tensors

SPLIT_BATCH_SIZE = 3
"""Batched methods also run with batches of 3 and 1 rows: unequal batches tell a
batch-size-weighted mean of batch losses from a mean over real steps."""

REPRESENTATIVE_LOSSES = {
    "mean_squared_error": "real targets",
    "binary_crossentropy": "binary targets",
    "categorical_crossentropy": "one-hot targets",
    "sparse_categorical_crossentropy": "integer targets",
}
"""One loss per kind of target: the metric and padded-target properties draw from these."""

MIXED_POLICIES = tuple(POLICY_EPS)
"""The mixed policies there is a 16-bit tolerance for (mixed_float16, mixed_bfloat16)."""

PER_SAMPLE_WEIGHTS_FAIL = BY_ID["sample-weight-sequence-outputs-fail"]
JIT_TIMESTEP_WEIGHTS_FAIL = BY_ID["jit-timestep-sample-weight-fails"]
METRICS_IGNORE_MASK = BY_ID["unweighted-metrics-ignore-mask"]
TRAINING_METRICS_IGNORE_MASK = BY_ID["jax-training-metrics-ignore-mask"]
TRAINING_METHODS = ("train_on_batch", "fit")
WEIGHTED_BATCHES_MISWEIGHED = BY_ID["torch-weighted-metrics-misweigh-batches"]
BATCHES_UNWEIGHTED = BY_ID["loss-batches-averaged-unweighted"]
MIXED_HEAD_DROPS_MASK = BY_ID["float32-head-drops-mask-under-mixed-policy"]


@st.composite
def loss_specs(draw, api: str, styles=("masking", "embedding")) -> StackSpec:
    """Masking or Embedding, then at most one sequence layer that keeps the mask (no Dropout:
    fit and train_on_batch run in training mode, the reference in inference mode)."""
    style = draw(st.sampled_from(styles), label="style")
    context = context_layers(api).filter(lambda layer: layer.kind != "Dropout")
    layers = draw(st.lists(context, max_size=1), label="context")
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return StackSpec(style, tuple(layers), mask_value=mask_value)


def sample_weights(mask: np.ndarray, execution: str) -> st.SearchStrategy:
    """None, one weight per sample, or one weight per timestep, in [0, 2], minus the kinds a
    recorded divergence makes fail on the installed Keras (each replayed by its witness)."""
    weights = st.floats(0, 2, width=32, allow_subnormal=False)
    options = [st.none()]
    if not PER_SAMPLE_WEIGHTS_FAIL.active:
        options.append(hnp.arrays(np.float32, mask.shape[:1], elements=weights))
    if not (execution == "jit" and JIT_TIMESTEP_WEIGHTS_FAIL.active):
        options.append(hnp.arrays(np.float32, mask.shape, elements=weights))
    return st.one_of(options)


@st.composite
def loss_cases(draw, losses, execution: str, *, methods=METHODS, policy: str = "float32") -> LossCase:
    """A model with a head for one of ``losses``, built under the dtype ``policy``, compiled for
    ``execution``, and what to run. Under a mixed policy the mask comes from Embedding only
    (Masking compares in 16 bits there: a recorded divergence, replayed by its witness)."""
    loss = draw(st.sampled_from(list(losses)), label="loss")
    api = draw(st.sampled_from(["sequential", "functional", "subclassed"]), label="api")
    styles = ("masking", "embedding") if policy == "float32" else ("embedding",)
    specs = without_known_divergences(loss_specs(api, styles), f"compiled {execution}")
    if policy != "float32":
        specs = without_known_divergences(specs, policy)
    spec = with_head(draw(specs, label="spec"), loss, policy)
    batch = draw(spec.batches(batch_size=st.just(BATCH_SIZE), min_length=MIN_REAL_STEPS), label="batch")
    method = draw(st.sampled_from(methods), label="method")
    split = (method in BATCHED_METHODS and not BATCHES_UNWEIGHTED.active
             and draw(st.booleans(), label="several_batches"))
    return LossCase(
        spec=spec,
        api=api,
        loss=loss,
        execution=execution,
        method=method,
        batch_size=SPLIT_BATCH_SIZE if split else BATCH_SIZE,
        seed=draw(st.integers(0, 2**16), label="weight_seed"),
        values=batch.values,
        mask=batch.mask,
        targets=draw(targets(ref.LOSSES[loss][1], batch.mask), label="targets"),
        sample_weight=draw(sample_weights(batch.mask, execution), label="sample_weight"),
        policy=policy,
    )


@pytest.mark.parametrize("execution", EXECUTIONS)
@given(data=st.data())
def test_compiled_loss_equals_masked_reference(execution, data):
    """The loss that evaluate, test_on_batch, train_on_batch and fit report equals, per batch,
    the sum of mask x sample weight x per-step loss over the number of real steps, averaged over
    batches by batch size, for every loss, eagerly, in graph mode and under XLA."""
    check_loss(data.draw(loss_cases(ref.LOSSES, execution), label="case"))


@budget()
@given(data=st.data())
def test_mixed_precision_loss_equals_masked_reference(data):
    """Under mixed_float16 or mixed_bfloat16, with a float32 output layer, the loss that
    evaluate, test_on_batch, train_on_batch and fit report equals the masked reference computed
    from the model's own eager predictions, within 16-bit rounding, in every execution mode."""
    if MIXED_HEAD_DROPS_MASK.active:  # every case has the float32 head it breaks
        pytest.skip(f"{MIXED_HEAD_DROPS_MASK.explain()} (replayed by test_known_divergences)")
    policy = data.draw(st.sampled_from(MIXED_POLICIES), label="policy")
    execution = data.draw(st.sampled_from(EXECUTIONS), label="execution")
    check_loss(data.draw(loss_cases(REPRESENTATIVE_LOSSES, execution, policy=policy), label="case"))


def masks_metric(name: str, case: LossCase) -> bool:
    """Whether the installed Keras applies the mask to metric ``name``: where the recorded
    unweighted-metrics-ignore-mask is active (replayed by its witness), only a weighted metric
    given sample weights does; where jax-training-metrics-ignore-mask is, none that fit or
    train_on_batch reports does; where torch-weighted-metrics-misweigh-batches is, a weighted
    metric given per-timestep weights over several batches is left to its witness."""
    if TRAINING_METRICS_IGNORE_MASK.active and case.method in TRAINING_METHODS:
        return False
    if (WEIGHTED_BATCHES_MISWEIGHED.active and name.startswith("weighted_") and case.sample_weight is not None
            and case.sample_weight.ndim == 2 and len(case.values) > case.batch_size):
        return False
    return not METRICS_IGNORE_MASK.active or (name.startswith("weighted_") and case.sample_weight is not None)


def check_metrics(case: LossCase):
    logs, predictions = run_case(case)
    tol = loss_tolerance(case.spec.depth, case.values.shape[1])
    for name in [k for k in logs if k != "loss" and masks_metric(k, case)]:
        values = ref.per_step_metric(name, case.targets, predictions)
        if "accuracy" in name:  # an argmax or threshold within tol of a tie may go either way
            assume(not near_tie(name, predictions, tol))
        weights = case.sample_weight if name.startswith("weighted_") else None
        expected = ref.masked_metric(values, case.mask, weights)
        kind = "weighted by sample weight and mask" if weights is not None else "weighted by mask"
        with report.reproduced_by("metric", lambda: metric_reproducer(case, name)):
            assert_close(
                logs[name], expected, tol,
                f"metric '{name}' reported by {where(case)} vs its mean over real steps ({kind}), "
                "accumulated over all batches",
            )


def near_tie(name: str, predictions: np.ndarray, tol: float) -> bool:
    if name == "binary_accuracy":
        return bool(np.any(np.abs(predictions - 0.5) <= tol))
    top2 = np.sort(predictions, axis=-1)[..., -2:]
    return bool(np.any(top2[..., 1] - top2[..., 0] <= tol))


@pytest.mark.parametrize("execution", EXECUTIONS)
@given(data=st.data())
def test_compiled_metrics_equal_masked_reference(execution, data):
    """Every compiled metric (mae, mse, the accuracy that fits the targets, a MeanMetricWrapper
    around a Python function, and a weighted mae) equals its mean over real steps, weighted by
    sample weights only for weighted_metrics, accumulated over all batches."""
    cases = loss_cases(REPRESENTATIVE_LOSSES, execution)
    if METRICS_IGNORE_MASK.active:  # only a weighted metric given sample weights is masked there
        cases = cases.filter(lambda case: case.sample_weight is not None)
    if TRAINING_METRICS_IGNORE_MASK.active:  # no metric of a training method is masked there
        cases = cases.filter(lambda case: case.method not in TRAINING_METHODS)
    check_metrics(data.draw(cases, label="case"))


@given(data=st.data())
def test_loss_ignores_padded_targets(data):
    """The reported loss does not change when the targets at padded steps change, whatever
    finite values they hold (non-finite ones are a recorded divergence)."""
    case = data.draw(loss_cases(REPRESENTATIVE_LOSSES, "graph", methods=("test_on_batch",)), label="case")
    if case.targets.ndim == 2:  # integer labels: padded labels must stay valid classes
        other = (case.targets + 1) % 3
    else:
        other = data.draw(targets(ref.LOSSES[case.loss][1], case.mask), label="other_padded_targets")
    mask = case.mask if case.targets.ndim == 2 else case.mask[..., None]
    check_padded_targets_ignored(case, np.where(mask, case.targets, other).astype(case.targets.dtype))



GRAPH_LOSS_KINDS = (
    "Add", "Concatenate", "Multiply", "Maximum", "MultiHeadAttention", "Attention", "AdditiveAttention",
    "LSTM", "GRU", "Dense", "LayerNormalization", "Masking", "Op", "OpAdd",
)
"""Residual connections (``Add`` of a tensor and a layer of it), merges of masked and unmasked
branches, attention, RNNs and operations: what stands between a masked input and a loss."""


@budget()
@given(data=st.data())
def test_graph_output_loss_follows_its_rule_mask(data):
    """Through residual connections, merges of a masked and an unmasked branch, attention, RNNs and
    operations, the loss evaluate() reports at a graph's output is the mean over the steps the
    rules' mask of that output calls real (every step where the rules give it none)."""
    spec = data.draw(graphs_without_known_divergences(GRAPH_LOSS_KINDS), label="spec")
    outputs = loss_outputs(spec)
    assume(outputs)
    batch, raw = data.draw(graph_inputs(spec), label="inputs")
    output = data.draw(st.sampled_from(outputs[::-1]), label="output")  # the last tensor first
    features = graph_tensors(spec)[output].features
    goal = data.draw(targets("real", batch.mask, units=features), label="targets")
    case = GraphLossCase(spec, output, batch.values, raw, goal)
    mask = rule_mask(case)
    assume(mask is None or mask.any() or MIN_REAL_STEPS == 0)  # loss-all-padded-batch-nan
    check_graph_loss(case, mask)
