"""Run-wide wiring: Hypothesis profiles, the Keras under test, and the run header.

Profiles (pick with ``--hypothesis-profile NAME`` or ``KMASK_PROFILE=NAME``):

* ``dev`` (default): random examples, failures remembered in ``.hypothesis/``;
* ``ci`` (default when ``CI`` is set): fewer examples, derandomized, so a run is
  the same every time;
* ``thorough``: many more examples, for nightly runs.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

COMMON = dict(
    deadline=None,  # TensorFlow's first call of a shape traces; timings are not the point
    print_blob=True,  # every failure prints the @reproduce_failure blob that replays it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=12, **COMMON)
settings.register_profile("ci", max_examples=10, derandomize=True, database=None, **COMMON)
settings.register_profile("thorough", max_examples=150, **COMMON)
PROFILES = ("dev", "ci", "thorough")


def chosen_profile(config) -> str:
    return (
        config.getoption("hypothesis_profile", None)
        or os.environ.get("KMASK_PROFILE")
        or ("ci" if os.environ.get("CI") else "dev")
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    profile = chosen_profile(config)
    if profile not in PROFILES:
        raise pytest.UsageError(
            f"unknown Hypothesis profile {profile!r}: use one of {', '.join(PROFILES)} "
            "(--hypothesis-profile NAME or KMASK_PROFILE=NAME)"
        )
    settings.load_profile(profile)
    config.option.hypothesis_profile = profile  # so Hypothesis's own plugin agrees
    from kmask.errors import KerasUnavailable

    try:
        import kmask.keras_compat  # noqa: F401  (imports TensorFlow once, up front)
    except KerasUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config):
    import platform

    import hypothesis
    import numpy

    from kmask.divergences import DIVERGENCES
    from kmask.keras_compat import describe, keras

    backend = keras.backend.backend() if hasattr(keras.backend, "backend") else "tensorflow"
    active = [d.id for d in DIVERGENCES if d.active]
    return [
        f"kmask: {describe()}, backend {backend}",
        f"kmask: Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"Hypothesis {hypothesis.__version__}, profile {chosen_profile(config)!r}",
        f"kmask: known divergences active here: {', '.join(active) or 'none'}",
    ]
