"""Drawing the stack a property runs on, steering clear of recorded divergences."""

from hypothesis import strategies as st

import pytest

from kmask.divergences import active_matches, covering
from strategies import stacks


def stacks_without_known_divergences(focus, api, how=None, **kwargs) -> st.SearchStrategy:
    """``strategies.stacks`` minus stacks that hit a divergence active on the installed Keras
    when built with ``api`` and run as ``how`` (default: the API); each of those divergences
    is replayed by ``test_known_divergences``."""
    how = how or api
    divergence = covering(focus, how)
    if divergence:
        pytest.skip(f"{divergence.explain()} (replayed by test_known_divergences)")
    return without_known_divergences(stacks(focus, api=api, **kwargs), how)


def without_known_divergences(specs: st.SearchStrategy, how: str) -> st.SearchStrategy:
    """``specs`` minus those that hit a divergence active on the installed Keras under ``how``."""
    return specs.filter(lambda spec: not active_matches(spec, how))
