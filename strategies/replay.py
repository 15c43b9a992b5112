"""Explicit examples for properties that draw interactively with ``st.data()``.

``@example`` takes values, and a property written ``@given(data=st.data())`` draws its values
inside the test, so Hypothesis has no value to pass for ``data``. :class:`Draws` stands in for the
data object: ``draw(strategy, label)`` returns the value recorded under ``label``, whatever the
strategy, so a failure found once (a false alarm, a fixed bug) replays on every run::

    @given(data=st.data())
    @example(data=Draws(spec=my_spec, batch=my_batch))
    def test_mine(data):
        spec = data.draw(stacks("LSTM"), label="spec")
        batch = data.draw(spec.batches(), label="batch")
"""

from __future__ import annotations


class Draws:
    """The values of one example's draws, by the label each ``data.draw`` call passes."""

    def __init__(self, **values):
        self.values = values

    def draw(self, strategy, label=None):
        if label not in self.values:
            raise KeyError(
                f"the explicit example records the draws {sorted(self.values)}; the test drew "
                f"{label!r} from {strategy!r}"
            )
        return self.values[label]

    def __repr__(self):
        return "Draws(" + ", ".join(f"{k}={v!r}" for k, v in self.values.items()) + ")"
