"""NumPy references for where padded outputs come from and what padded steps must hold."""

from __future__ import annotations

import numpy as np

from strategies import PaddedBatch, StackSpec


def alone_positions(spec: StackSpec, batch: PaddedBatch) -> np.ndarray:
    """For the model's sequence outputs, ``(batch, timesteps)`` int: the position in the
    row-run-alone output that each padded-run position must equal, or -1 at padding.

    Real steps keep their order when padding is removed; a time-reversing layer
    (``go_backwards`` with ``return_sequences``) reverses both runs.
    """
    index = np.where(batch.mask, np.cumsum(batch.mask, axis=1) - 1, -1)
    lengths = batch.lengths[:, None]
    for layer in spec.layers:
        if layer.reverses_time:
            index = index[:, ::-1]
            index = np.where(index >= 0, lengths - 1 - index, -1)
    return index


def real_outputs(spec: StackSpec, batch: PaddedBatch) -> np.ndarray:
    """``(batch, timesteps)`` bool: the positions of a sequence output that hold real steps
    (reversed after a ``go_backwards`` layer that returns sequences)."""
    return alone_positions(spec, batch) >= 0


def held_outputs(outputs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """What a recurrent ``return_sequences`` output must hold at every step: the output of
    the last real step so far, or zeros (the initial output) before the first one."""
    expected = np.zeros_like(outputs)
    for b in range(outputs.shape[0]):
        last = np.zeros(outputs.shape[2:], outputs.dtype)
        for t in range(outputs.shape[1]):
            if mask[b, t]:
                last = outputs[b, t]
            expected[b, t] = last
    return expected
