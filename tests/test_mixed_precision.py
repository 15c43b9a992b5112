"""Under mixed-precision policies, masked outputs agree with float32 within 16-bit rounding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask.draw import stacks_without_known_divergences
from kmask.training_checks import MIXED_API, check_mixed_agrees_with_float32

CASES = [
    ("LSTM", "mixed_float16"),
    ("GRU", "mixed_bfloat16"),
    ("MultiHeadAttention", "mixed_float16"),
]


@pytest.mark.parametrize("focus, policy", CASES)
@given(data=st.data())
def test_mixed_precision_agrees_with_float32(focus, policy, data):
    """A model built under mixed_float16 or mixed_bfloat16 gives, at real positions and in
    final outputs, what the float32 model gives, within 16-bit rounding (explicit masks and
    Embedding masks; Masking under mixed precision is a recorded divergence)."""
    style = data.draw(st.sampled_from(["explicit", "embedding"]), label="style")
    spec = data.draw(
        stacks_without_known_divergences(focus, MIXED_API, how=policy, style=style, max_context=1),
        label="spec",
    )
    batch = data.draw(spec.batches(min_length=1), label="batch")
    check_mixed_agrees_with_float32(spec, policy, batch)
