"""Edge batches and shapes: a batch of zero rows, batches larger than 4, sequences of one step
and longer than the usual buckets, more than two features, and ``predict`` over several batches
of different padding; the checks the edge-shape properties make, and their budget."""

from __future__ import annotations

import dataclasses

from hypothesis import settings
from hypothesis import strategies as st

from strategies import PaddedBatch, StackSpec

from . import report
from .build import model_for
from .checks import assert_same_real_outputs
from .compare import assert_same_length, tolerance
from .forward_checks import check_extra_padding_ignored
from .keras_compat import tf
from .modes import runner_for
from .run import as_list, call_eagerly

EDGE_BATCH_SIZES = st.integers(5, 8)
EDGE_TIMESTEPS = st.sampled_from([1, 2, 12, 16])
EDGE_FEATURES = st.sampled_from([3, 5])

SHARE = 3
"""An edge-shape, extreme-content or mixed-precision-loss property runs one in ``SHARE`` of the
profile's examples: each example builds (and compiles) new models, and the usual shapes, contents
and dtypes are covered by every other property."""


def budget(share: int = SHARE):
    """Hypothesis settings running ``1/share`` of the loaded profile's examples (at least 2)."""
    return settings(max_examples=max(2, settings.default.max_examples // share))


@st.composite
def edge_shapes(draw, spec: StackSpec):
    """``spec`` with more features one time in two, and a batch for it with more than 4 rows one
    time in two and with 1, 2, 12 or 16 timesteps: at least one of the three is always at an edge
    the other properties never draw."""
    if draw(st.booleans(), label="more_features"):
        spec = dataclasses.replace(spec, features=draw(EDGE_FEATURES, label="features"))
    batch_size = draw(st.one_of(EDGE_BATCH_SIZES, st.integers(1, 4)), label="batch_size")
    batch = draw(spec.batches(batch_size=batch_size, timesteps=EDGE_TIMESTEPS), label="batch")
    return spec, batch


def check_more_padding_ignored(spec: StackSpec, api: str, batch: PaddedBatch) -> None:
    """Appending padded steps to ``batch`` changes no real output and no final output."""
    check_extra_padding_ignored(
        spec, api, batch, f"{batch.batch_size} rows of {batch.timesteps} steps, {spec.features} features: "
    )


def check_empty_batch(spec: StackSpec, api: str, batch: PaddedBatch) -> None:
    """The model called on a batch of zero rows raises nothing and returns, for every output,
    zero rows shaped like the rows it returns for ``batch`` (failing, it writes a script)."""
    empty = dataclasses.replace(batch, values=batch.values[:0], mask=batch.mask[:0])
    model = model_for(spec, api, batch.timesteps)
    what = f"a batch of zero rows of {batch.timesteps} steps; model {spec}"
    with report.reproduced_by("empty_batch", lambda: empty_batch_script(spec, api, batch)):
        try:
            outputs = call_eagerly(model, empty)
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0]
            raise AssertionError(f"{what}: Keras raised {type(error).__name__}: {first_line}") from error
        expected = call_eagerly(model, batch)
        assert_same_length(outputs, expected, f"{what}: outputs for zero rows and for {batch.batch_size}")
        for k, (got, full) in enumerate(zip(outputs, expected)):
            if got.shape != (0,) + full.shape[1:]:
                raise AssertionError(f"{what}: output {k} has shape {got.shape}, expected {(0,) + full.shape[1:]}")


_EMPTY_BATCH_SIDES = '''
def shapes(model, x, mask):
    out = model(x, training=False) if mask is None else model(x, mask=tensor(mask), training=False)
    return "; ".join(f"output {k}: {tuple(o.shape)}"
                     for k, o in enumerate(out if isinstance(out, (list, tuple)) else [out]))


def both_sides():
    """The shapes of every output on zero rows against the shapes for X with zero rows."""
    x, mask = RUN
    model = make_model(x.shape[1] if FIXED_TIMESTEPS else None)
    try:
        actual = shapes(model, x[:0], None if mask is None else mask[:0])
    except Exception as error:
        print(f"zero rows: raised {type(error).__name__}: {str(error).strip().splitlines()[0]}")
        actual = f"raised {type(error).__name__}"
    expected = shapes(model, x, mask).replace(f"({len(x)},", "(0,")
    return expected, actual
'''


def empty_batch_script(spec: StackSpec, api: str, batch: PaddedBatch) -> report.Reproducer:
    """The standalone script of :func:`check_empty_batch`."""
    title = f"A {api} model fails on a batch of zero rows: {spec}"
    expected = ("a batch of zero rows runs without an exception and gives, for every output, zero rows "
                "shaped like the rows it gives for a non-empty batch")
    run = report.run_of("make_model", spec, batch)
    body = "\n\n\n".join([
        "layers = keras.layers",
        report.model_source(spec, api),
        f"RUN = ({report.literal(run.values)},\n       {report.literal(run.mask)})  # (inputs, explicit mask or None)\n"
        f"FIXED_TIMESTEPS = {spec.needs_fixed_timesteps}",
        _EMPTY_BATCH_SIDES.strip(),
    ])
    source = report.script_source(title, expected, 0.0, body, "shapes are compared exactly")
    return report.Reproducer(title, expected, source)


def check_predict_in_batches(spec: StackSpec, api: str, batch: PaddedBatch, batch_size: int) -> None:
    """``predict(batch_size=...)`` over several batches, each padded differently (the last one
    shorter), gives each row what one eager call on all rows gives (failing, it writes a script)."""
    runner = runner_for(spec, api, "predict", batch.timesteps)
    with report.reproduced_by("predict_batches", lambda: predict_batches_script(spec, api, batch, batch_size)):
        predicted = as_list(runner.model.predict(batch.values, batch_size=batch_size, verbose=0))
        rows = range(batch.batch_size)
        assert_same_real_outputs(
            spec, batch, predicted, rows, batch, runner.eager(batch), rows,
            f"predict in batches of {batch_size} over {batch.batch_size} rows vs one eager call",
        )


def predict_batches_script(spec: StackSpec, api: str, batch: PaddedBatch, batch_size: int) -> report.Reproducer:
    """The standalone script of :func:`check_predict_in_batches`."""
    rows = range(batch.batch_size)
    eager = report.run_of("make_model", spec, batch)
    return report.script(
        f"predict() over several batches gives a {api} model other masked outputs than one eager call: {spec}",
        f"predict(batch_size={batch_size}) over {batch.batch_size} rows (run 0) gives, at every real timestep "
        "and in every final output, what one eager call on all rows gives (run 1)",
        {"make_model": (spec, api)}, [dataclasses.replace(eager, mode="predict_batches"), eager],
        report.row_comparisons(spec, batch, 0, rows, batch, 1, rows), tolerance(spec.depth, batch.timesteps),
        more_models=f"PREDICT_BATCH_SIZE = {batch_size}",
    )
