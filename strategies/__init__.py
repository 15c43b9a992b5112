"""Hypothesis strategies for Keras masking: padded batches and layer stacks.

Public API, importable from your own tests::

    from strategies import padded_batches, stacks

    @given(spec=stacks("LSTM"), data=st.data())
    def test_mine(spec, data):
        batch = data.draw(spec.batches())

Nothing in this package imports Keras; ``kmask.build`` turns a spec into models.
"""

from .padded import (
    PADDINGS,
    STYLES,
    TIMESTEP_BUCKETS,
    PaddedBatch,
    mask_values,
    masks,
    near_values,
    padded_batches,
)
from .graphs import (
    PROPAGATION_CATALOG,
    GraphSpec,
    Node,
    chains,
    consumer_stacks,
    graph_inputs,
    graphs,
)
from .stacks import (
    APIS,
    CATALOG,
    PER_STEP,
    RECURRENT,
    LayerSpec,
    StackSpec,
    bidirectional_layers,
    catalog_layers,
    context_layers,
    recurrent_layers,
    stacks,
    supported,
)

__all__ = [
    "APIS",
    "CATALOG",
    "PADDINGS",
    "PROPAGATION_CATALOG",
    "PER_STEP",
    "RECURRENT",
    "STYLES",
    "TIMESTEP_BUCKETS",
    "GraphSpec",
    "LayerSpec",
    "Node",
    "PaddedBatch",
    "StackSpec",
    "bidirectional_layers",
    "catalog_layers",
    "chains",
    "consumer_stacks",
    "context_layers",
    "graph_inputs",
    "graphs",
    "mask_values",
    "masks",
    "near_values",
    "padded_batches",
    "recurrent_layers",
    "stacks",
    "supported",
]
