"""Mask comparisons the propagation properties, the save/load property and their divergence
witnesses share: a mask against the rule, every tensor of a Functional graph against the rules,
and the masks the rules give each layer of a chain."""

from __future__ import annotations

import numpy as np

from strategies.graphs import OPS

from . import report
from .compare import assert_close, assert_same_length, tolerance
from .divergences import BY_ID
from .graph_build import as_mask, functional_graph, run_graph
from .keras_compat import GENERATION, tensor
from .mask_rules import (
    RAISES_TYPE_ERROR,
    expected_compute_mask,
    expected_graph_masks,
    generation_differences,
)
from .reproducers_masks import graph_reproducer, pooled_tensors

NO_MASK_SUPPORT = "does not support masking"
"""What Keras 2's ``compute_mask`` says when it raises for a layer without mask support."""


def describe_mask(mask) -> str:
    return "no mask" if mask is None else np.array2string(np.asarray(mask).astype(int))


def assert_same_mask(actual, expected, what: str, expected_from: str = "the rule says") -> None:
    """Both None, or equal boolean arrays; ``expected_from`` names where ``expected`` came from."""
    if actual is None or expected is None:
        if actual is not None or expected is not None:
            raise AssertionError(
                f"{what}: got {describe_mask(actual)}, {expected_from} {describe_mask(expected)}"
            )
        return
    if actual.shape != expected.shape or not np.array_equal(actual, expected):
        raise AssertionError(
            f"{what}: got mask\n{describe_mask(actual)}\n{expected_from}\n{describe_mask(expected)}"
        )


def check_compute_mask(layer_spec, layer, inputs, masks, values, what: str) -> None:
    """``layer.compute_mask`` called directly returns what the rule says, or raises Keras 2's
    TypeError for a layer without mask support where the rule says it does."""
    expected = expected_compute_mask(layer_spec, masks, values, GENERATION)
    single = len(inputs) == 1
    tf_masks = [None if m is None else tensor(m) for m in masks]
    try:
        got = layer.compute_mask(inputs[0] if single else inputs, tf_masks[0] if single else tf_masks)
    except TypeError as error:
        if NO_MASK_SUPPORT not in str(error):
            raise
        if expected != RAISES_TYPE_ERROR:
            raise AssertionError(f"{what}: compute_mask raised {error!r}") from error
        return
    if expected == RAISES_TYPE_ERROR:
        raise AssertionError(f"{what}: compute_mask returned instead of raising TypeError")
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    assert_same_length(got, expected, f"{what}: compute_mask outputs vs the rule's")
    for k, (g, e) in enumerate(zip(got, expected)):
        assert_same_mask(as_mask(g), e, f"{what}, compute_mask output {k}")


def attention_inputs(spec) -> set[int]:
    """Tensors that MultiHeadAttention strips of their eager mask where that divergence is active."""
    if not BY_ID["multiheadattention-strips-input-masks"].active:
        return set()
    return {i for node in spec.nodes if node.layer.kind == "MultiHeadAttention" for i in node.inputs}


def check_graph_masks(spec, batch, raw) -> None:
    """At every tensor of the Functional graph of ``spec``, the attached mask, whether the
    symbolic tensor has one, and ``compute_mask`` called directly follow the rules (failing, it
    writes a standalone script of the attached masks against the rules)."""
    with report.reproduced_by("graph_masks", lambda: graph_reproducer(spec, batch, raw)):
        _check_graph_masks(spec, batch, raw)


def _check_graph_masks(spec, batch, raw) -> None:
    graph = functional_graph(spec, batch.timesteps)
    tensors, values, masks = run_graph(graph, batch.values, raw)
    expected = expected_graph_masks(spec, batch.values, values, GENERATION)
    stripped = attention_inputs(spec)
    note = generation_differences(node.layer.kind for node in spec.nodes)
    assert_same_length(masks, expected, f"tensors of {spec}: masks run vs masks the rules give")
    for i, (got, want) in enumerate(zip(masks, expected)):
        where = f"tensor t{i} of {spec}{note}"
        if i not in stripped:
            assert_same_mask(got, want, f"{where}: attached mask")
        if graph.symbolic_has_mask[i] != (want is not None):
            raise AssertionError(
                f"{where}: the symbolic tensor {'has' if graph.symbolic_has_mask[i] else 'has no'} "
                f"mask, the rule says {describe_mask(want)}"
            )
    assert_same_length(spec.nodes, graph.layers, f"nodes of {spec} vs layers built")
    check_pooled_values(spec, values, expected, stripped, note)
    for node, layer in zip(spec.nodes, graph.layers):
        if node.layer.kind in OPS:
            continue  # an operation has no compute_mask
        check_compute_mask(
            node.layer, layer, [tensors[i] for i in node.inputs], [masks[i] for i in node.inputs],
            [values[i] for i in node.inputs], f"node {node} of {spec}{note}",
        )


POOLED_VALUE = "GlobalAveragePooling1D value"
"""What the pooled-value assertion says."""


def check_pooled_values(spec, values, expected, stripped: set[int], note: str) -> None:
    """Every GlobalAveragePooling1D node gives, in each row with a real step, the NumPy mean of its
    input over the steps the rules' mask of that input calls real (every step where the rules
    give it no mask): what a consumer computes follows the mask the rules say reaches it.

    Rows with no real step are left to the extreme-padding property (divergence
    pooling-empty-row-nan); an input MultiHeadAttention strips of its eager mask is skipped."""
    for position, source in pooled_tensors(spec):
        if source in stripped:
            continue
        x = values[source].astype(np.float64)
        mask = expected[source]
        real = np.ones(x.shape[:2], bool) if mask is None else mask
        rows = np.flatnonzero(real.any(axis=1))
        weights = real[rows, :, None]
        want = (x[rows] * weights).sum(axis=1) / weights.sum(axis=1)
        counted = "its rule mask" if mask is not None else f"every step (the rules give t{source} no mask)"
        assert_close(
            values[position][rows], want, tolerance(1, x.shape[1]),
            f"{POOLED_VALUE} at t{position} of {spec}{note}: rows {rows.tolist()} against the NumPy "
            f"mean of t{source} over the steps of {counted}",
        )


def expected_chain_masks(spec, batch, raw):
    """Each chain layer's output mask by the recorded rules (input layer first; mid-chain values,
    which a re-masking layer reads, come from the Functional graph)."""
    _, values, _ = run_graph(functional_graph(spec, batch.timesteps), batch.values, raw)
    masks = expected_graph_masks(spec, batch.values, values, GENERATION)
    return [masks[0]] + masks[2:]  # a chain never reads the unmasked input t1
