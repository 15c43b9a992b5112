"""The compiled loss at the output of a Functional graph: residual connections, merges of a
masked and an unmasked branch, attention, RNNs and operations between the masked input and the
output, and the loss Keras reports against the masked NumPy reference under the mask the rules
(:mod:`kmask.mask_rules`) say that output carries; where they give it none, every step counts.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from strategies.graphs import GraphSpec, graph_tensors

from . import loss_reference as ref
from . import report
from .build import CACHE
from .compare import assert_close, loss_tolerance
from .graph_build import functional_graph, run_graph
from .keras_compat import GENERATION, keras, to_numpy
from .mask_checks import attention_inputs
from .mask_rules import expected_graph_masks
from .reproducers_masks import graph_loss_reproducer

LOSS = "mean_squared_error"
GRAPH_LOSS = "loss of the graph output"
"""What the graph-loss assertion says."""


@dataclasses.dataclass(frozen=True, eq=False)
class GraphLossCase:
    """A graph, which of its tensors is the compiled model's output, its inputs and targets."""

    spec: GraphSpec
    output: int
    """Index of the output tensor in the graph's tensor list (t0, t1, then each node's outputs)."""
    values: np.ndarray
    raw: np.ndarray
    targets: np.ndarray


def loss_outputs(spec: GraphSpec) -> list[int]:
    """Tensors of ``spec`` a sequence loss can be compiled on: node outputs with a time axis aligned
    with the input's steps, that no MultiHeadAttention may strip of their mask (see
    ``multiheadattention-strips-input-masks``)."""
    stripped = attention_inputs(spec)
    return [
        i for i, tensor in enumerate(graph_tensors(spec))
        if i >= 2 and tensor.sequence and tensor.steps == 1 and i not in stripped
    ]


def rule_mask(case: GraphLossCase) -> np.ndarray | None:
    """The mask the installed generation's rules give the output tensor of ``case``."""
    _, values, _ = run_graph(functional_graph(case.spec, case.values.shape[1]), case.values, case.raw)
    return expected_graph_masks(case.spec, case.values, values, GENERATION)[case.output]


def _compiled_head(case: GraphLossCase):
    """The graph's model cut at the output tensor, compiled with the loss (cached per case shape)."""
    graph = functional_graph(case.spec, case.values.shape[1])

    def build():
        inputs = graph.model.inputs if graph.reads_raw else graph.model.inputs[0]
        head = keras.Model(inputs, graph.model.outputs[case.output - 1])  # outputs: t0, t2, t3, ...
        head.compile(loss=LOSS)
        return head

    return graph, CACHE.get((case.spec, "graph loss", case.values.shape[1], case.output), build)


def check_graph_loss(case: GraphLossCase, mask) -> None:
    """``evaluate`` on one batch reports ``sum(mask * loss) / sum(mask)`` with ``mask``, the rules'
    mask of the output (:func:`rule_mask`), or the mean over every step where it is None (failing,
    it writes a standalone script)."""
    with report.reproduced_by("graph_loss", lambda: graph_loss_reproducer(case, mask, tolerance(case))):
        _check_graph_loss(case, mask)


def tolerance(case: GraphLossCase) -> float:
    return loss_tolerance(len(case.spec.nodes) + 1, case.values.shape[1])


def _check_graph_loss(case: GraphLossCase, mask) -> None:
    graph, head = _compiled_head(case)
    inputs = [case.values, case.raw] if graph.reads_raw else case.values
    reported = head.evaluate(inputs, case.targets, batch_size=len(case.values), verbose=0)
    predictions = to_numpy(head(inputs, training=False))
    losses = ref.per_step_loss(LOSS, case.targets, predictions)
    real = np.ones(losses.shape, bool) if mask is None else mask
    expected = ref.masked_batch_loss(losses, real)
    counted = "every step (the rules give it no mask)" if mask is None else "the real steps of its rule mask"
    assert_close(
        reported, expected, tolerance(case),
        f"'{LOSS}' {GRAPH_LOSS} t{case.output} reported by evaluate() vs the NumPy mean over {counted}; "
        f"graph {case.spec}",
    )
