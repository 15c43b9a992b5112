"""What the training properties and their divergence witnesses share: the tolerance of a
gradient, the shortest row a gradient property draws, and the mixed-precision comparison."""

from __future__ import annotations

import dataclasses

import numpy as np

from strategies import PaddedBatch, StackSpec

from . import report
from .build import model_for, policy_model_for
from .compare import MIXED_FACTOR, assert_close, assert_same_length, mixed_tolerance, tolerance
from .run import call_eagerly
from .oracle import real_outputs

MIXED_API = "functional"


def min_length(spec) -> int:
    """1 where a stack pools over time: Keras 3 averages a fully padded row to NaN, whose
    gradient is NaN everywhere; 0 (fully padded rows allowed) otherwise."""
    return int(any(layer.kind == "GlobalAveragePooling1D" for layer in spec.layers))


def gradient_tolerance(spec, timesteps: int, grads) -> float:
    """float32 tolerance for a gradient: the backward pass is a second chain as deep as the
    forward one (so twice the depth), and a gradient is a sum whose rounding error scales with
    its largest terms, so the tolerance scales with the largest entry of the gradient."""
    scale = max([1.0] + [float(np.nanmax(np.abs(g))) for g in grads if g.size])
    return tolerance(2 * spec.depth, timesteps) * scale


def check_mixed_agrees_with_float32(spec: StackSpec, policy: str, batch: PaddedBatch) -> None:
    """The model built under ``policy`` gives, at real positions and in final outputs, what the
    float32 model gives, within :func:`mixed_tolerance` (failing, it writes a standalone script)."""
    with report.reproduced_by("mixed_precision", lambda: mixed_script(spec, policy, batch)):
        _check_mixed_agrees_with_float32(spec, policy, batch)


MIXED_MODEL = '''
def make_mixed_model(timesteps=None):
    """make_model built under the dtype policy POLICY (float32 variables, 16-bit compute)."""
    keras.mixed_precision.set_global_policy(POLICY)
    try:
        return make_model(timesteps)
    finally:
        keras.mixed_precision.set_global_policy("float32")
'''


def mixed_script(spec: StackSpec, policy: str, batch: PaddedBatch) -> report.Reproducer:
    """The standalone script of :func:`check_mixed_agrees_with_float32` on ``batch``."""
    rows = range(batch.batch_size)
    full = report.run_of("make_model", spec, batch)
    return report.script(
        f"Under {policy} a model's masked outputs differ from float32 beyond 16-bit rounding: {spec}",
        f"the model built under {policy} (run 0) gives, at every real timestep and in every final output, "
        "what the float32 model gives (run 1) within 16-bit rounding",
        {"make_model": (spec, MIXED_API)}, [dataclasses.replace(full, model="make_mixed_model"), full],
        report.row_comparisons(spec, batch, 0, rows, batch, 1, rows), mixed_tolerance(spec, policy),
        more_models=f"POLICY = {policy!r}\n\n\n" + MIXED_MODEL.strip(),
        tol_note=f"{MIXED_FACTOR} x epsilon of the 16-bit type x depth (kmask/training_checks.py)",
    )


def _check_mixed_agrees_with_float32(spec: StackSpec, policy: str, batch: PaddedBatch) -> None:
    mixed = call_eagerly(policy_model_for(spec, MIXED_API, policy, batch.timesteps), batch)
    full = call_eagerly(model_for(spec, MIXED_API, batch.timesteps), batch)
    real = real_outputs(spec, batch)
    tol = mixed_tolerance(spec, policy)
    assert_same_length(mixed, full, f"{policy} vs float32 outputs of {spec}")
    for k, (low, ref) in enumerate(zip(mixed, full)):
        low = low.astype(np.float32)
        what = f"{policy} vs float32: output {k}, {batch.padding}-padded; model {spec}"
        if ref.ndim == 3:
            assert_close(low[real], ref[real], tol, what + ", real steps")
        else:
            assert_close(low, ref, tol, what + ", final output")
