"""Padding never reaches a gradient: not the inputs' at padded steps, not any weight's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask import report
from kmask.compare import assert_close, assert_same_length
from kmask.draw import stacks_without_known_divergences
from kmask.forward_checks import EXTRA_PADDING
from kmask.reproducers_training import input_gradient_reproducer, weight_gradients_reproducer
from kmask.training import gradient_runner
from kmask.training_checks import gradient_tolerance, min_length

API = "functional"
FOCUS = ["LSTM", "Bidirectional", "MultiHeadAttention", "GlobalAveragePooling1D"]
def training_specs(focus: str, style: str | None = "explicit") -> st.SearchStrategy:
    """Stacks around ``focus`` with at most one context layer (training examples build and trace
    a new model each; small stacks keep that cheap)."""
    return stacks_without_known_divergences(focus, API, style=style, max_context=1)


def assert_same_gradients(spec, timesteps, grads_a, grads_b, what: str) -> None:
    tol = gradient_tolerance(spec, timesteps, grads_b)
    assert_same_length(grads_a, grads_b, f"{what}: gradients; model {spec}")
    for k, (a, b) in enumerate(zip(grads_a, grads_b)):
        assert_close(a, b, tol, f"{what}: gradient of weight {k} {b.shape}; model {spec}")


def check_input_gradient_zero_at_padding(spec, batch):
    with report.reproduced_by("input_gradient", lambda: input_gradient_reproducer(spec, batch)):
        _check_input_gradient_zero_at_padding(spec, batch)


def _check_input_gradient_zero_at_padding(spec, batch):
    inputs, _, _ = gradient_runner(spec, API, batch.timesteps).gradients(batch)
    padded = inputs[~batch.mask]
    if np.any(padded != 0):
        row, step = (int(i) for i in np.argwhere(np.any(inputs != 0, axis=-1) & ~batch.mask)[0])
        raise AssertionError(
            f"gradient of the masked loss reaches padded inputs: {int(np.sum(padded != 0))} "
            f"nonzero values, first at row {row}, step {step} ({batch.padding}-padded): "
            f"{inputs[row, step]!r}; model {spec}"
        )


@pytest.mark.parametrize("focus", FOCUS)
@given(data=st.data())
def test_input_gradient_is_zero_at_padded_steps(focus, data):
    """With an explicit mask, the gradient of a loss over real outputs with respect to the
    inputs is exactly zero at every padded timestep."""
    spec = data.draw(training_specs(focus), label="spec")
    batch = data.draw(spec.batches(min_length=min_length(spec)), label="batch")
    check_input_gradient_zero_at_padding(spec, batch)


def check_weight_gradients_ignore_padding(spec, batch, content):
    n = batch.batch_size
    other = batch.with_padding_content(content)
    longer = batch.extended(EXTRA_PADDING)
    both = batch.stacked(other)  # one call for both versions
    _, original, other_content = gradient_runner(spec, API, batch.timesteps).gradients(both, n)
    runs = [("padded batch", batch), ("other padding content", other),
            (f"{EXTRA_PADDING} more padded steps", longer)]
    tol = gradient_tolerance(spec, longer.timesteps, original)  # the larger of the two checks'
    with report.reproduced_by("weight_gradients", lambda: weight_gradients_reproducer(spec, runs, tol)):
        assert_same_gradients(spec, batch.timesteps, other_content, original, "other padding content")
        _, extended, _ = gradient_runner(spec, API, longer.timesteps).gradients(longer)
        assert_same_gradients(
            spec, longer.timesteps, extended, original, f"{EXTRA_PADDING} more padded steps"
        )


@pytest.mark.parametrize("focus", FOCUS)
@given(data=st.data())
def test_weight_gradients_ignore_padding(focus, data):
    """The gradient of a loss over real outputs with respect to every weight is the same
    whatever the padded timesteps hold and however many there are."""
    spec = data.draw(training_specs(focus), label="spec")
    batch = data.draw(spec.batches(min_length=min_length(spec)), label="batch")
    content = data.draw(
        hnp.arrays(np.float32, batch.values.shape, elements=st.floats(-10, 10, width=32)),
        label="new_padding_content",
    )
    check_weight_gradients_ignore_padding(spec, batch, content)
