"""Masking bugs that only edge batches and shapes reveal, injected into the installed Keras.

Each is invisible on the shapes the other properties draw (1-4 rows, 6 or 9 steps): a fast path
for one-step sequences that skips the mask, and a state sized from the first row.
"""

from __future__ import annotations

from .faults import rnn_with
from .injection import Fault, FaultCase, registry


def rnn_length_one_ignores_mask():
    def transform(rnn, args, kw):
        if args[1].shape[1] == 1:  # "a single step needs no masking"
            kw = {**kw, "mask": None}
        return rnn(*args, **kw)

    return rnn_with(transform)


def rnn_reads_first_row():
    def transform(rnn, args, kw):
        args[1][0]  # sizes the state from the first row: out of range for zero rows
        return rnn(*args, **kw)

    return rnn_with(transform)


FAULTS = registry(
    Fault(
        "rnn_length_one_ignores_mask",
        "RNN loops skip the mask for sequences of one step.",
        rnn_length_one_ignores_mask,
    ),
    Fault(
        "rnn_reads_first_row",
        "RNN loops read the batch's first row, failing on a batch of zero rows.",
        rnn_reads_first_row,
    ),
)

EDGE = "tests/test_edge_shapes.py::"
CASES = [
    FaultCase("rnn_length_one_ignores_mask", EDGE + "test_edge_shapes_keep_padding_invisible",
              {}, "more padded steps"),
    FaultCase("rnn_reads_first_row", EDGE + "test_empty_batch_gives_empty_outputs",
              {}, "a batch of zero rows"),
]
"""Which property each fault must break, and the comparison its failure must name."""
