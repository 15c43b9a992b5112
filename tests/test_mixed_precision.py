"""Under mixed-precision policies, masked outputs agree with float32 within 16-bit rounding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask.build import model_for
from kmask.compare import assert_close
from kmask.run import call_eagerly
from kmask.training import policy_model_for, real_outputs
from strategies import LayerSpec, PaddedBatch, StackSpec

from ._draw import stacks_without_known_divergences

API = "functional"
POLICY_EPS = {"mixed_float16": 2.0**-10, "mixed_bfloat16": 2.0**-7}
"""Machine epsilon of each policy's compute dtype (float16: 9.8e-4, bfloat16: 7.8e-3)."""
MIXED_FACTOR = 2
CASES = [
    ("LSTM", "mixed_float16"),
    ("GRU", "mixed_bfloat16"),
    ("MultiHeadAttention", "mixed_float16"),
]


def mixed_tolerance(spec, policy: str) -> float:
    """Absolute and relative tolerance between a mixed-precision run and the float32 run.

    Mixed policies keep float32 variables and compute each layer in 16 bits, rounding its
    output to the compute dtype: about one epsilon of relative error per layer, which the
    bounded weights and saturating activations of these stacks do not amplify (recurrent
    errors are damped step to step). So the bound is ``2 * eps * depth``; the largest gap seen
    over 60 random stacks of both kinds (2026-11-29, Keras 3.15.1) was 0.7 eps."""
    return MIXED_FACTOR * POLICY_EPS[policy] * spec.depth


def check_mixed_agrees_with_float32(spec: StackSpec, policy: str, batch: PaddedBatch):
    mixed = call_eagerly(policy_model_for(spec, API, policy, batch.timesteps), batch)
    full = call_eagerly(model_for(spec, API, batch.timesteps), batch)
    real = real_outputs(spec, batch)
    tol = mixed_tolerance(spec, policy)
    for k, (low, ref) in enumerate(zip(mixed, full)):
        low = low.astype(np.float32)
        what = f"{policy} vs float32: output {k}, {batch.padding}-padded; model {spec}"
        if ref.ndim == 3:
            assert_close(low[real], ref[real], tol, what + ", real steps")
        else:
            assert_close(low, ref, tol, what + ", final output")


@pytest.mark.parametrize("focus, policy", CASES)
@given(data=st.data())
def test_mixed_precision_agrees_with_float32(focus, policy, data):
    """A model built under mixed_float16 or mixed_bfloat16 gives, at real positions and in
    final outputs, what the float32 model gives, within 16-bit rounding (explicit masks and
    Embedding masks; Masking under mixed precision is a recorded divergence)."""
    style = data.draw(st.sampled_from(["explicit", "embedding"]), label="style")
    spec = data.draw(
        stacks_without_known_divergences(focus, API, how=policy, style=style, max_context=1),
        label="spec",
    )
    batch = data.draw(spec.batches(min_length=1), label="batch")
    check_mixed_agrees_with_float32(spec, policy, batch)


def masking_rounds_in_compute_dtype_witness():
    """Real steps whose features lie within half a float16 ulp of the mask value are masked
    under mixed_float16."""
    lstm = LayerSpec.make("LSTM", units=3, return_sequences=False)
    spec = StackSpec("masking", (lstm,), mask_value=1.0)
    values = np.array([[[2.0, -1.0], [1.0001, 1.0], [0.5, 0.25]]], np.float32)
    batch = PaddedBatch("masking", values, np.ones((1, 3), bool), 1.0)
    check_mixed_agrees_with_float32(spec, "mixed_float16", batch)


def rnn_bfloat16_witness():
    """A GRU builds and agrees with float32 under mixed_bfloat16."""
    spec = StackSpec("embedding", (LayerSpec.make("GRU", units=3, return_sequences=False),))
    batch = PaddedBatch("embedding", np.array([[3, 5, 0]], np.int32), np.array([[True, True, False]]))
    try:
        check_mixed_agrees_with_float32(spec, "mixed_bfloat16", batch)
    except TypeError as error:
        raise AssertionError(f"building {spec} under mixed_bfloat16 failed: {error}") from error
