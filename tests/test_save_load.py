"""A saved and reloaded model keeps its masking behaviour: same outputs on a padded batch, and the
same output mask (eager and symbolic) where the reloaded object is a Keras model.

Saving is slow, so this runs a handful of fixed models and batches (``kmask.save_load``), not
random draws.
"""

from __future__ import annotations

import pytest

from kmask.save_load import (
    EMBED_LSTM, EMBED_POOL, MASKING_BIGRU, check_reload_keeps_masking, known_divergence, unsupported_here,
)

CASES = [
    (EMBED_LSTM, "functional", "keras"),
    (MASKING_BIGRU, "sequential", "keras"),
    (EMBED_POOL, "functional", "h5"),
    (EMBED_LSTM, "sequential", "h5"),
    (EMBED_LSTM, "functional", "savedmodel"),
]


@pytest.mark.parametrize(
    "spec, api, file_format", [pytest.param(*case, id=f"{i}-{case[1]}-{case[2]}") for i, case in enumerate(CASES)]
)
def test_reloaded_model_keeps_masking(spec, api, file_format, tmp_path):
    """A model saved and loaded again gives the same outputs and output mask on a padded batch."""
    unsupported = unsupported_here(file_format)
    if unsupported:
        pytest.skip(unsupported)
    divergence = known_divergence(spec, api, file_format)
    if divergence:
        pytest.skip(f"{divergence.explain()} (replayed by test_known_divergences)")
    check_reload_keeps_masking(spec, api, file_format, tmp_path)
