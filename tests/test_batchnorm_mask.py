"""BatchNormalization in training mode computes its statistics over real timesteps only."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import report
from kmask.compare import FLOAT32_EPS, WORK_FACTOR, assert_close
from kmask.keras_compat import KERAS_VERSION, layers, to_numpy
from kmask.reproducers_training import batchnorm_reproducer
from kmask.training import training_mode_runner
from strategies import LayerSpec, StackSpec, mask_values

TAKES_MASK = "mask" in inspect.signature(layers.BatchNormalization.call).parameters
"""Keras 3 and Keras 2.15 BatchNormalization.call take ``mask`` (Keras 2.15 honours it on
its non-fused path, which every input of rank 3 takes; its fused path, for rank-4 inputs only,
warns and ignores the mask)."""


@st.composite
def batchnorm_specs(draw) -> StackSpec:
    """``[Masking ->] BatchNormalization(momentum)`` on 2 features, the mask made by Masking or
    passed explicitly."""
    style = draw(st.sampled_from(["explicit", "masking"]), label="style")
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    momentum = draw(st.sampled_from([0.5, 0.9]), label="momentum")
    layer = LayerSpec.make("BatchNormalization", momentum=momentum)
    return StackSpec(style=style, layers=(layer,), mask_value=mask_value)


def expected_batchnorm(layer, values, mask, initial):
    """NumPy oracle: mean and (biased) variance over the real steps, the normalized outputs at
    real steps, and the moving statistics after one momentum update."""
    gamma, beta, moving_mean, moving_variance = initial
    real = values[mask].astype(np.float64)
    mean, variance = real.mean(axis=0), real.var(axis=0)
    outputs = gamma * (real - mean) / np.sqrt(variance + layer.epsilon) + beta
    momentum = layer.momentum
    return dict(
        outputs=outputs,
        moving_mean=momentum * moving_mean + (1 - momentum) * mean,
        moving_variance=momentum * moving_variance + (1 - momentum) * variance,
        scale=np.max(np.abs(gamma) / np.sqrt(variance + layer.epsilon)),
    )


def check_batchnorm_statistics(spec, batch):
    runner = training_mode_runner(spec, "functional", batch.timesteps)
    runner.restore()  # the cached model may have trained on an earlier example
    layer = next(l for l in runner.model.layers if isinstance(l, layers.BatchNormalization))
    initial = [to_numpy(v).astype(np.float64) for v in
               (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)]
    values = batch.values
    if spec.style == "masking":  # Masking zeroes the padded steps it passes on
        values = np.where(batch.mask[..., None], values, np.float32(0))
    expected = expected_batchnorm(layer, values, batch.mask, initial)
    (outputs,) = runner(batch)
    n = int(batch.mask.sum())
    # a mean of n float32 terms is off by about n * eps relative to its largest term; the
    # variance is a second such sum, of squared deviations (hence 4x), and the outputs divide by
    # the standard deviation, which scales errors by |gamma| / sqrt(variance + epsilon)
    tol = WORK_FACTOR * FLOAT32_EPS * (n + 6) * max(1.0, float(np.max(np.abs(values[batch.mask]))))
    what = f"BatchNormalization(momentum={layer.momentum}) in training mode, {batch.padding}-padded"
    loosest = 4 * tol * max(1.0, expected["scale"])
    with report.reproduced_by("batchnorm", lambda: batchnorm_reproducer(spec, batch, loosest)):
        assert_close(layer.moving_mean, expected["moving_mean"], tol, f"{what}: moving mean")
        assert_close(
            layer.moving_variance, expected["moving_variance"], 4 * tol, f"{what}: moving variance"
        )
        assert_close(outputs[batch.mask], expected["outputs"], loosest, f"{what}: outputs at real steps")


@given(data=st.data())
def test_batchnorm_statistics_ignore_padded_steps(data):
    """In training mode, a masked BatchNormalization normalizes with the mean and variance of
    the real timesteps only, and moves its moving mean and variance towards those by momentum."""
    if not TAKES_MASK:
        pytest.skip(f"BatchNormalization.call takes no mask in Keras {KERAS_VERSION}")
    spec = data.draw(batchnorm_specs(), label="spec")
    batch = data.draw(spec.batches().filter(lambda b: b.mask.any()), label="batch")
    check_batchnorm_statistics(spec, batch)
