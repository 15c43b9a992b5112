"""kmask's command-line options: --kmask-max-examples is checked and applied, the header says
which Keras package was imported, and the profile errors stay as they were."""

import re

import pytest

from .pytest_runs import SEED, run_pytest


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_bad_max_examples_is_a_usage_error(value):
    """Anything but a positive integer is refused in one line, before TensorFlow is imported."""
    result = run_pytest(SEED, f"--kmask-max-examples={value}")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert f"--kmask-max-examples must be a positive integer, not '{value}'" in result.stderr


def test_unknown_profile_keeps_its_message():
    result = run_pytest(SEED, KMASK_PROFILE="nightly")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "unknown Hypothesis profile 'nightly': use one of dev, ci, thorough" in result.stderr


def test_header_shows_max_examples_and_keras_path():
    """The header names the profile, the overriding max_examples, the imported Keras package and
    whether TensorFlow runs its oneDNN CPU kernels;
    Hypothesis itself runs the derived profile."""
    from kmask.keras_compat import ONEDNN
    from kmask.results import keras_path

    result = run_pytest(SEED, "--collect-only", "-v", "--kmask-max-examples", "2", KMASK_PROFILE="ci")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "profile 'ci' with max_examples=2 (--kmask-max-examples)" in result.stdout
    assert f"kmask: Keras imported from {keras_path()}" in result.stdout
    assert f"oneDNN CPU kernels {'on' if ONEDNN else 'off'}" in result.stdout
    assert re.search(r"^hypothesis profile 'ci-max-examples-2' -> .*\bmax_examples=2,", result.stdout, re.M)


def test_unknown_backend_is_a_usage_error():
    """A KERAS_BACKEND kmask does not run on is refused in one line naming the ones it does."""
    result = run_pytest(SEED, KERAS_BACKEND="mxnet")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "KERAS_BACKEND='mxnet' is not a backend kmask runs on: use one of tensorflow, jax, torch" in result.stderr
