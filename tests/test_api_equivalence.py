"""One model, five ways to build it: Sequential, Functional, subclassed (passing ``mask=`` by hand
or relying on Keras) and a Sequential nested in a Functional model give the same outputs and the
same output mask for the same layers and weights."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import report
from kmask.compare import assert_close, assert_same_length, tolerance
from kmask.divergences import BY_ID
from kmask.draw import without_known_divergences
from kmask.keras_compat import to_numpy
from kmask.graph_build import (
    CHAIN_APIS,
    ChainModel,
    as_mask,
    attached_mask,
    chain_model,
)
from kmask.mask_checks import assert_same_mask, describe_mask, expected_chain_masks
from kmask.reproducers_masks import api_reproducer
from strategies.graphs import CHAIN_KINDS, chains, graph_inputs

REFERENCE_API = "functional"
SYMBOLIC_APIS = ("sequential", "functional", "nested")


def check_apis_agree(spec, batch, raw, api) -> None:
    expected_masks = expected_chain_masks(spec, batch, raw)
    tol = tolerance(spec.depth, batch.timesteps)
    with report.reproduced_by("apis", lambda: api_reproducer(spec, batch, api, expected_masks, tol)):
        _check_apis_agree(spec, batch, api, expected_masks)


def _check_apis_agree(spec, batch, api, expected_masks) -> None:
    reference = chain_model(spec, REFERENCE_API, batch.timesteps)(batch.values, training=False)
    model = chain_model(spec, api, batch.timesteps)
    output = model(batch.values, training=False)
    what = f"{api} vs {REFERENCE_API} model of {spec}"
    assert_close(to_numpy(output), to_numpy(reference), tolerance(spec.depth, batch.timesteps),
                 f"{what}: output")
    expected = expected_masks[-1]
    assert_same_mask(as_mask(attached_mask(output)), expected, f"{api} model of {spec}: output mask")
    if isinstance(model, ChainModel):  # subclassed: every layer's eager output, as call() saw it
        assert_same_length(model.recorded.outputs, expected_masks, f"{api} model of {spec}: layer outputs inside call()")
        for k, (layer_output, want) in enumerate(zip(model.recorded.outputs, expected_masks)):
            assert_same_mask(as_mask(attached_mask(layer_output)), want,
                             f"{api} model of {spec}: layer {k} output mask inside call()")
    if api == "nested" and BY_ID["nested-model-symbolic-mask-dropped"].active:
        return
    if api in SYMBOLIC_APIS and (attached_mask(model.outputs[0]) is not None) != (expected is not None):
        raise AssertionError(
            f"{api} model of {spec}: the symbolic output has "
            f"{'a' if attached_mask(model.outputs[0]) is not None else 'no'} mask, "
            f"the rule says {describe_mask(expected)}"
        )


@pytest.mark.parametrize("api", [a for a in CHAIN_APIS if a != REFERENCE_API])
@given(data=st.data())
def test_apis_give_same_outputs_and_mask(api, data):
    """A random chain built with ``api`` gives the outputs of the same chain built as a Functional
    model with the same weights, and the output mask (eager and symbolic) the rules say; inside a
    subclassed model's call(), every layer's output carries the mask the rules say."""
    spec = data.draw(without_known_divergences(chains(CHAIN_KINDS), "graph"), label="spec")
    batch, raw = data.draw(graph_inputs(spec), label="inputs")
    check_apis_agree(spec, batch, raw, api)

