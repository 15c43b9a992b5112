"""Masks follow the recorded rules: at every layer of a random graph, the mask Keras attaches
(and ``compute_mask`` returns) is the one ``kmask.mask_rules`` says for the installed generation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask.divergences import BY_ID, active_matches
from kmask.graph_build import (
    as_mask,
    attached_mask,
    chain_layers,
    chain_model,
    functional_graph,
    run_graph,
)
from kmask.keras_compat import GENERATION, tf
from kmask.mask_rules import (
    RAISES_TYPE_ERROR,
    expected_compute_mask,
    expected_graph_masks,
    generation_differences,
)
from strategies import LayerSpec, PaddedBatch
from strategies.graphs import (
    ATTENTIONS,
    CHAIN_KINDS,
    GraphSpec,
    Node,
    MERGES,
    PROPAGATION_CATALOG,
    RECURRENT_KINDS,
    chains,
    graph_inputs,
    graphs,
)

GRAPH_KINDS = {
    "recurrent": RECURRENT_KINDS + ("Dense", "Masking"),
    "kept": ("Dense", "Dropout", "Activation", "LayerNormalization", "BatchNormalization",
             "TimeDistributed"),
    "dropped": ("Conv1D", "Lambda", "Flatten", "Reshape", "GlobalMaxPooling1D", "Dense"),
    "reduced": ("GlobalAveragePooling1D", "LSTM", "GRU", "Dense"),
    "merged": MERGES + ("Dense", "Masking"),
    "attention": ATTENTIONS + ("Dense", "Masking"),
    "everything": PROPAGATION_CATALOG,
}
"""Each case draws graphs from a few kinds, so every kind of the catalog shows up within
ten examples; ``everything`` mixes them all."""


def describe_mask(mask) -> str:
    return "no mask" if mask is None else np.array2string(np.asarray(mask).astype(int))


def assert_same_mask(actual, expected, what: str) -> None:
    """Both None, or equal boolean arrays."""
    if actual is None or expected is None:
        if actual is not None or expected is not None:
            raise AssertionError(
                f"{what}: got {describe_mask(actual)}, the rule says {describe_mask(expected)}"
            )
        return
    if actual.shape != expected.shape or not np.array_equal(actual, expected):
        raise AssertionError(
            f"{what}: got mask\n{describe_mask(actual)}\nthe rule says\n{describe_mask(expected)}"
        )


def check_compute_mask(layer_spec, layer, inputs, masks, values, what: str) -> None:
    """``layer.compute_mask`` called directly returns what the rule says (or raises TypeError)."""
    expected = expected_compute_mask(layer_spec, masks, values, GENERATION)
    single = len(inputs) == 1
    tf_masks = [None if m is None else tf.constant(m) for m in masks]
    try:
        got = layer.compute_mask(inputs[0] if single else inputs, tf_masks[0] if single else tf_masks)
    except TypeError as error:
        if expected != RAISES_TYPE_ERROR:
            raise AssertionError(f"{what}: compute_mask raised {error!r}") from error
        return
    if expected == RAISES_TYPE_ERROR:
        raise AssertionError(f"{what}: compute_mask returned instead of raising TypeError")
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    for k, (g, e) in enumerate(zip(got, expected)):
        assert_same_mask(as_mask(g), e, f"{what}, compute_mask output {k}")


def attention_inputs(spec) -> set[int]:
    """Tensors that MultiHeadAttention strips of their eager mask where that divergence is active."""
    if not BY_ID["multiheadattention-strips-input-masks"].active:
        return set()
    return {i for node in spec.nodes if node.layer.kind == "MultiHeadAttention" for i in node.inputs}


def check_graph_masks(spec, batch, raw) -> None:
    graph = functional_graph(spec, batch.timesteps)
    tensors, values, masks = run_graph(graph, batch.values, raw)
    expected = expected_graph_masks(spec, batch.values, values, GENERATION)
    stripped = attention_inputs(spec)
    note = generation_differences(node.layer.kind for node in spec.nodes)
    for i, (got, want) in enumerate(zip(masks, expected)):
        where = f"tensor t{i} of {spec}{note}"
        if i not in stripped:
            assert_same_mask(got, want, f"{where}: attached mask")
        if graph.symbolic_has_mask[i] != (want is not None):
            raise AssertionError(
                f"{where}: the symbolic tensor {'has' if graph.symbolic_has_mask[i] else 'has no'} "
                f"mask, the rule says {describe_mask(want)}"
            )
    for node, layer in zip(spec.nodes, graph.layers):
        check_compute_mask(
            node.layer, layer, [tensors[i] for i in node.inputs], [masks[i] for i in node.inputs],
            [values[i] for i in node.inputs], f"node {node} of {spec}{note}",
        )


def graphs_without_known_divergences(kinds) -> st.SearchStrategy:
    return graphs(kinds).filter(lambda spec: not active_matches(spec, "graph"))


@pytest.mark.parametrize("group", GRAPH_KINDS)
@given(data=st.data())
def test_functional_graph_masks_follow_rules(group, data):
    """At every tensor of a random Functional DAG (branches, merges, attention, an unmasked
    second input), the attached mask, its symbolic counterpart and ``compute_mask`` follow the
    installed generation's recorded rule."""
    spec = data.draw(graphs_without_known_divergences(GRAPH_KINDS[group]), label="spec")
    batch, raw = data.draw(graph_inputs(spec), label="inputs")
    check_graph_masks(spec, batch, raw)


def expected_chain_masks(spec, batch, raw):
    """Each chain layer's output mask by the recorded rules (input layer first; mid-chain values,
    which a re-masking layer reads, come from the Functional graph)."""
    _, values, _ = run_graph(functional_graph(spec, batch.timesteps), batch.values, raw)
    masks = expected_graph_masks(spec, batch.values, values, GENERATION)
    return [masks[0]] + masks[2:]  # a chain never reads the unmasked input t1


def check_sequential_masks(spec, batch, raw) -> None:
    expected = expected_chain_masks(spec, batch, raw)
    model = chain_model(spec, "sequential", batch.timesteps)
    chain = [spec.input_layer] + [node.layer for node in spec.nodes]
    note = generation_differences(layer.kind for layer in chain)
    for layer_spec, layer, want in zip(chain, chain_layers(model), expected):
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
    spec = data.draw(chains(CHAIN_KINDS), label="spec")
    check_sequential_masks(spec, *data.draw(graph_inputs(spec), label="inputs"))


# --------------------------------------------------------------------------- divergence witnesses


def _graph(style, *nodes):
    return GraphSpec(style, tuple(Node(LayerSpec.make(kind, **options), inputs)
                                  for kind, options, inputs in nodes))


def _tokens_and_raw():
    tokens = np.array([[1, 2, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0]], np.int32)
    batch = PaddedBatch("embedding", tokens, tokens != 0)
    return batch, np.ones((2, 6, 2), np.float32)


def concatenate_time_axis_unmasked_witness():
    """Concatenate(axis=1) of the masked input and the unmasked one: the masks concatenate."""
    spec = _graph("embedding", ("Concatenate", {"axis": 1}, (0, 1)))
    try:
        check_graph_masks(spec, *_tokens_and_raw())
    except (ValueError, TypeError) as error:
        raise AssertionError(f"{spec} fails to build: {error}") from error


def multiheadattention_strips_input_masks_witness():
    """Two MultiHeadAttention layers over the same masked tensor, both outputs and the tensor
    itself returned: every tensor keeps the mask the rules say."""
    mha = ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2}, (0, 0))
    spec = _graph("embedding", mha, mha)
    graph = functional_graph(spec, 6)
    batch, raw = _tokens_and_raw()
    _, values, masks = run_graph(graph, batch.values, raw)
    expected = expected_graph_masks(spec, batch.values, values, GENERATION)
    for i in (0, 2, 3):
        assert_same_mask(masks[i], expected[i], f"tensor t{i} of {spec}")
