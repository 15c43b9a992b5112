"""Training on a padded batch gives the same model whatever the padding: one optimizer step and
a few epochs of ``fit``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask import report
from kmask.compare import assert_close, assert_same_length, tolerance
from kmask.draw import stacks_without_known_divergences
from kmask.forward_checks import EXTRA_PADDING
from kmask.reproducers_training import fit_reproducer, step_reproducer
from kmask.training import (
    ADAM_EPSILON,
    ADAM_LEARNING_RATE,
    FIT_EPOCHS,
    SGD_LEARNING_RATE,
    fit_runner,
    gradient_runner,
)
from kmask.training_checks import gradient_tolerance, min_length
from strategies import PaddedBatch

STEP_SENSITIVITY = {"SGD": SGD_LEARNING_RATE, "Adam": ADAM_LEARNING_RATE / ADAM_EPSILON}
"""How far a weight moves per unit of gradient change in one step (see kmask/training.py)."""
STEP_CASES = [("LSTM", "SGD"), ("MultiHeadAttention", "Adam")]
FIT_FOCUS = ["GRU"]


def as_pre_padded(batch: PaddedBatch) -> PaddedBatch:
    """A post-padded batch with each row's padding moved in front of its real steps."""
    shifts = batch.timesteps - batch.lengths

    def roll(array):
        return np.stack([np.roll(row, shift, axis=0) for row, shift in zip(array, shifts)])

    return dataclasses.replace(
        batch, values=roll(batch.values), mask=roll(batch.mask), padding="pre"
    )


def variants(batch: PaddedBatch, content=None) -> dict[str, PaddedBatch]:
    """The batch with other padding content (explicit style), more padding, and pre-padding.

    Every catalog layer allows moving the padding in front: none reads absolute positions, an
    RNN holds its initial state through leading padding as it holds its last state through
    trailing padding, and a causal attention query sees the same real keys (those before it)."""
    found = {f"{EXTRA_PADDING} more padded steps": batch.extended(EXTRA_PADDING)}
    found["pre- instead of post-padding"] = as_pre_padded(batch)
    if content is not None:
        found["other padding content"] = batch.with_padding_content(content)
    return found


def assert_same_weights(spec, actual, expected, tol, what):
    assert_same_length(actual, expected, f"{what}: weights; model {spec}")
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, tol, f"{what}: weight {k} {e.shape}; model {spec}")


def check_step_ignores_padding(spec, batch, content, optimizer):
    runner = gradient_runner(spec, "functional", batch.timesteps)
    _, grads, _ = runner.gradients(batch)
    timesteps = batch.timesteps + EXTRA_PADDING
    tol = STEP_SENSITIVITY[optimizer] * gradient_tolerance(spec, timesteps, grads)
    expected = runner.step(batch, optimizer)
    others = variants(batch, content)
    runs = [("padded batch", batch), *others.items()]
    with report.reproduced_by("optimizer_step", lambda: step_reproducer(spec, runs, optimizer, tol)):
        for what, other in others.items():
            actual = gradient_runner(spec, "functional", other.timesteps).step(other, optimizer)
            assert_same_weights(
                spec, actual, expected, tol, f"weights after one {optimizer} step, padded batch vs {what}"
            )


@pytest.mark.parametrize("focus, optimizer", STEP_CASES)
@given(data=st.data())
def test_optimizer_step_ignores_padding(focus, optimizer, data):
    """One SGD or Adam step on a masked loss leaves the same weights whatever the padded
    timesteps hold, however many there are, and whether they come before or after the data."""
    spec = data.draw(
        stacks_without_known_divergences(focus, "functional", style="explicit", max_context=1),
        label="spec",
    )
    batch = data.draw(
        spec.batches(paddings=("post",), scattered=False, min_length=min_length(spec)),
        label="batch",
    )
    content = data.draw(
        hnp.arrays(np.float32, batch.values.shape, elements=st.floats(-10, 10, width=32)),
        label="new_padding_content",
    )
    check_step_ignores_padding(spec, batch, content, optimizer)


def fit_specs(focus: str) -> st.SearchStrategy:
    """Sequential stacks (one output, no explicit mask: what ``fit`` takes) without Dropout,
    whose training-mode noise is the subject of test_training_mode, and without time-reversing
    layers: Keras does not reverse the mask along with their outputs, so ``fit`` would mask the
    loss at the wrong steps (see README, "real position")."""
    specs = st.sampled_from(["masking", "embedding"]).flatmap(
        lambda style: stacks_without_known_divergences(
            focus, "sequential", style=style, max_context=1
        )
    )
    return specs.filter(
        lambda spec: not any(
            layer.reverses_time or layer.kind == "Dropout" for layer in spec.layers
        )
    )


def check_fit_ignores_padding(spec, batch):
    runner = fit_runner(spec, "sequential", batch.timesteps)
    expected = runner.fit(batch)
    moved = max(float(np.max(np.abs(e - w))) for e, w in zip(expected, runner.initial))
    # each weight moves by at most `moved`; reordered sums perturb that move relatively
    tol = tolerance(2 * spec.depth, batch.timesteps + EXTRA_PADDING) * max(
        1.0, moved / (SGD_LEARNING_RATE * FIT_EPOCHS)
    )
    others = variants(batch)
    runs = [("padded batch", batch), *others.items()]
    with report.reproduced_by("fit", lambda: fit_reproducer(spec, runs, tol)):
        for what, other in others.items():
            actual = fit_runner(spec, "sequential", other.timesteps).fit(other)
            assert_same_weights(spec, actual, expected, tol, f"weights after fit, padded batch vs {what}")


@pytest.mark.parametrize("focus", FIT_FOCUS)
@given(data=st.data())
def test_fit_ignores_padding(focus, data):
    """A few unshuffled epochs of ``fit`` with a loss Keras masks itself leave the same weights
    whatever the amount of padding and whether it comes before or after the data."""
    spec = data.draw(fit_specs(focus), label="spec")
    batch = data.draw(spec.batches(paddings=("post",), min_length=1), label="batch")
    check_fit_ignores_padding(spec, batch)
