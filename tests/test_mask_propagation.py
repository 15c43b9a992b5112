"""Masks follow the recorded rules: at every layer of a random graph, the mask Keras attaches
(and ``compute_mask`` returns) is the one ``kmask.mask_rules`` says for the installed generation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import report
from kmask.compare import assert_same_length
from kmask.draw import graphs_without_known_divergences, without_known_divergences
from kmask.graph_build import as_mask, attached_mask, chain_layers, chain_model
from kmask.mask_checks import (
    assert_same_mask,
    check_graph_masks,
    describe_mask,
    expected_chain_masks,
)
from kmask.mask_rules import generation_differences
from kmask.reproducers_masks import chain_reproducer
from strategies.graphs import (
    ATTENTIONS,
    CHAIN_KINDS,
    MERGES,
    OPS,
    PROPAGATION_CATALOG,
    RECURRENT_KINDS,
    RESHAPING,
    chains,
    graph_inputs,
)

GRAPH_KINDS = {
    "recurrent": RECURRENT_KINDS + ("Dense", "Masking"),
    "kept": ("Dense", "Dropout", "Activation", "LayerNormalization", "BatchNormalization",
             "TimeDistributed", "SpatialDropout1D", "GaussianNoise", "UnitNormalization", "Softmax"),
    "reshaped": RESHAPING + ("Dense",),
    "dropped": ("Conv1D", "Lambda", "Flatten", "Reshape", "GlobalMaxPooling1D", "Dense"),
    "reduced": ("GlobalAveragePooling1D", "LSTM", "GRU", "Dense"),
    "merged": MERGES + ("Dense", "Masking"),
    "attention": ATTENTIONS + ("Dense", "Masking"),
    "ops": OPS + ("GlobalAveragePooling1D", "Dense", "Masking"),
    "everything": PROPAGATION_CATALOG,
}
"""Each case draws graphs from a few kinds, so every kind of the catalog shows up within
ten examples; ``everything`` mixes them all."""


@pytest.mark.parametrize("group", GRAPH_KINDS)
@given(data=st.data())
def test_functional_graph_masks_follow_rules(group, data):
    """At every tensor of a random Functional DAG (branches, merges, attention, operations that
    are not layers, an unmasked second input), the attached mask, its symbolic counterpart and
    ``compute_mask`` follow the installed generation's recorded rule, and every
    GlobalAveragePooling1D averages over the steps that rule's mask calls real."""
    spec = data.draw(graphs_without_known_divergences(GRAPH_KINDS[group]), label="spec")
    batch, raw = data.draw(graph_inputs(spec), label="inputs")
    check_graph_masks(spec, batch, raw)


def check_sequential_masks(spec, batch, raw) -> None:
    expected = expected_chain_masks(spec, batch, raw)
    with report.reproduced_by("sequential_masks", lambda: chain_reproducer(spec, batch, expected)):
        _check_sequential_masks(spec, batch, expected)


def _check_sequential_masks(spec, batch, expected) -> None:
    model = chain_model(spec, "sequential", batch.timesteps)
    chain = [spec.input_layer] + [node.layer for node in spec.nodes]
    note = generation_differences(layer.kind for layer in chain)
    built = chain_layers(model)
    assert_same_length(chain, built, f"layers of {spec} vs layers of the Sequential model")
    assert_same_length(chain, expected, f"layers of {spec} vs masks the rules give")
    for layer_spec, layer, want in zip(chain, built, expected):
        got = attached_mask(layer.output)
        if (got is not None) != (want is not None):
            raise AssertionError(
                f"{layer_spec} in Sequential {spec}{note}: the symbolic output "
                f"{'has' if got is not None else 'has no'} mask, the rule says {describe_mask(want)}"
            )
    output = model(batch.values, training=False)
    assert_same_mask(as_mask(attached_mask(output)), expected[-1], f"output of Sequential {spec}{note}")


@given(data=st.data())
def test_sequential_masks_follow_rules(data):
    """In a random Sequential chain, every layer's symbolic output mask and the mask attached to
    the eager output follow the installed generation's recorded rule."""
    spec = data.draw(without_known_divergences(chains(CHAIN_KINDS), "graph"), label="spec")
    check_sequential_masks(spec, *data.draw(graph_inputs(spec), label="inputs"))
