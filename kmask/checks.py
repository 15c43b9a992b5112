"""The comparisons the forward properties make, shared by tests and self-checks."""

from __future__ import annotations

import numpy as np

from strategies import PaddedBatch, StackSpec

from .compare import assert_close, assert_same_length, tolerance
from .oracle import alone_positions
from .run import call_eagerly


def real_steps_in_order(positions_row: np.ndarray) -> np.ndarray:
    """Indices of a row's real output steps, ordered by their position in the row-alone run."""
    real = np.flatnonzero(positions_row >= 0)
    return real[np.argsort(positions_row[real])]


def assert_same_real_outputs(
    spec: StackSpec,
    batch_a: PaddedBatch,
    outputs_a: list[np.ndarray],
    rows_a,
    batch_b: PaddedBatch,
    outputs_b: list[np.ndarray],
    rows_b,
    what: str,
) -> None:
    """Row ``rows_a[k]`` of run a equals row ``rows_b[k]`` of run b at every real step of
    every sequence output, and in every final (non-sequence) output; both runs return the
    same number of outputs, and as many rows are compared on each side."""
    assert_same_length(outputs_a, outputs_b, f"{what}: outputs of run a and run b; model {spec}")
    assert_same_length(rows_a, rows_b, f"{what}: rows compared of run a and run b")
    pos_a, pos_b = alone_positions(spec, batch_a), alone_positions(spec, batch_b)
    tol = tolerance(spec.depth, max(batch_a.timesteps, batch_b.timesteps))
    for k, (out_a, out_b) in enumerate(zip(outputs_a, outputs_b)):
        for i, j in zip(rows_a, rows_b):
            where = (
                f"{what}: output {k}, row {i} ({int(batch_a.lengths[i])} real of "
                f"{batch_a.timesteps} steps, {batch_a.padding}-padded); model {spec}"
            )
            if out_a.ndim == 3:
                for out, batch, run in ((out_a, batch_a, "a"), (out_b, batch_b, "b")):
                    if out.shape[1] != batch.timesteps:
                        raise AssertionError(
                            f"{where}: run {run} output has {out.shape[1]} timesteps for an input "
                            f"of {batch.timesteps}"
                        )
                steps_a, steps_b = real_steps_in_order(pos_a[i]), real_steps_in_order(pos_b[j])
                assert_close(out_a[i, steps_a], out_b[j, steps_b], tol, where + ", real steps")
            else:
                assert_close(out_a[i], out_b[j], tol, where + ", final output")


def assert_eager_runs_agree(spec: StackSpec, model_a, batch_a, model_b, batch_b, what: str) -> None:
    """``model_a`` on ``batch_a`` and ``model_b`` on ``batch_b``, called eagerly, agree row by
    row at every real step and in every final output."""
    rows = range(batch_a.batch_size)
    assert_same_real_outputs(
        spec, batch_a, call_eagerly(model_a, batch_a), rows,
        batch_b, call_eagerly(model_b, batch_b), rows, what,
    )
