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

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import report
from kmask.build import model_for
from kmask.checks import assert_same_real_outputs
from kmask.compare import assert_close, tolerance
from kmask.draw import without_known_divergences
from kmask.forward_checks import padded_vs_alone_script, unpadded
from kmask.graph_build import attached_mask, chain_layers, chain_model, stack_layer
from kmask.keras_compat import tensor, to_numpy
from kmask.mask_checks import NO_MASK_SUPPORT
from kmask.reproducers_masks import unsupported_reproducer
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

CONSUMER_APIS = ("functional", "sequential", "subclassed", "subclassed_layer")
"""``subclassed`` is a subclassed model relying on Keras to pass the mask (kmask.build.StackModel
with a mask-making input layer); ``subclassed_layer`` a subclassed layer doing the same."""


def consumer_model(spec: StackSpec, api: str, timesteps: int | None):
    if api == "subclassed_layer":
        return stack_layer(spec, timesteps)
    return model_for(spec, api, timesteps)


def check_consumer_sees_mask(spec: StackSpec, api: str, batch) -> None:
    with report.reproduced_by("consumer", lambda: padded_vs_alone_script(spec, api, batch)):
        _check_consumer_sees_mask(spec, api, batch)


def _check_consumer_sees_mask(spec: StackSpec, api: str, batch) -> None:
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
    tol = tolerance(spec.depth, batch.timesteps)
    with report.reproduced_by("unsupported_layer", lambda: unsupported_reproducer(spec, batch, tol)):
        _check_unsupported_drops_mask(spec, batch)


def _check_unsupported_drops_mask(spec: GraphSpec, batch) -> None:
    what = f"Functional model {spec}"
    try:
        model = chain_model(spec, "functional", batch.timesteps)
        output = model(batch.values, training=False)
    except TypeError as error:  # what the claim says happens; it must not
        if NO_MASK_SUPPORT not in str(error):
            raise
        raise AssertionError(f"{what}: raised {error!r}") from error
    *before, layer = chain_layers(model)
    if attached_mask(model.outputs[0]) is not None or attached_mask(output) is not None:
        raise AssertionError(f"{what}: a layer without mask support passed a mask on")
    x = batch.values
    for earlier in before:
        x = earlier(x, training=False)
    unmasked = layer(tensor(to_numpy(x)))  # a fresh tensor carries no mask
    assert_close(to_numpy(output), to_numpy(unmasked), tolerance(spec.depth, batch.timesteps),
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

