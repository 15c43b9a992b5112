"""The cross-backend property can fail: a fault injected into the worker process alone (the
"other backend", here a second process on the backend under test, so that this runs wherever
kmask does) makes check_backends_agree fail in the comparison the fault breaks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import differential
from kmask.differential import check_backends_agree, examples
from kmask.keras_compat import BACKEND, GENERATION
from selfchecks.injection import UNDER_FAULT

WORKER_FAULTS = [
    ("rnn_ignores_mask", f"{BACKEND} vs {BACKEND}"),
    ("attention_ignores_key_padding", f"{BACKEND} vs {BACKEND}"),
    ("loss_divides_by_all_steps", "that evaluate() reports"),
]


@pytest.mark.skipif(GENERATION != 3, reason="the cross-backend property runs on Keras 3 only")
@pytest.mark.parametrize("fault, fragment", WORKER_FAULTS)
def test_differential_fails_when_the_other_backend_is_broken(fault, fragment, monkeypatch):
    """With ``fault`` injected into the worker only, the comparison fails naming ``fragment``."""
    monkeypatch.setenv("KMASK_WORKER_FAULT", fault)
    monkeypatch.setattr(differential, "_WORKERS", {})

    @UNDER_FAULT
    @given(data=st.data())
    def compare(data):
        check_backends_agree(*data.draw(examples(BACKEND)), BACKEND)

    try:
        with pytest.raises(AssertionError) as failure:
            compare()
        assert fragment in str(failure.value), f"failed, but not on {fragment!r}: {failure.value}"
    finally:
        for worker in differential._WORKERS.values():
            worker.close()
