"""Call a model on a padded batch and get its outputs as a list of NumPy arrays."""

from __future__ import annotations

import numpy as np

from strategies import PaddedBatch

from .keras_compat import tensor, to_numpy


def as_tensors(outputs) -> list:
    """A model's outputs (one tensor, a list or a dict) as a list of tensors."""
    if isinstance(outputs, dict):
        return list(outputs.values())
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def as_list(outputs) -> list[np.ndarray]:
    """A model's outputs as a list of NumPy arrays."""
    return [to_numpy(o) for o in as_tensors(outputs)]


def call_eagerly(model, batch: PaddedBatch) -> list[np.ndarray]:
    """``model(values)`` in inference mode, with ``mask=`` for the explicit style."""
    if batch.style == "explicit":
        return as_list(model(batch.values, mask=tensor(batch.mask), training=False))
    return as_list(model(batch.values, training=False))


def call_rows_alone(model_for_length, batch: PaddedBatch) -> dict[int, list[np.ndarray]]:
    """Outputs of every non-empty row run alone without its padding, by row index.

    Rows of equal length share one call; ``model_for_length(n)`` gives the model
    to use for sequences of ``n`` steps.
    """
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(batch.lengths):
        if n:
            by_length.setdefault(int(n), []).append(i)
    alone = {}
    for n, rows in by_length.items():
        values = np.concatenate([batch.row(i) for i in rows])
        outputs = as_list(model_for_length(n)(values, training=False))
        for j, i in enumerate(rows):
            alone[i] = [o[j : j + 1] for o in outputs]
    return alone
