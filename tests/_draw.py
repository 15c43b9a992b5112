"""Drawing the stack a property runs on, steering clear of recorded divergences."""

from hypothesis import strategies as st

from kmask.divergences import active_matches
from strategies import stacks


def stacks_without_known_divergences(focus, api, **kwargs) -> st.SearchStrategy:
    """``strategies.stacks`` minus stacks that hit a divergence active on the installed Keras
    (each of those is replayed by ``test_known_divergences``)."""
    return stacks(focus, api=api, **kwargs).filter(lambda spec: not active_matches(spec, api))
