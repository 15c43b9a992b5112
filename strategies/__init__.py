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
    "PER_STEP",
    "RECURRENT",
    "STYLES",
    "TIMESTEP_BUCKETS",
    "LayerSpec",
    "PaddedBatch",
    "StackSpec",
    "bidirectional_layers",
    "catalog_layers",
    "context_layers",
    "mask_values",
    "masks",
    "near_values",
    "padded_batches",
    "recurrent_layers",
    "stacks",
    "supported",
]
