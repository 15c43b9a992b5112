"""In training mode (dropout on), outputs at real positions still do not depend on padding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask.checks import assert_same_real_outputs
from kmask.keras_compat import GENERATION
from kmask.training import training_mode_runner
from strategies import RECURRENT, LayerSpec, StackSpec

from ._draw import stacks_without_known_divergences

API = "functional"
FOCUS = ["Dropout", "LSTM", "Bidirectional"]
DROPOUT_SEED = 11
RNN_DROPOUT = 0.25
EXTRA_PADDING = 3


def noisy_layer(layer: LayerSpec, sequence: bool) -> LayerSpec:
    """``layer`` with seeded dropout: ``Dropout`` on a sequence draws one noise value per row
    and feature (``noise_shape=(batch, 1, features)``), so its noise does not depend on the
    sequence length; RNNs get input and recurrent dropout (masks of shape (batch, units)).
    Keras 3 RNNs take ``seed=``; Keras 2 RNNs take none and draw their seed once, at build."""
    options = dict(layer.options)
    if layer.kind == "Dropout":
        options["seed"] = DROPOUT_SEED
        if sequence:
            options["noise_shape"] = (None, 1, None)
    elif layer.kind in RECURRENT:
        options.update(dropout=RNN_DROPOUT, recurrent_dropout=RNN_DROPOUT)
        if GENERATION == 3:
            options["seed"] = DROPOUT_SEED
    elif layer.kind == "Bidirectional":
        options["layer"] = noisy_layer(layer.option("layer"), sequence)
    return LayerSpec.make(layer.kind, **options)


def with_seeded_dropout(spec: StackSpec) -> StackSpec:
    """``spec`` with every Dropout and RNN layer made noisy by :func:`noisy_layer`."""
    layers, sequence = [], True
    for layer in spec.layers:
        layers.append(noisy_layer(layer, sequence))
        sequence = sequence and layer.returns_sequence
    return dataclasses.replace(spec, layers=tuple(layers))


def check_training_outputs_ignore_padding(spec, batch, content):
    runner = training_mode_runner(spec, API, batch.timesteps)
    first, again = runner(batch), runner(batch)
    rows = range(batch.batch_size)
    for k, (a, b) in enumerate(zip(first, again)):
        if not np.array_equal(a, b, equal_nan=True):
            raise AssertionError(
                f"training-mode output {k} is not repeatable with restored random state; "
                f"model {spec}"
            )
    others = {f"{EXTRA_PADDING} more padded steps": batch.extended(EXTRA_PADDING)}
    if content is not None:
        others["other padding content"] = batch.with_padding_content(content)
    for what, other in others.items():
        outputs = training_mode_runner(spec, API, other.timesteps)(other)
        assert_same_real_outputs(
            spec, batch, first, rows, other, outputs, rows, f"training mode, {what}"
        )


@pytest.mark.parametrize("focus", FOCUS)
@given(data=st.data())
def test_training_outputs_ignore_padding(focus, data):
    """With training=True, seeded Dropout (noise constant over time) and RNN dropout give the
    same outputs at real positions whatever the padded timesteps hold and however many."""
    base = data.draw(
        stacks_without_known_divergences(focus, API, max_context=1), label="base_spec"
    )
    spec = with_seeded_dropout(base)
    batch = data.draw(spec.batches(), label="batch")
    content = None
    if batch.style == "explicit":
        content = data.draw(
            hnp.arrays(np.float32, batch.values.shape, elements=st.floats(-10, 10, width=32)),
            label="new_padding_content",
        )
    check_training_outputs_ignore_padding(spec, batch, content)
