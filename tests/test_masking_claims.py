"""The claims users rely on about mask propagation, each tested as written.

* Masking guide: in Functional and Sequential models a mask made by ``Embedding`` or
  ``Masking`` is propagated to every layer able to use it (an RNN, pooling).
* Masking guide and seed notebook: "inside a subclassed layer or model, masks aren't
  automatically propagated" (you must pass ``mask=`` by hand). Keras in fact passes them:
  the property checks what Keras does, and the divergence
  ``claim-subclassed-masks-not-propagated`` replays the claim.
* ``Masking`` docstring: "if any downstream layer does not support masking yet receives such
  an input mask, an exception will be raised". No exception comes: the layer drops the mask
  (Keras 3 warns); the property checks that, and ``claim-unsupported-layer-raises`` replays
  the claim.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask.build import model_for
from kmask.checks import assert_same_real_outputs
from kmask.compare import assert_close, tolerance
from kmask.graph_build import attached_mask, chain_layers, chain_model, stack_layer
from kmask.keras_compat import keras, layers, tf
from kmask.run import call_eagerly, call_rows_alone
from strategies import StackSpec, mask_values
from strategies.graphs import (
    GRAPH_STYLES,
    PROPAGATING,
    GraphSpec,
    Node,
    consumer_stacks,
    graph_inputs,
    single_input_layers,
)

from ._draw import without_known_divergences
from .test_padding_invisible import unpadded

CONSUMER_APIS = ("functional", "sequential", "subclassed", "subclassed_layer")
"""``subclassed`` is a subclassed model relying on Keras to pass the mask (kmask.build.StackModel
with a mask-making input layer); ``subclassed_layer`` a subclassed layer doing the same."""


def consumer_model(spec: StackSpec, api: str, timesteps: int | None):
    if api == "subclassed_layer":
        return stack_layer(spec, timesteps)
    return model_for(spec, api, timesteps)


def check_consumer_sees_mask(spec: StackSpec, api: str, batch) -> None:
    outputs = call_eagerly(consumer_model(spec, api, batch.timesteps), batch)
    alone = call_rows_alone(lambda n: consumer_model(spec, api, n), batch)
    for i, row_outputs in alone.items():
        assert_same_real_outputs(
            spec, batch, outputs, [i], unpadded(batch, i), row_outputs, [0],
            f"{api}: padded batch vs the row run alone",
        )


@pytest.mark.parametrize("api", CONSUMER_APIS)
@given(data=st.data())
def test_consumer_after_propagating_layers_ignores_padding(api, data):
    """An RNN or pooling layer after any chain of mask-keeping layers gives, on a padded batch,
    what it gives on each sample alone: the mask reached it without ``mask=`` being passed."""
    spec = data.draw(without_known_divergences(consumer_stacks(), api), label="spec")
    check_consumer_sees_mask(spec, api, data.draw(spec.batches(), label="batch"))


UNSUPPORTED = ("Conv1D", "Flatten", "Reshape", "GlobalMaxPooling1D")
"""Layers that do not support masking, on both generations."""


def check_unsupported_drops_mask(spec: GraphSpec, batch) -> None:
    """``spec`` is a chain ending in a layer without mask support."""
    what = f"Functional model {spec}"
    try:
        model = chain_model(spec, "functional", batch.timesteps)
        output = model(batch.values, training=False)
    except Exception as error:  # the claim says this happens; it must not
        raise AssertionError(f"{what}: raised {error!r}") from error
    *before, layer = chain_layers(model)
    if attached_mask(model.outputs[0]) is not None or attached_mask(output) is not None:
        raise AssertionError(f"{what}: a layer without mask support passed a mask on")
    x = batch.values
    for earlier in before:
        x = earlier(x, training=False)
    unmasked = layer(tf.constant(np.asarray(x)))  # a fresh tensor carries no mask
    assert_close(np.asarray(output), np.asarray(unmasked), tolerance(spec.depth, batch.timesteps),
                 f"{what}: output vs the last layer run on the same values without a mask")


@st.composite
def unsupported_chains(draw) -> GraphSpec:
    """Input layer, maybe a mask-keeping layer, then one layer without mask support."""
    kinds = draw(st.lists(st.sampled_from(PROPAGATING), max_size=1), label="before")
    kinds.append(draw(st.sampled_from(UNSUPPORTED), label="unsupported"))
    layers = [draw(single_input_layers(kind)) for kind in kinds]
    nodes = tuple(Node(layer, (0 if i == 0 else i + 1,)) for i, layer in enumerate(layers))
    style = draw(st.sampled_from(GRAPH_STYLES), label="style")
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return GraphSpec(style, nodes, mask_value=mask_value)


@given(data=st.data())
def test_unsupported_layer_drops_mask_silently(data):
    """A layer without mask support that receives a mask raises nothing, attaches no mask, and
    computes what it computes on the same values without a mask."""
    spec = data.draw(unsupported_chains(), label="spec")
    check_unsupported_drops_mask(spec, data.draw(graph_inputs(spec), label="inputs")[0])


# --------------------------------------------------------------------------- the claims as written


class _EmbedThenGRU(keras.layers.Layer):
    """The seed notebook's situation: a subclassed layer chaining layers without ``mask=``."""

    def __init__(self):
        super().__init__()
        self.embed = layers.Embedding(5, 2, mask_zero=True)
        self.gru = layers.GRU(2)

    def call(self, tokens):
        return self.gru(self.embed(tokens))


def subclassed_masks_not_propagated_witness():
    """Claim: inside a subclassed layer the GRU does not get the Embedding's mask, so it runs
    over the padding exactly as it does on the same vectors with no mask."""
    wrapper = _EmbedThenGRU()
    tokens = np.array([[1, 2, 0, 0]], np.int32)
    actual = np.asarray(wrapper(tokens))
    without_mask = np.asarray(wrapper.gru(tf.constant(np.asarray(wrapper.embed(tokens)))))
    if not np.allclose(actual, without_mask, atol=1e-6):
        raise AssertionError(
            "claim 'inside a subclassed layer or model, masks aren't automatically propagated' is "
            f"false here: the inner GRU used the mask ({actual} differs from the unmasked {without_mask})"
        )


def unsupported_layer_raises_witness():
    """Claim (Masking docstring): a downstream layer without mask support that receives the mask
    raises an exception."""
    inputs = keras.Input((4, 2))
    try:
        model = keras.Model(inputs, layers.Conv1D(2, 2, padding="same")(layers.Masking(0.0)(inputs)))
        model(np.zeros((1, 4, 2), np.float32))
    except Exception:
        return
    raise AssertionError(
        "claim 'if any downstream layer does not support masking yet receives such an input mask, "
        "an exception will be raised' is false here: Masking -> Conv1D builds and runs"
    )
