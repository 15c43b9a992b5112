"""A fault counts as detected only when the property fails in the comparison the fault breaks:
a crash, an AssertionError about something else, or no failure at all fails the self-check."""

import contextlib

import pytest

from .injection import Fault, assert_fails_under

HARMLESS = Fault("harmless", "Nothing changes.", contextlib.nullcontext)


def fails_with(error):
    def action():
        raise error

    return action


def test_the_named_comparison_failing_counts():
    """An AssertionError that names the comparison passes."""
    failure = AssertionError("output 0, real steps: 2 of 4 values differ")
    assert_fails_under(HARMLESS, "real steps", fails_with(failure), "p")


@pytest.mark.parametrize("error, said", [
    (TypeError("Keras crashed"), "raised TypeError"),
    (ValueError("Dimensions must be equal"), "raised ValueError"),
    (AssertionError("final output: 1 of 3 differ"), "not in the comparison the fault breaks"),
])
def test_anything_else_fails_the_self_check(error, said):
    """A crash, or an AssertionError about another comparison, fails and says what was raised."""
    with pytest.raises(pytest.fail.Exception, match=said):
        assert_fails_under(HARMLESS, "real steps", fails_with(error), "p")


def test_no_failure_fails_the_self_check():
    """A property that passes under the fault fails the self-check."""
    with pytest.raises(pytest.fail.Exception, match="did not fail"):
        assert_fails_under(HARMLESS, "real steps", lambda: None, "p")
