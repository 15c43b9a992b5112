"""The same model with the same weights gives the same masked results on every Keras 3 backend
installed beside the one under test (kmask/differential.py runs the other in a worker process).

Runs when a second backend is installed (`pip install 'jax[cpu]'` or `pip install torch==2.13.0`
in the same environment); otherwise each case skips and says which command enables it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask.differential import check_backends_agree, examples, unavailable_reason
from kmask.keras_compat import BACKENDS


@pytest.mark.parametrize("other", BACKENDS)
@given(data=st.data())
def test_backends_give_same_masked_results(other, data):
    """A stack run on another backend, with the same weights and padded batch, gives the same
    outputs at real positions, final outputs, output masks, gradients of a masked loss (input
    and weights) and compiled loss as on the backend under test."""
    reason = unavailable_reason(other)
    if reason:
        pytest.skip(reason)
    spec, batch, loss_targets = data.draw(examples(other), label="example")
    check_backends_agree(spec, batch, loss_targets, other)
