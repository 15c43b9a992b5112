"""Hypothesis strategies for Keras masking: padded batches and layer stacks.

Public API, importable from your own tests::

    from strategies import padded_batches, stacks

    @given(spec=stacks("LSTM"), data=st.data())
    def test_mine(spec, data):
        batch = data.draw(spec.batches())

Nothing in this package imports Keras; ``kmask.build`` turns a spec into models.

Arguments follow ``hypothesis.extra.numpy``: every strategy function checks them when
it is called, not when drawn, and raises :class:`hypothesis.errors.InvalidArgument`
saying what to pass. Which arguments take what:

* sizes and values of the drawn data (``batch_size``, ``timesteps``, ``mask_value``)
  take a value or a strategy; a strategy's draws are checked when drawn;
* choices (``style``, ``padding``, ``api``, ``kind``, ``focus``) take a value; where a
  docstring says so, None draws one;
* bounds, flags and collections (``min_length``, ``max_context``, ``max_nodes``,
  ``max_chain``, ``features``, ``vocab_size``, ``scattered``, ``allow_*``, ``paddings``,
  ``kinds``) take plain values.
"""

from .padded import (
    MASK_PADDINGS,
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
    "MASK_PADDINGS",
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
