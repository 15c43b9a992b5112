"""The references the properties trust, tested on their own (meta tests, in the manner of
data-apis/array-api-tests): the NumPy loss and metric reference against numbers computed by
hand, ``PaddedBatch`` and ``masks()`` invariants, the mask rules on hand-written graphs, the
position mapping after ``go_backwards``, and the bound the README gives for the tolerance.

None of these builds a Keras model: a property that passes because its reference is wrong
would pass for the wrong reason, and these tests say so without Keras in the loop.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask import loss_reference as ref
from kmask.checks import assert_same_real_outputs
from kmask.compare import FLOAT32_EPS, tolerance
from kmask.divergences import BY_ID, within
from kmask.forward_checks import EXTRA_PADDING
from kmask.mask_checks import POOLED_VALUE, check_pooled_values
from kmask.mask_rules import (
    RAISES_TYPE_ERROR,
    RULE_FUNCTIONS,
    RULES,
    concatenates_unmasked_on_time_axis,
    expected_compute_mask,
    expected_masks,
    expected_graph_masks,
    generation_differences,
    shares_attention_input,
)
from kmask.oracle import alone_positions, held_outputs
from kmask.seed_notebook import REAL as SEED_NOTEBOOK_REAL
from strategies import (
    APIS,
    STYLES,
    TIMESTEP_BUCKETS,
    LayerSpec,
    PaddedBatch,
    StackSpec,
    masks,
    padded_batches,
    stacks,
)
from strategies.graphs import PROPAGATION_CATALOG, GraphSpec, Node, chains, consumer_stacks, graphs

META = settings(max_examples=60)
"""These properties run NumPy only: more examples than the model properties cost little."""

T, F = True, False


def assert_by_hand(got: float, expected: float, rule: str) -> None:
    """Fail with ``rule`` and both numbers unless the reference's ``got`` equals ``expected``,
    computed by hand."""
    if got != pytest.approx(expected):
        raise AssertionError(f"{rule}: the reference gives {float(got)!r}, by hand {float(expected)!r}")

# --------------------------------------------------------------------------- the loss, by hand

MASK = np.array([[T, T, F], [T, F, F]])
Y_TRUE = np.zeros((2, 3, 2))
Y_PRED = np.array([[[1, 3], [4, 4], [9, 9]], [[6, 6], [5, 5], [7, 1]]], np.float64)
MAE = np.array([[2, 4, 9], [6, 5, 4]], np.float64)
"""mae of each step of Y_PRED against zeros, the mean of |features|: row 0 (1+3)/2, (4+4)/2,
(9+9)/2; row 1 (6+6)/2, (5+5)/2, (7+1)/2. Real steps: 2, 4 (row 0) and 6 (row 1)."""


def test_mae_is_the_mean_over_features_per_timestep():
    """The per-step mae averages the feature axis and keeps (batch, timesteps)."""
    np.testing.assert_array_equal(ref.per_step_loss("mean_absolute_error", Y_TRUE, Y_PRED), MAE)


def test_batch_loss_divides_by_the_number_of_real_steps():
    """(2 + 4 + 6) / 3 real steps = 4, not / 6 steps = 2; without a mask (30 / 6) it is 5."""
    assert_by_hand(ref.masked_batch_loss(MAE, MASK), 12 / 3, "sum over real steps / number of real steps")
    assert_by_hand(ref.masked_batch_loss(MAE, np.ones_like(MASK)), 30 / 6, "unmasked: mean over all steps")


def test_sample_weights_scale_terms_but_not_the_denominator():
    """Per sample [1, 3]: (1*2 + 1*4 + 3*6) / 3 = 8 (dividing by the weights, 5, would give
    4.8); per timestep: (1*2 + 2*4 + 0.5*6) / 3 = 13/3; weights at padded steps count nowhere."""
    per_sample, per_step = np.array([1.0, 3.0]), np.array([[1, 2, 7], [0.5, 9, 9]])
    rule = "weighted sum over real steps / number of real steps (not / sum of weights)"
    assert_by_hand(ref.masked_batch_loss(MAE, MASK, per_sample), 24 / 3, f"{rule}, per-sample weights")
    assert_by_hand(ref.masked_batch_loss(MAE, MASK, per_step), 13 / 3, f"{rule}, per-timestep weights")


def test_several_batches_average_batch_losses_by_batch_size():
    """Batch A (2 rows, loss 4) and batch B (1 row, real steps 10 and 1: loss 5.5) report
    (2*4 + 1*5.5) / 3 = 4.5, not the mean over all 5 real steps, (12 + 11) / 5 = 4.6."""
    loss_b = ref.masked_batch_loss(np.array([[10.0, 1, 1]]), np.array([[T, T, F]]))
    assert_by_hand(loss_b, 5.5, "batch B: sum over real steps / number of real steps")
    assert_by_hand(
        ref.over_batches([ref.masked_batch_loss(MAE, MASK), loss_b], [2, 1]), 4.5,
        "several batches: mean of batch losses weighted by batch size",
    )


def test_batch_without_real_steps_is_zero_on_keras3_nan_on_keras2():
    """Keras 3 reports 0 for a batch with no real step (the reference); Keras 2 reports NaN,
    which the divergence loss-all-padded-batch-nan records for Keras 2 only."""
    assert_by_hand(ref.masked_batch_loss(MAE, np.zeros_like(MASK)), 0.0, "a batch without real steps")
    record = BY_ID["loss-all-padded-batch-nan"]
    assert within("2.15.0", record.keras) and not within("3.15.1", record.keras)


def test_a_machine_condition_scopes_a_record():
    """A record that also needs a condition of the machine is active only where the condition
    holds, and its scope says so."""
    record = BY_ID["layernorm-bfloat16-fused-kernel-missing"]
    words, _ = record.only_when
    assert record.scope() == f"Keras <3, TensorFlow <2.14, only {words}"
    everywhere = dataclasses.replace(record, keras="", tensorflow="", only_when=(words, lambda: True))
    assert everywhere.active_on("tensorflow")
    assert not dataclasses.replace(everywhere, only_when=(words, lambda: False)).active_on("tensorflow")


def test_padded_steps_are_left_out_not_multiplied_by_zero():
    """A NaN or inf loss at a padded step changes neither the loss nor a metric."""
    poisoned = np.where(MASK, MAE, np.array([[np.nan, np.inf, -np.inf]]))
    assert_by_hand(ref.masked_batch_loss(poisoned, MASK), 4.0, "loss with non-finite losses at padded steps")
    assert_by_hand(ref.masked_metric(poisoned, MASK), 4.0, "metric with non-finite values at padded steps")


SEED_MASKED, SEED_UNMASKED, SEED_EVALUATE = 1.1268, 1.0888, 0.7888
"""The seed notebook's masked mae, unmasked mae and old tf.keras evaluate() result."""


def seed_notebook_losses() -> np.ndarray:
    """Per-step maes with the notebook's means: 1.1268 at each of its 7 real steps, and at the
    3 padded steps what makes the mean over all 10 steps 1.0888."""
    real = SEED_NOTEBOOK_REAL
    padded = (SEED_UNMASKED * real.size - SEED_MASKED * real.sum()) / (real.size - real.sum())
    return np.where(real, SEED_MASKED, padded)


def test_seed_notebook_numbers_follow_from_the_old_denominator():
    """With the notebook's mask (7 real of 10 steps) the reference gives its masked 1.1268 and
    unmasked 1.0888; the masked sum over all 10 steps is 1.1268 x 7/10 = 0.7888, the
    evaluate() result the notebook saw on old tf.keras."""
    losses, real = seed_notebook_losses(), SEED_NOTEBOOK_REAL
    assert int(real.sum()) == 7 and real.size == 10
    masked = ref.masked_batch_loss(losses, real)
    assert_by_hand(masked, SEED_MASKED, "seed notebook: masked mae over its 7 real steps")
    assert_by_hand(ref.masked_batch_loss(losses, np.ones_like(real)), SEED_UNMASKED, "seed notebook: unmasked mae")
    old_denominator = ref.weighted_real_sum(losses, real) / real.size
    assert_by_hand(masked * 7 / 10, old_denominator, "seed notebook: masked mae x 7/10 = masked sum / 10 steps")
    assert round(old_denominator, 4) == SEED_EVALUATE, f"masked sum / 10 steps is {old_denominator}, not 0.7888"


def losses_and_masks(timesteps=st.integers(1, 9)):
    """Non-negative float64 per-step losses and a mask, both (1..4 rows, ``timesteps``)."""
    shapes = st.tuples(st.integers(1, 4), timesteps)
    return shapes.flatmap(
        lambda shape: st.tuples(
            hnp.arrays(np.float64, shape, elements=st.floats(0, 100, allow_subnormal=False)),
            hnp.arrays(bool, shape),
        )
    )


@META
@given(losses_and_masks())
def test_masked_loss_is_the_mean_over_real_steps(pair):
    """Unweighted, the batch loss is the plain mean of the real steps' losses, and the old
    denominator's loss is it scaled by real / all steps (1.1268 x 7/10 = 0.7888)."""
    losses, mask = pair
    expected = losses[mask].mean() if mask.any() else 0.0
    assert_by_hand(ref.masked_batch_loss(losses, mask), expected, "mean of the real steps' losses")
    old = ref.weighted_real_sum(losses, mask) / mask.size
    assert_by_hand(ref.masked_batch_loss(losses, mask) * mask.sum() / mask.size, old,
                   "masked loss x real / all steps = masked sum / all steps")


# --------------------------------------------------------------------------- per-step losses


def test_regression_losses_by_hand():
    """Errors 1 and -3: mse (1 + 9)/2 = 5, half of it 2.5, mae 2; huber (delta 1) of 0.5 and 3
    is (0.125 + 2.5)/2 = 1.3125."""
    y_true, y_pred = np.zeros((1, 1, 2)), np.array([[[1.0, -3.0]]])
    assert ref.per_step_loss("mean_squared_error", y_true, y_pred) == pytest.approx(np.array([[5.0]]))
    assert ref.per_step_loss("half_squared_error", y_true, y_pred) == pytest.approx(np.array([[2.5]]))
    assert ref.per_step_loss("mean_absolute_error", y_true, y_pred) == pytest.approx(np.array([[2.0]]))
    assert ref.per_step_loss("huber", y_true, np.array([[[0.5, 3.0]]])) == pytest.approx(np.array([[1.3125]]))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


LOGITS = hnp.arrays(np.float64, (2, 3, 3), elements=st.floats(-5, 5, allow_subnormal=False))


@META
@given(LOGITS, hnp.arrays(np.int64, (2, 3), elements=st.integers(0, 2)))
def test_probability_losses_agree_with_their_other_forms(z, labels):
    """log_cosh is log(cosh); crossentropy of sigmoid/softmax outputs equals the from-logits
    form; sparse crossentropy equals categorical crossentropy of one-hot labels; KL of a
    distribution from itself is 0."""
    one_hot = np.eye(3)[labels]
    np.testing.assert_allclose(
        ref.per_step_loss("log_cosh", one_hot, z), np.log(np.cosh(z - one_hot)).mean(-1), atol=1e-9
    )
    np.testing.assert_allclose(
        ref.per_step_loss("binary_crossentropy", one_hot, _sigmoid(z)),
        ref.per_step_loss("binary_crossentropy_from_logits", one_hot, z), atol=1e-6,
    )
    np.testing.assert_allclose(
        ref.per_step_loss("categorical_crossentropy", one_hot, _softmax(z)),
        ref.per_step_loss("categorical_crossentropy_from_logits", one_hot, z), atol=1e-6,
    )
    np.testing.assert_allclose(
        ref.per_step_loss("sparse_categorical_crossentropy", labels, _softmax(z)),
        ref.per_step_loss("categorical_crossentropy", one_hot, _softmax(z)), atol=1e-12,
    )
    np.testing.assert_allclose(ref.per_step_loss("kl_divergence", _softmax(z), _softmax(z)), 0, atol=1e-12)


# --------------------------------------------------------------------------- the metric reduction


def test_metric_divides_by_the_weights_of_real_steps_over_all_batches():
    """Batches A and B of the loss tests: the mae metric is (12 + 11) / 5 = 4.6 over both, and
    with per-sample weights [1, 3] on A alone (1*2 + 1*4 + 3*6) / (1 + 1 + 3) = 4.8."""
    values = np.concatenate([MAE, [[10.0, 1, 1]]])
    mask = np.concatenate([MASK, [[T, T, F]]])
    assert_by_hand(ref.masked_metric(values, mask), 23 / 5, "metric: sum over real steps of all batches / their number")
    assert_by_hand(ref.masked_metric(MAE, MASK, np.array([1.0, 3.0])), 24 / 5,
                   "weighted metric: weighted sum over real steps / sum of their weights")
    assert_by_hand(ref.masked_metric(MAE, np.zeros_like(MASK)), 0.0, "metric without real steps")


@META
@given(st.integers(1, 9).flatmap(lambda t: st.lists(losses_and_masks(st.just(t)), min_size=1, max_size=3)), st.data())
def test_metric_accumulates_sums_over_batches(batches, data):
    """Over batches of equal timesteps, the metric is the sum of every batch's weighted sum of
    real values over the sum of every batch's weights of real steps, however the data is split."""
    weights = [
        data.draw(hnp.arrays(np.float64, len(v), elements=st.floats(0, 2, allow_subnormal=False)))
        for v, _ in batches
    ]
    numerator = sum(ref.weighted_real_sum(v, m, w) for (v, m), w in zip(batches, weights))
    denominator = sum(ref.step_weights(m, w).sum() for (_, m), w in zip(batches, weights))
    together = ref.masked_metric(
        np.concatenate([v for v, _ in batches]), np.concatenate([m for _, m in batches]), np.concatenate(weights)
    )
    assert_by_hand(together, numerator / denominator if denominator else 0.0,
                   "metric: accumulated weighted sums / accumulated weights")


# --------------------------------------------------------------------------- PaddedBatch and masks()


@st.composite
def batches(draw) -> PaddedBatch:
    """Padded batches of every style, with the default draws."""
    return draw(padded_batches(draw(st.sampled_from(STYLES))))


@META
@given(batches())
def test_lengths_and_rows(batch):
    """``lengths`` counts each row's real steps; ``row(i)`` is a batch of one holding exactly
    those steps' values, in order."""
    np.testing.assert_array_equal(batch.lengths, batch.mask.sum(axis=1))
    for i in range(batch.batch_size):
        row = batch.row(i)
        assert row.shape == (1, batch.lengths[i]) + batch.values.shape[2:]
        steps = [t for t in range(batch.timesteps) if batch.mask[i, t]]
        for k, t in enumerate(steps):
            np.testing.assert_array_equal(row[0, k], batch.values[i, t])


@META
@given(batches())
def test_padding_is_what_the_style_says(batch):
    """Masking batches hold the mask value at exactly the padded steps (every feature), so
    ``Masking`` recomputes the true mask; embedding batches hold token 0 at exactly the padded
    steps; float values are never subnormal."""
    if batch.style == "embedding":
        np.testing.assert_array_equal(batch.values != 0, batch.mask)
        return
    if batch.style == "masking":
        np.testing.assert_array_equal(np.any(batch.values != np.float32(batch.mask_value), axis=-1), batch.mask)
    tiny = np.finfo(np.float32).tiny
    assert np.all((batch.values == 0) | (np.abs(batch.values) >= tiny)), "a subnormal value was drawn"


@META
@given(batches())
def test_batch_padding_names_its_mask_shape(batch):
    """A post-padded batch has its real steps first in every row, a pre-padded one last, and
    only an explicit batch is scattered."""
    steps = np.arange(batch.timesteps)[None]
    lengths = batch.lengths[:, None]
    if batch.padding == "post":
        np.testing.assert_array_equal(batch.mask, steps < lengths)
    elif batch.padding == "pre":
        np.testing.assert_array_equal(batch.mask, steps >= batch.timesteps - lengths)
    else:
        assert batch.padding == "scattered" and batch.style == "explicit"


@pytest.mark.parametrize("style", ["masking", "embedding"])
def test_padding_content_is_fixed_by_mask_making_styles(style):
    """Only explicit masks allow other padding content: Masking and Embedding define padding by it."""
    batch = PaddedBatch(style, np.zeros((1, 2, 2) if style == "masking" else (1, 2)), np.array([[T, F]]))
    with pytest.raises(ValueError, match="fixed by the"):
        batch.with_padding_content(np.ones_like(batch.values))


@META
@given(padded_batches("explicit"), st.data())
def test_with_padding_content_changes_only_padded_steps(batch, data):
    """New padding content lands at padded steps only; real steps and the mask are kept."""
    elements = st.floats(-9, 9, width=32, allow_subnormal=False)
    content = data.draw(hnp.arrays(np.float32, batch.values.shape, elements=elements))
    changed = batch.with_padding_content(content)
    np.testing.assert_array_equal(changed.mask, batch.mask)
    np.testing.assert_array_equal(changed.values[batch.mask], batch.values[batch.mask])
    np.testing.assert_array_equal(changed.values[~batch.mask], content[~batch.mask])


@META
@given(batches(), st.integers(0, 4))
def test_extended_adds_padding_on_the_padding_side(batch, extra):
    """``extended(n)`` adds n padded steps holding the style's padding at the start of pre-padded
    batches and at the end of the others, and keeps every row."""
    longer = batch.extended(extra)
    assert longer.timesteps == batch.timesteps + extra
    new = slice(0, extra) if batch.padding == "pre" else slice(batch.timesteps, None)
    old = slice(extra, None) if batch.padding == "pre" else slice(0, batch.timesteps)
    assert not longer.mask[:, new].any()
    assert np.all(longer.values[:, new] == batch.padding_fill)
    np.testing.assert_array_equal(longer.mask[:, old], batch.mask)
    np.testing.assert_array_equal(longer.values[:, old], batch.values)
    for i in range(batch.batch_size):
        np.testing.assert_array_equal(longer.row(i), batch.row(i))


@META
@given(st.integers(1, 4), st.integers(1, 9), st.sampled_from(["post", "pre", "scattered"]), st.data())
def test_masks_have_the_shape_their_padding_names(batch_size, timesteps, padding, data):
    """post: each row's real steps come first; pre: last; scattered: anywhere; every row has at
    least ``min_length`` real steps."""
    min_length = data.draw(st.integers(0, timesteps), label="min_length")
    mask = data.draw(masks(batch_size, timesteps, padding=padding, min_length=min_length), label="mask")
    assert mask.shape == (batch_size, timesteps) and mask.dtype == bool
    lengths = mask.sum(axis=1)
    assert np.all(lengths >= min_length)
    steps = np.arange(timesteps)
    if padding == "post":
        np.testing.assert_array_equal(mask, steps[None] < lengths[:, None])
    elif padding == "pre":
        np.testing.assert_array_equal(mask, steps[None] >= timesteps - lengths[:, None])


# --------------------------------------------------------------------------- mask rules

M0 = np.array([[T, F, F], [F, T, T]])
M1 = np.array([[F, T, F], [T, T, F]])
X0 = np.where(M0[..., None], np.array([1.0, 0.0]), 0.0)
"""Values behind Masking(0): the real steps hold (1, 0), so a 0 feature alone does not pad."""
X1 = np.where(M1[..., None], np.array([0.0, 2.0]), 0.0)
"""The unmasked input; Masking(0) on it gives M1."""
ALL = np.ones_like(M0)


def _layer(kind, **options):
    return LayerSpec.make(kind, **options)


LSTM_SEQ = _layer("LSTM", units=2, return_sequences=True)
HAND_GRAPH = (
    # (node, masks of its outputs on Keras 2, on Keras 3)
    (Node(_layer("Dense", units=2), (0,)), [M0], [M0]),  # t2
    (Node(_layer("Add"), (2, 1)), [M0], [None]),  # t3: Keras 3 drops the mask when an input has none
    (Node(_layer("Concatenate"), (0, 1)), [M0], [ALL]),  # t4: unmasked counts as all real
    (Node(_layer("Concatenate", axis=1), (0, 1)), [np.concatenate([M0, ALL], 1)],
     [np.concatenate([M0, ALL], 1)]),  # t5: masks follow each other
    (Node(_layer("Masking", mask_value=0.0), (1,)), [M1], [M1]),  # t6
    (Node(_layer("Maximum"), (0, 6)), [M0 & M1], [M0 | M1]),  # t7
    (Node(_layer("Concatenate"), (0, 6)), [M0 & M1], [M0 | M1]),  # t8
    (Node(_layer("LSTM", units=2, return_sequences=True, return_state=True), (0,)),
     [M0, None, None], [M0, None, None]),  # t9, t10, t11: states have no time axis
    (Node(_layer("GRU", units=2), (0,)), [None], [None]),  # t12
    (Node(_layer("Bidirectional", layer=LSTM_SEQ, merge_mode=None), (0,)), [M0, M0], [M0, M0]),  # t13, t14
    (Node(_layer("GlobalAveragePooling1D"), (0,)), [None], [None]),  # t15
    (Node(_layer("Conv1D", filters=2, kernel_size=2, padding="same"), (0,)), [None], [None]),  # t16
    (Node(_layer("MultiHeadAttention", num_heads=2, key_dim=2), (1, 0)), [None], [None]),  # t17: query t1
    (Node(_layer("Attention"), (0, 1)), [M0], [M0]),  # t18: the query's mask
    (Node(_layer("Lambda", function="double", mask="keep"), (0,)), [M0], [M0]),  # t19
    (Node(_layer("Lambda", function="negate"), (0,)), [None], [None]),  # t20
    (Node(_layer("Op", function="tanh"), (0,)), [None], [None]),  # t21: an operation carries no mask
    (Node(_layer("OpAdd"), (0, 6)), [None], [None]),  # t22: even over two masked tensors
)


def _hand_graph() -> GraphSpec:
    return GraphSpec("masking", tuple(node for node, _, _ in HAND_GRAPH), mask_value=0.0)


def _tensor_values(spec: GraphSpec) -> list[np.ndarray]:
    """Values for every tensor of ``spec``: the inputs X0 and X1, zeros of their shape elsewhere
    (the rules read values only behind Masking and for the shape of a missing mask)."""
    count = 2 + sum(len(k2) for _, k2, _ in HAND_GRAPH)
    return [X0, X1] + [np.zeros_like(X0)] * (count - 2)


def _describe(mask) -> str:
    return "no mask" if mask is None else np.array2string(np.asarray(mask, int))


@pytest.mark.parametrize("generation", [2, 3])
def test_mask_rules_on_a_hand_written_graph(generation):
    """Every tensor of a graph of merges, RNNs, pooling, attention, Lambda and operations gets the
    mask written down for its Keras generation."""
    spec = _hand_graph()
    got = expected_graph_masks(spec, X0, _tensor_values(spec), generation)
    want = [M0, None] + [m for _, k2, k3 in HAND_GRAPH for m in (k2 if generation == 2 else k3)]
    assert len(got) == len(want), f"{len(got)} tensors got a mask rule, {len(want)} expected"
    for i, (g, w) in enumerate(zip(got, want)):
        same = (g is None and w is None) or (g is not None and w is not None and np.array_equal(g, w))
        assert same, f"Keras {generation}, t{i}: rule gives {_describe(g)}, expected {_describe(w)}"


def test_pooled_value_reference_by_hand():
    """GlobalAveragePooling1D of a masked tensor is the mean over its real steps; after an
    operation (no mask by the rules) it is the mean over every step; a masked mean there fails."""
    spec = GraphSpec("masking", (
        Node(_layer("GlobalAveragePooling1D"), (0,)),  # t2
        Node(_layer("Op", function="tanh"), (0,)),  # t3
        Node(_layer("GlobalAveragePooling1D"), (3,)),  # t4
    ), mask_value=0.0)
    t = np.tanh(1.0)
    values = [X0, X1, np.array([[1.0, 0.0], [1.0, 0.0]]), np.tanh(X0), np.array([[t / 3, 0.0], [2 * t / 3, 0.0]])]
    masks = expected_graph_masks(spec, X0, values, 3)
    check_pooled_values(spec, values, masks, set(), "")
    values[4] = np.array([[t, 0.0], [t, 0.0]])  # the mean over the input's real steps instead
    with pytest.raises(AssertionError, match=POOLED_VALUE):
        check_pooled_values(spec, values, masks, set(), "")


def test_compute_mask_of_a_layer_without_mask_support():
    """Conv1D called directly with a mask: Keras 2 raises TypeError, Keras 3 returns the mask;
    without a mask both return none."""
    conv = _layer("Conv1D", filters=2, kernel_size=2, padding="same")
    assert expected_compute_mask(conv, [M0], [X0], 2) == RAISES_TYPE_ERROR
    assert np.array_equal(expected_compute_mask(conv, [M0], [X0], 3)[0], M0)
    assert expected_compute_mask(conv, [None], [X0], 2) == [None] == expected_compute_mask(conv, [None], [X0], 3)


def test_every_propagation_kind_has_a_rule_that_exists():
    """Each layer kind a graph can hold, and Embedding, has a rule per generation, and every
    rule name means something."""
    for kind in PROPAGATION_CATALOG + ("Embedding",):
        for generation in (2, 3):
            assert RULES[kind].for_generation(generation) in RULE_FUNCTIONS, (kind, generation)


def test_graph_predicates_on_hand_written_graphs():
    """The hand graph concatenates an unmasked input on the time axis and shares MultiHeadAttention's
    value with other nodes; a graph with only a self-concatenation and a private attention does neither."""
    assert concatenates_unmasked_on_time_axis(_hand_graph())
    assert shares_attention_input(_hand_graph())
    private = GraphSpec("masking", (
        Node(_layer("Concatenate", axis=1), (0, 0)),
        Node(_layer("MultiHeadAttention", num_heads=2, key_dim=2), (1, 1)),
    ))
    assert not concatenates_unmasked_on_time_axis(private)
    assert not shares_attention_input(private)


def test_generation_differences_name_only_the_kinds_involved():
    """Failure messages cite the Keras 2/3 difference for merges, and nothing for Dense."""
    assert "Keras 3 (>=3.0) ORs them" in generation_differences(["Add"])
    assert generation_differences(["Dense", "LSTM"]) == ""


# --------------------------------------------------------------------------- positions after go_backwards


def _positions(layers, mask, padding="post") -> np.ndarray:
    mask = np.asarray(mask, bool)
    batch = PaddedBatch("explicit", np.zeros(mask.shape + (2,), np.float32), mask, padding=padding)
    return alone_positions(StackSpec("explicit", tuple(layers)), batch)


BACKWARDS = _layer("LSTM", units=3, return_sequences=True, go_backwards=True)
FORWARDS = _layer("LSTM", units=3, return_sequences=True)


@pytest.mark.parametrize(
    "layers, mask, expected",
    [
        # no reversal: real steps keep their order
        ([FORWARDS], [[T, T, F, F], [F, T, T, T]], [[0, 1, -1, -1], [-1, 0, 1, 2]]),
        # go_backwards: padded-run output t is input T-1-t, which is alone output len-1-(its index)
        ([BACKWARDS], [[T, T, F, F]], [[-1, -1, 0, 1]]),
        ([BACKWARDS], [[F, F, T, T]], [[0, 1, -1, -1]]),
        ([BACKWARDS], [[T, F, T, T]], [[0, 1, -1, 2]]),
        # two reversals cancel
        ([BACKWARDS, BACKWARDS], [[T, T, F, F]], [[0, 1, -1, -1]]),
        # go_backwards without return_sequences, and Bidirectional, do not reverse
        ([_layer("LSTM", units=3, go_backwards=True), FORWARDS], [[T, T, F]], [[0, 1, -1]]),
        ([_layer("Bidirectional", layer=BACKWARDS, merge_mode="concat")], [[T, T, F]], [[0, 1, -1]]),
    ],
)
def test_alone_positions_by_hand(layers, mask, expected):
    """Where each padded-run output step must equal the row-alone output, by hand."""
    np.testing.assert_array_equal(_positions(layers, mask), expected)


def test_held_outputs_repeat_the_last_real_step():
    """At padded steps an RNN's sequence output repeats the last real output, zeros before any."""
    outputs = np.arange(1, 5, dtype=np.float64).reshape(1, 4, 1)
    expected = held_outputs(outputs, np.array([[F, T, F, T]]))
    np.testing.assert_array_equal(expected[0, :, 0], [0, 2, 2, 4])


# --------------------------------------------------------------------------- the tolerance bound

TOLERANCE_BOUND = 8.6e-5
"""The largest forward-comparison tolerance: depth 5 (at most 4 layers after the input layer)
and 9 drawn timesteps plus the EXTRA_PADDING (3) padded steps the extra-padding property appends."""


def test_tolerance_formula_by_hand():
    """tol = 8 * eps32 * depth * (timesteps + 6): depth 2 and 5 timesteps give 176 eps."""
    assert tolerance(2, 5) == pytest.approx(8 * FLOAT32_EPS * 2 * 11)
    assert tolerance(5, max(TIMESTEP_BUCKETS) + EXTRA_PADDING) == pytest.approx(720 * FLOAT32_EPS)


def _drawn_models():
    """Every family of models the forward and propagation properties draw."""
    return st.one_of(
        [stacks(api=api) for api in APIS] + [graphs(), chains(), consumer_stacks()]
    )


@META
@given(_drawn_models().flatmap(lambda spec: st.tuples(st.just(spec), padded_batches("explicit"))))
def test_tolerance_stays_within_the_bound(pair):
    """No drawn model and batch (with the appended padding) gets a tolerance above the bound."""
    spec, batch = pair
    assert spec.depth <= 5
    assert batch.timesteps <= max(TIMESTEP_BUCKETS)
    assert tolerance(spec.depth, batch.timesteps + EXTRA_PADDING) <= TOLERANCE_BOUND


def test_tolerance_bound_is_reached():
    """A stack of depth 5 is drawn, so the bound is the real maximum, not a loose one."""
    deepest = find(stacks(), lambda spec: spec.depth == 5, settings=settings(database=None, max_examples=2000))
    worst = tolerance(deepest.depth, max(TIMESTEP_BUCKETS) + EXTRA_PADDING)
    assert 0.99 * TOLERANCE_BOUND < worst <= TOLERANCE_BOUND


# --------------------------------------------------------------------------- comparisons that cannot pass by accident


def test_a_dropped_output_fails_the_comparison():
    """Two runs whose output lists differ in length fail, instead of zip comparing the common part."""
    batch = PaddedBatch("explicit", np.zeros((1, 2, 2), np.float32), np.array([[T, F]]))
    spec = StackSpec("explicit", (_layer("LSTM", units=3, return_sequences=True, return_state=True),))
    outputs = [np.zeros((1, 2, 3)), np.zeros((1, 3)), np.zeros((1, 3))]
    with pytest.raises(AssertionError, match=r"outputs of run a and run b.*: 3 != 2 items"):
        assert_same_real_outputs(spec, batch, outputs, [0], batch, outputs[:2], [0], "padded vs alone")
    with pytest.raises(AssertionError, match=r"rows compared of run a and run b: 1 != 0 items"):
        assert_same_real_outputs(spec, batch, outputs, [0], batch, outputs, [], "padded vs alone")


def test_a_merge_rule_refuses_masks_and_values_of_different_counts():
    """A merge rule given a mask per input but fewer input values fails instead of dropping an input."""
    with pytest.raises(ValueError, match="2 input masks for 1 input values"):
        expected_masks(_layer("Concatenate"), [M0, None], [X0], 3)
