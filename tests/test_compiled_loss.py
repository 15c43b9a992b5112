"""What compile(), evaluate(), fit() and the *_on_batch methods report equals a masked NumPy reference.

The semantics checked are written in ``kmask/loss_reference.py``: per batch,
``sum(mask * weight * loss) / sum(mask)``; over batches, the batch-size-weighted mean;
metrics, ``sum(mask * weight * value) / sum(mask * weight)`` over all batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask import loss_reference as ref
from kmask.compare import assert_close, loss_tolerance
from kmask.compiled import BATCHED_METHODS, EXECUTIONS, METHODS, compiled_for, with_head
from kmask.divergences import BY_ID
from strategies import StackSpec, context_layers, mask_values

BATCH_SIZE = 4
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

ALL_PADDED_NAN = BY_ID["loss-all-padded-batch-nan"]
SAMPLE_WEIGHTS_FAIL = BY_ID["sample-weight-sequence-outputs-fail"]
JIT_TIMESTEP_WEIGHTS_FAIL = BY_ID["jit-timestep-sample-weight-fails"]


@dataclasses.dataclass(frozen=True, eq=False)
class LossCase:
    """One drawn example: a model, its weights, data, targets, weights and how to run it."""

    spec: StackSpec
    api: str
    loss: str
    execution: str
    method: str
    batch_size: int
    seed: int
    values: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    sample_weight: np.ndarray | None

    def __repr__(self) -> str:
        with np.printoptions(precision=6, threshold=100_000, linewidth=100):
            return (
                f"LossCase(model={self.spec} [{self.api}], loss={self.loss!r}, "
                f"execution={self.execution!r}, method={self.method!r}, batch_size={self.batch_size}, "
                f"weight_seed={self.seed},\n  values={self.values!r},\n  mask={self.mask!r},\n"
                f"  targets={self.targets!r},\n  sample_weight={self.sample_weight!r})"
            )


@st.composite
def loss_specs(draw, api: str) -> StackSpec:
    """Masking or Embedding, then at most one sequence layer that keeps the mask (no Dropout:
    fit and train_on_batch run in training mode, the reference in inference mode)."""
    style = draw(st.sampled_from(["masking", "embedding"]), label="style")
    context = context_layers(api).filter(lambda layer: layer.kind != "Dropout")
    layers = draw(st.lists(context, max_size=1), label="context")
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return StackSpec(style, tuple(layers), mask_value=mask_value)


@st.composite
def targets(draw, kind: str, mask: np.ndarray, units: int = 3) -> np.ndarray:
    """Targets of ``kind`` at real steps and arbitrary (finite) values at padded steps."""
    shape = mask.shape + (units,)
    if kind == "sparse":
        return draw(hnp.arrays(np.int32, mask.shape, elements=st.integers(0, units - 1)))
    if kind == "real":
        real = draw(hnp.arrays(np.float32, shape, elements=st.floats(-2, 2, width=32, allow_subnormal=False)))
    elif kind == "binary":
        real = draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0])))
    else:  # one_hot, distribution
        if kind == "one_hot":
            classes = draw(hnp.arrays(np.int32, mask.shape, elements=st.integers(0, units - 1)))
            real = np.eye(units, dtype=np.float32)[classes]
        else:
            raw = draw(hnp.arrays(np.float32, shape, elements=st.floats(0.0625, 1, width=32, allow_subnormal=False)))
            real = raw / raw.sum(axis=-1, keepdims=True)
    garbage = draw(hnp.arrays(np.float32, shape, elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False)))
    return np.where(mask[..., None], real, garbage).astype(np.float32)


def sample_weights(mask: np.ndarray, execution: str) -> st.SearchStrategy:
    """None, one weight per sample, or one weight per timestep, in [0, 2], minus the kinds a
    recorded divergence makes fail on the installed Keras (each replayed by its witness)."""
    weights = st.floats(0, 2, width=32, allow_subnormal=False)
    options = [st.none()]
    if not SAMPLE_WEIGHTS_FAIL.active:
        options.append(hnp.arrays(np.float32, mask.shape[:1], elements=weights))
        if not (execution == "jit" and JIT_TIMESTEP_WEIGHTS_FAIL.active):
            options.append(hnp.arrays(np.float32, mask.shape, elements=weights))
    return st.one_of(options)


@st.composite
def loss_cases(draw, losses, execution: str, *, methods=METHODS) -> LossCase:
    """A model with a head for one of ``losses``, compiled for ``execution``, and what to run."""
    loss = draw(st.sampled_from(list(losses)), label="loss")
    api = draw(st.sampled_from(["sequential", "functional", "subclassed"]), label="api")
    spec = with_head(draw(loss_specs(api), label="spec"), loss)
    # Keras 2 reports NaN for a batch without real steps (a recorded divergence): there,
    # every row keeps a real step, so every batch has one.
    min_length = 1 if ALL_PADDED_NAN.active else 0
    batch = draw(spec.batches(batch_size=st.just(BATCH_SIZE), min_length=min_length), label="batch")
    method = draw(st.sampled_from(methods), label="method")
    split = method in BATCHED_METHODS and draw(st.booleans(), label="several_batches")
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
    )


def run_case(case: LossCase):
    """The logs Keras reports for ``case``, and the eager predictions the reference uses."""
    compiled = compiled_for(case.spec, case.api, case.loss, case.execution, case.values.shape[1])
    compiled.set_weights(case.seed)
    predictions = compiled.predict_eagerly(case.values)
    logs = compiled.report(case.method, case.values, case.targets, case.sample_weight, case.batch_size)
    return logs, predictions


def chunks(case: LossCase):
    """The row slices Keras splits the data into."""
    return [slice(i, i + case.batch_size) for i in range(0, len(case.values), case.batch_size)]


def where(case: LossCase) -> str:
    return f"{case.method} ({case.execution}, batches of {case.batch_size}) of {case.spec} [{case.api}]"


def check_loss(case: LossCase):
    logs, predictions = run_case(case)
    sw = case.sample_weight
    batch_losses = [
        ref.masked_batch_loss(
            ref.per_step_loss(case.loss, case.targets[rows], predictions[rows]),
            case.mask[rows],
            None if sw is None else sw[rows],
        )
        for rows in chunks(case)
    ]
    expected = ref.over_batches(batch_losses, [len(case.mask[rows]) for rows in chunks(case)])
    assert_close(
        logs["loss"], expected, loss_tolerance(case.spec.depth, case.values.shape[1]),
        f"'{case.loss}' loss reported by {where(case)} vs sum(mask*weight*loss)/sum(mask) per batch "
        f"({[round(b, 6) for b in batch_losses]}), batch-size-weighted over batches",
    )


@pytest.mark.parametrize("execution", EXECUTIONS)
@given(data=st.data())
def test_compiled_loss_equals_masked_reference(execution, data):
    """The loss that evaluate, test_on_batch, train_on_batch and fit report equals, per batch,
    the sum of mask x sample weight x per-step loss over the number of real steps, averaged over
    batches by batch size, for every loss, eagerly, in graph mode and under XLA."""
    check_loss(data.draw(loss_cases(ref.LOSSES, execution), label="case"))


def check_metrics(case: LossCase):
    logs, predictions = run_case(case)
    tol = loss_tolerance(case.spec.depth, case.values.shape[1])
    for name in [k for k in logs if k != "loss"]:
        values = ref.per_step_metric(name, case.targets, predictions)
        if "accuracy" in name:  # an argmax or threshold within tol of a tie may go either way
            assume(not near_tie(name, predictions, tol))
        weights = case.sample_weight if name.startswith("weighted_") else None
        expected = ref.masked_metric(values, case.mask, weights)
        kind = "weighted by sample weight and mask" if weights is not None else "weighted by mask"
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
    check_metrics(data.draw(loss_cases(REPRESENTATIVE_LOSSES, execution), label="case"))


def check_padded_targets_ignored(case: LossCase, other_targets: np.ndarray):
    first, _ = run_case(case)
    second, _ = run_case(dataclasses.replace(case, targets=other_targets))
    assert_close(
        second["loss"], first["loss"], loss_tolerance(case.spec.depth, case.values.shape[1]),
        f"'{case.loss}' loss of {where(case)} after changing only the targets at padded steps",
    )


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


def _one_case(loss="mean_absolute_error", execution="graph", method="test_on_batch", **changes):
    """A fixed case for the divergence witnesses: Masking(0) -> Dense head, two rows."""
    values = np.array([[[1, 2], [3, 0.5], [0, 0]], [[0.5, 1], [0, 0], [0, 0]]], np.float32)
    mask = np.any(values != 0, axis=-1)
    case = LossCase(
        spec=with_head(StackSpec("masking", ()), loss), api="functional", loss=loss,
        execution=execution, method=method, batch_size=len(values), seed=1, values=values,
        mask=mask, targets=np.linspace(-1, 1, 18, dtype=np.float32).reshape(2, 3, 3),
        sample_weight=None,
    )
    return dataclasses.replace(case, **changes)


def _reported_loss_or_failure(case: LossCase) -> None:
    """``check_loss(case)``, with Keras refusing the call reported as a failed property."""
    try:
        check_loss(case)
    except AssertionError:
        raise
    except Exception as error:  # Keras failed instead of reporting a loss
        raise AssertionError(f"{where(case)} raised {type(error).__name__}: {error}") from error


def all_padded_batch_witness():
    case = _one_case()
    _reported_loss_or_failure(dataclasses.replace(case, values=np.zeros_like(case.values),
                                                  mask=np.zeros_like(case.mask)))


def sequence_sample_weight_witness():
    case = _one_case()
    for weights in (np.array([0.5, 2], np.float32), np.full(case.mask.shape, 0.5, np.float32)):
        _reported_loss_or_failure(dataclasses.replace(case, sample_weight=weights))


def jit_timestep_sample_weight_witness():
    """Per-sample then per-timestep weights work under XLA wherever they work without it."""
    weights = (np.array([0.5, 2], np.float32), np.full((2, 3), 0.5, np.float32))
    try:
        for w in weights:
            _reported_loss_or_failure(_one_case(execution="graph", sample_weight=w))
    except AssertionError:
        return  # sample weights fail without XLA too: that is another divergence
    for w in weights:
        _reported_loss_or_failure(_one_case(execution="jit", sample_weight=w))


def nonfinite_padded_targets_witness():
    case = _one_case(loss="mean_squared_error")
    for value in (np.nan, np.inf):
        other = np.where(case.mask[..., None], case.targets, np.float32(value))
        check_padded_targets_ignored(case, other)


def class_weight_witness():
    """fit(class_weight=) on (batch, timesteps) labels weighs each real step by its own class,
    or refuses; it must not report another loss."""
    case = _one_case("sparse_categorical_crossentropy", method="fit")
    labels = np.array([[2, 0, 1], [1, 1, 0]], np.int32)
    class_weight = {0: 1.0, 1: 3.0, 2: 0.25}
    compiled = compiled_for(case.spec, case.api, case.loss, case.execution, 3)
    compiled.set_weights(case.seed)
    predictions = compiled.predict_eagerly(case.values)
    try:
        history = compiled.model.fit(case.values, labels, class_weight=class_weight, epochs=1,
                                     shuffle=False, verbose=0)
    except Exception:  # refusing is an acceptable answer for sequence targets
        return
    weights = np.vectorize(class_weight.get)(labels)
    expected = ref.masked_batch_loss(
        ref.per_step_loss(case.loss, labels, predictions), case.mask, weights
    )
    assert_close(
        history.history["loss"][-1], expected, loss_tolerance(case.spec.depth, 3),
        "fit(class_weight=...) on per-timestep labels vs each real step weighted by its class",
    )
