"""What several property files draw beyond ``strategies/``: stacks and graphs that steer clear of
recorded divergences, and loss targets with arbitrary values at padded steps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from strategies import stacks
from strategies.graphs import graphs

from .divergences import BY_ID, active_matches, covering
from .keras_compat import BACKEND


BINARY_TARGETS_CHECKED = BY_ID["torch-binary-crossentropy-checks-padded-targets"]


def stacks_without_known_divergences(focus, api, how=None, **kwargs) -> st.SearchStrategy:
    """``strategies.stacks`` minus stacks that hit a divergence active on the installed Keras
    when built with ``api`` and run as ``how`` (default: the API); each of those divergences
    is replayed by ``test_known_divergences``."""
    how = how or api
    divergence = covering(focus, how)
    if divergence:
        pytest.skip(f"{divergence.explain()} (replayed by test_known_divergences)")
    return without_known_divergences(stacks(focus, api=api, **kwargs), how)


def graphs_without_known_divergences(kinds) -> st.SearchStrategy:
    """Graphs of ``kinds`` whose nodes steer around the divergences active on this Keras."""
    return graphs(kinds, avoid=lambda spec: bool(active_matches(spec, "graph")))


def without_known_divergences(specs: st.SearchStrategy, how: str, backends: tuple[str, ...] = (BACKEND,)) -> st.SearchStrategy:
    """``specs`` minus those that hit a divergence active on the installed Keras (on any of
    ``backends``) under ``how``."""
    return specs.filter(lambda spec: not active_matches(spec, how, backends))


@st.composite
def targets(draw, kind: str, mask: np.ndarray, units: int = 3) -> np.ndarray:
    """Targets of ``kind`` (a kind of :data:`kmask.loss_reference.LOSSES`) at real steps and
    arbitrary (finite) values at padded steps (binary ones in [0, 1] where the divergence
    ``torch-binary-crossentropy-checks-padded-targets`` is active)."""
    shape = mask.shape + (units,)
    if kind == "sparse":
        return draw(hnp.arrays(np.int32, mask.shape, elements=st.integers(0, units - 1)))
    if kind == "real":
        real = draw(hnp.arrays(np.float32, shape, elements=st.floats(-2, 2, width=32, allow_subnormal=False)))
    elif kind == "binary":
        real = draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0])))
    else:  # one_hot, distribution
        if kind == "one_hot":
            classes = draw(hnp.arrays(np.int32, mask.shape, elements=st.integers(0, units - 1)))
            real = np.eye(units, dtype=np.float32)[classes]
        else:
            raw = draw(hnp.arrays(np.float32, shape, elements=st.floats(0.0625, 1, width=32, allow_subnormal=False)))
            real = raw / raw.sum(axis=-1, keepdims=True)
    low, high = (0, 1) if kind == "binary" and BINARY_TARGETS_CHECKED.active else (-1e3, 1e3)  # steer around it
    garbage = draw(hnp.arrays(np.float32, shape, elements=st.floats(low, high, width=32, allow_subnormal=False)))
    return np.where(mask[..., None], real, garbage).astype(np.float32)
