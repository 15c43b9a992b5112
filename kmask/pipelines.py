"""The input pipelines people feed padded data through: ``tf.data`` datasets built with
``Dataset.from_generator`` (padded by ``padded_batch``) or from a ``tf.RaggedTensor`` (padded by
``to_tensor()``), to each batch's longest row or to a fixed longer length, into ``fit``,
``evaluate`` and ``predict``.

How far a pipeline pads must not matter: the loss ``evaluate`` and ``fit`` report is the masked
NumPy reference over the dataset's batches (:mod:`kmask.loss_reference`), and ``predict`` gives
each row's real outputs as one eager call on the unpadded-to-the-same-length array does.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from strategies import LayerSpec, PaddedBatch, StackSpec, bidirectional_layers, catalog_layers, recurrent_layers

from . import loss_reference as ref
from . import report
from .checks import assert_same_real_outputs
from .compare import assert_close, loss_tolerance
from .compiled import compiled_for, with_head
from .divergences import active_matches
from .forward_checks import EXTRA_PADDING
from .keras_compat import tf, to_numpy
from .reproducers_pipelines import pipeline_reproducer

LOSS = "mean_squared_error"
PIPELINE_SHARE = 6
"""The pipeline property runs one in PIPELINE_SHARE of the profile's examples (at least 2): each
compiles a new model and traces evaluate, fit and predict (about 4 s here), and the stacks
behind it are drawn by every other property."""
SOURCES = ("generator", "ragged")
"""Where a dataset's rows come from: ``Dataset.from_generator`` over the rows (padded by
``padded_batch``), or ``Dataset.from_tensor_slices`` over a ``tf.RaggedTensor`` of them (batched
by ``ragged_batch``, padded by ``RaggedTensor.to_tensor``)."""
PIPELINE_LOSS = "pipeline loss"
PIPELINE_PREDICT = "predict through the pipeline"
"""What the two pipeline assertions say."""


def _sequence_focus() -> st.SearchStrategy[LayerSpec]:
    """A mask consumer that returns sequences and trains the same as it infers: an RNN (rolled:
    batches of different lengths), Bidirectional or MultiHeadAttention."""
    return st.one_of(
        recurrent_layers(return_sequences=True, allow_state=False, allow_backwards=False).filter(
            lambda layer: not layer.option("unroll")),
        bidirectional_layers(return_sequences=True, allow_split=False).filter(
            lambda layer: not layer.recurrent.option("unroll")),
        catalog_layers("MultiHeadAttention"),
    )


@st.composite
def pipeline_specs(draw) -> StackSpec:
    """``Masking``/``Embedding -> [Dense | LayerNormalization] -> sequence consumer -> Dense(3)``,
    steering clear of the divergences active on this Keras for compiled models."""
    style = draw(st.sampled_from(["masking", "embedding"]), label="style")
    context = draw(st.lists(st.sampled_from([
        LayerSpec.make("Dense", units=3), LayerSpec.make("LayerNormalization")]), max_size=1), label="context")
    focus = draw(_sequence_focus(), label="focus")
    mask_value = draw(st.sampled_from([0.0, -1.0]), label="mask_value") if style == "masking" else 0.0
    spec = with_head(StackSpec(style, tuple(context) + (focus,), mask_value=mask_value), LOSS)
    if active_matches(spec, "compiled graph"):
        spec = with_head(StackSpec(style, (LayerSpec.make("Dense", units=3),), mask_value=mask_value), LOSS)
    return spec


@dataclasses.dataclass(frozen=True, eq=False)
class PipelineCase:
    """A model, the rows of padded data and targets it is fed, and how the pipeline batches them."""

    spec: StackSpec
    batch: PaddedBatch
    """Every row, post-padded to the longest: the rows the pipeline is built from."""
    targets: np.ndarray
    batch_size: int
    source: str
    seed: int

    def rows(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each row's real steps, and its targets there."""
        lengths = self.batch.lengths
        return ([self.batch.values[i, :n] for i, n in enumerate(lengths)],
                [self.targets[i, :n] for i, n in enumerate(lengths)])

    def chunks(self) -> list[slice]:
        size = self.batch.batch_size
        return [slice(i, i + self.batch_size) for i in range(0, size, self.batch_size)]


def dataset(case: PipelineCase, timesteps: int | None, with_targets: bool = True):
    """The pipeline: the rows (and targets) padded to each batch's longest row (``timesteps``
    None) or to ``timesteps``, inputs with the style's padding value: ``from_generator`` then
    ``padded_batch``, or a ``RaggedTensor`` sliced, ``ragged_batch``-ed and ``to_tensor()``-ed."""
    xs, ys = case.rows()
    x_dtype = tf.int32 if case.spec.style == "embedding" else tf.float32
    x_shape = (None,) if case.spec.style == "embedding" else (None, case.spec.features)
    pad_x = tf.constant(case.batch.padding_fill, x_dtype)
    y_width = case.targets.shape[-1]
    if case.source == "generator":
        def rows():
            for x, y in zip(xs, ys):
                yield (x, y) if with_targets else x

        x_sig = tf.TensorSpec(x_shape, x_dtype)
        signature = (x_sig, tf.TensorSpec((None, y_width), tf.float32)) if with_targets else x_sig
        data = tf.data.Dataset.from_generator(rows, output_signature=signature)
        padding = (pad_x, tf.constant(0.0)) if with_targets else pad_x
        shapes = None
        if timesteps is not None:
            x_fixed = (timesteps,) + x_shape[1:]
            shapes = (x_fixed, (timesteps, y_width)) if with_targets else x_fixed
        return data.padded_batch(case.batch_size, padded_shapes=shapes, padding_values=padding)
    # a RaggedTensor of the rows, batched ragged, then padded by RaggedTensor.to_tensor()
    x_to = None if timesteps is None else [None, timesteps] + list(x_shape[1:])
    y_to = None if timesteps is None else [None, timesteps, y_width]

    def pad_rows(x):
        return x.to_tensor(pad_x, shape=x_to)

    def pad_rows_and_targets(x, y):
        return pad_rows(x), y.to_tensor(0.0, shape=y_to)

    ragged_x = tf.ragged.constant([x.tolist() for x in xs], dtype=x_dtype, ragged_rank=1)
    ragged_y = tf.ragged.constant([y.tolist() for y in ys], dtype=tf.float32, ragged_rank=1)
    data = tf.data.Dataset.from_tensor_slices((ragged_x, ragged_y) if with_targets else ragged_x)
    return data.ragged_batch(case.batch_size).map(pad_rows_and_targets if with_targets else pad_rows)


def _compiled(case: PipelineCase):
    compiled = compiled_for(case.spec, "functional", LOSS, "graph", case.batch.timesteps)
    compiled.set_weights(case.seed)
    return compiled


def reference_loss(case: PipelineCase, predictions: np.ndarray) -> float:
    """The masked loss per pipeline batch, batch-size-weighted over batches."""
    batch_losses, sizes = [], []
    for rows in case.chunks():
        losses = ref.per_step_loss(LOSS, case.targets[rows], predictions[rows])
        batch_losses.append(ref.masked_batch_loss(losses, case.batch.mask[rows]))
        sizes.append(len(case.batch.mask[rows]))
    return ref.over_batches(batch_losses, sizes)


def check_pipeline_loss(case: PipelineCase) -> None:
    """``evaluate`` and ``fit`` (learning rate 0) over the pipeline padded to each batch's longest
    row, and ``evaluate`` over it padded to a fixed longer length, report the masked reference
    (failing, it writes a standalone script)."""
    with report.reproduced_by("pipeline", lambda: pipeline_reproducer(case)):
        _check_pipeline_loss(case)


def _check_pipeline_loss(case: PipelineCase) -> None:
    compiled = _compiled(case)
    expected = reference_loss(case, compiled.predict_eagerly(case.batch.values))
    tol = loss_tolerance(case.spec.depth, case.batch.timesteps + EXTRA_PADDING)
    longer = case.batch.timesteps + EXTRA_PADDING
    runs = {
        "evaluate, each batch padded to its longest row": lambda: compiled.model.evaluate(
            dataset(case, None), verbose=0, return_dict=True)["loss"],
        "fit, each batch padded to its longest row": lambda: compiled.model.fit(
            dataset(case, None), epochs=1, shuffle=False, verbose=0).history["loss"][-1],
        f"evaluate, every batch padded to {longer} steps": lambda: compiled.model.evaluate(
            dataset(case, longer), verbose=0, return_dict=True)["loss"],
    }
    for what, run in runs.items():
        assert_close(
            run(), expected, tol,
            f"'{LOSS}' {PIPELINE_LOSS}: {what} ({case.source} rows, batches of {case.batch_size}) vs "
            f"sum(mask*loss)/sum(mask) per batch, batch-size-weighted; model {case.spec}",
        )


def check_pipeline_predict(case: PipelineCase) -> None:
    """``predict`` over the pipeline padded to a fixed longer length gives, at every real step,
    what one eager call on the rows padded to the longest gives (failing, it writes a standalone
    script)."""
    with report.reproduced_by("pipeline", lambda: pipeline_reproducer(case)):
        _check_pipeline_predict(case)


def _check_pipeline_predict(case: PipelineCase) -> None:
    compiled = _compiled(case)
    longer = case.batch.extended(EXTRA_PADDING)
    predicted = compiled.model.predict(dataset(case, longer.timesteps, with_targets=False), verbose=0)
    eager = compiled.predict_eagerly(case.batch.values)
    rows = range(case.batch.batch_size)
    assert_same_real_outputs(
        case.spec, longer, [to_numpy(predicted)], rows, case.batch, [eager], rows,
        f"{PIPELINE_PREDICT} ({case.source} rows, batches of {case.batch_size}, padded to "
        f"{longer.timesteps} steps) vs one eager call",
    )
