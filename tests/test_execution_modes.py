"""Masked outputs do not depend on how the model is executed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask.draw import stacks_without_known_divergences
from kmask.forward_checks import check_modes_agree
from kmask.modes import MODES, PREDICT_MODES, skip_off_tensorflow
from strategies import CATALOG

MODE_CASES = [pytest.param(kind, mode, id=f"{kind}-{mode}") for kind in CATALOG for mode in MODES]
BATCH_SIZE = 4  # one shape bucket per timestep bucket: each runner traces at most twice


@pytest.mark.parametrize("focus, mode", MODE_CASES)
@given(data=st.data())
def test_compiled_outputs_equal_eager(focus, mode, data):
    """A model gives the same outputs at real positions and the same final outputs eagerly,
    in a tf.function, under XLA and through predict (with and without jit_compile)."""
    skip_off_tensorflow(mode)
    styles = ("masking", "embedding") if mode in PREDICT_MODES else (None,)
    style = data.draw(st.sampled_from(styles), label="style")
    spec = data.draw(
        stacks_without_known_divergences(
            focus, "functional", how=mode, style=style, max_context=1
        ),
        label="spec",
    )
    batch = data.draw(spec.batches(batch_size=st.just(BATCH_SIZE)), label="batch")
    check_modes_agree(spec, mode, batch)
