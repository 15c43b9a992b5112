"""Tolerances for float32 comparisons, and assertions whose message says what differed."""

from __future__ import annotations

import numpy as np

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 1.19e-7
WORK_FACTOR = 8


def tolerance(depth: int, timesteps: int, width: int = 6) -> float:
    """Absolute and relative tolerance for two float32 runs of the same model.

    The runs differ only in how additions are grouped (batch size, sequence
    length, graph or XLA fusion). Reordering a sum of n float32 terms moves it by
    about n * eps relative; each of ``depth`` layers sums over ``width`` inputs at
    each of ``timesteps`` chained steps, so the bound grows with
    ``depth * (timesteps + width)``, times a safety factor of 8. For the models
    drawn here (depth <= 5; at most 9 timesteps, plus 3 appended padded steps) that
    is at most 8 * eps * 5 * 18 = 8.6e-5 (``selfchecks/test_references.py`` checks
    the bound), while the faults the self-checks inject move outputs by 1e-2 or more.
    """
    return WORK_FACTOR * FLOAT32_EPS * depth * (timesteps + width)


def loss_tolerance(depth: int, timesteps: int) -> float:
    """Tolerance for a loss or metric computed from a model's outputs.

    The outputs carry :func:`tolerance` of relative error (one more layer for the head);
    a squared error or a log of a probability at most doubles a relative error, and the
    float32 sum over at most 4 x 9 x 3 terms adds about 108 eps, far below that.
    """
    return 2 * tolerance(depth + 1, timesteps)


POLICY_EPS = {"mixed_float16": 2.0**-10, "mixed_bfloat16": 2.0**-7}
"""Machine epsilon of each policy's compute dtype (float16: 9.8e-4, bfloat16: 7.8e-3)."""
MIXED_FACTOR = 2


def mixed_tolerance(spec, policy: str) -> float:
    """Absolute and relative tolerance between a mixed-precision run and the float32 run.

    Mixed policies keep float32 variables and compute each layer in 16 bits, rounding its
    output to the compute dtype: about one epsilon of relative error per layer, which the
    bounded weights and saturating activations of these stacks do not amplify (recurrent
    errors are damped step to step). So the bound is ``2 * eps * depth``; the largest gap seen
    over 60 random stacks of both kinds (2026-11-29, Keras 3.15.1) was 0.7 eps."""
    return MIXED_FACTOR * POLICY_EPS[policy] * spec.depth


def policy_loss_tolerance(spec, timesteps: int, policy: str) -> float:
    """Tolerance for a loss computed, under dtype ``policy``, by a compiled step and from the
    same model's eager predictions.

    Under float32 this is :func:`loss_tolerance`. Under a mixed policy the compiled forward pass
    (a graph, or XLA, which may fuse and keep intermediates in float32) and the eager one may
    round each 16-bit layer differently: each is within :func:`mixed_tolerance` of the float32
    outputs, so they are within twice that of each other, and the loss (a squared error or a log
    of a probability) at most doubles a relative error: 4 x :func:`mixed_tolerance` on top."""
    tol = loss_tolerance(spec.depth, timesteps)
    return tol if policy == "float32" else tol + 4 * mixed_tolerance(spec, policy)


def assert_same_length(a, b, what: str) -> None:
    """Fail with ``what`` and both lengths unless ``a`` and ``b`` have as many items, so that
    a ``zip`` over them cannot skip a dropped output or mask."""
    if len(a) != len(b):
        raise AssertionError(f"{what}: {len(a)} != {len(b)} items (one side dropped or gained an item)")


def assert_close(actual, expected, tol: float, what: str) -> None:
    """Fail with ``what``, the first mismatch and the tolerance unless arrays agree within ``tol``.

    NaN equals NaN here: the properties compare two runs, and a NaN in both is no
    difference between them (whether NaN is acceptable is a separate question).
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    bad = ~np.isclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} values differ beyond tol={tol:.2g}; "
            f"first at index {where}: got {actual[where]!r}, expected {expected[where]!r}\n"
            f"got:\n{np.array2string(actual, precision=5)}\nexpected:\n{np.array2string(expected, precision=5)}"
        )
