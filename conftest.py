"""Run-wide wiring: Hypothesis profiles, the Keras under test, the run header, and kmask's options.

Profiles (pick with ``--hypothesis-profile NAME`` or ``KMASK_PROFILE=NAME``):

* ``dev`` (default): random examples, failures remembered in ``.hypothesis/``;
* ``ci`` (default when ``CI`` is set): fewer examples, derandomized, so a run is
  the same every time;
* ``thorough``: many more examples, for nightly runs.

Options:

* ``--kmask-max-examples N``: run N examples per test instead of the profile's number;
* ``--kmask-xfails FILE`` / ``KMASK_XFAILS=FILE``: tests the user expects to fail
  (``kmask/xfails.py``);
* ``--kmask-results-dir DIR`` / ``KMASK_RESULTS_DIR=DIR``: write ``DIR/<env>.json`` for the
  version report (``kmask/results.py``, ``python -m kmask.matrix``);
* ``--kmask-report-dir DIR`` / ``KMASK_REPORT_DIR=DIR``: where a failing property writes its
  standalone reproducer and issue body (``kmask/report.py``; default ``kmask-reports/``).

Every ``test_known_divergence[<id>]`` whose divergence is active on the installed Keras gets the
``divergence`` marker, so ``-m "not divergence"`` leaves out the replays of known divergences.
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
PROFILE_KEY = pytest.StashKey[str]()
"""The chosen profile's name, kept in ``config.stash`` (Hypothesis's option may name a derived one)."""


def pytest_addoption(parser):
    group = parser.getgroup("kmask")
    group.addoption(
        "--kmask-max-examples", metavar="N", default=None,
        help="run N Hypothesis examples per test instead of the profile's max_examples",
    )
    group.addoption(
        "--kmask-xfails", metavar="FILE", default=None,
        help="file of test ids or patterns expected to fail, one '<id>  # reason' a line "
        "(default: $KMASK_XFAILS)",
    )
    group.addoption(
        "--kmask-results-dir", metavar="DIR", default=None,
        help="write the run's results to DIR/<env>.json, <env> being $KMASK_ENV "
        "(default: $KMASK_RESULTS_DIR; none written without either)",
    )
    group.addoption(
        "--kmask-report-dir", metavar="DIR", default=None,
        help="where failing properties write standalone reproducers and issue bodies "
        "(default: $KMASK_REPORT_DIR, else kmask-reports/)",
    )


def chosen_profile(config) -> str:
    return (
        config.getoption("hypothesis_profile", None)
        or os.environ.get("KMASK_PROFILE")
        or ("ci" if os.environ.get("CI") else "dev")
    )


def max_examples_override(config) -> int | None:
    """The ``--kmask-max-examples`` value, checked to be a positive integer."""
    value = config.getoption("kmask_max_examples", None)
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"--kmask-max-examples must be a positive integer, not {value!r}")
    return int(value)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    profile = chosen_profile(config)
    if profile not in PROFILES:
        raise pytest.UsageError(
            f"unknown Hypothesis profile {profile!r}: use one of {', '.join(PROFILES)} "
            "(--hypothesis-profile NAME or KMASK_PROFILE=NAME)"
        )
    config.stash[PROFILE_KEY] = loaded = profile
    max_examples = max_examples_override(config)
    if max_examples is not None:
        loaded = f"{profile}-max-examples-{max_examples}"
        settings.register_profile(loaded, settings.get_profile(profile), max_examples=max_examples)
    settings.load_profile(loaded)
    config.option.hypothesis_profile = loaded  # so Hypothesis's own plugin agrees
    report_dir = config.getoption("kmask_report_dir", None)
    if report_dir:  # read by kmask.report, in xdist workers too (they inherit the environment)
        os.environ["KMASK_REPORT_DIR"] = os.path.abspath(report_dir)
    from kmask.errors import KerasUnavailable

    try:
        import kmask.keras_compat  # noqa: F401  (imports TensorFlow once, up front)
    except KerasUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None
    _register_plugins(config, profile)


def _register_plugins(config, profile):
    """Register the expectations plugin (everywhere) and the results writer (controller only)."""
    from kmask import results, xfails

    xfails_file = xfails.chosen_file(config)
    expectations = None
    if xfails_file:
        expectations = xfails.Expectations(xfails_file, xfails.parse(xfails_file))
        config.pluginmanager.register(expectations, "kmask-xfails")
    directory = results.chosen_dir(config)
    if directory and not hasattr(config, "workeroutput"):
        writer = results.ResultsWriter(
            config, results.results_path(directory), results.environment(profile, xfails_file), expectations,
        )
        config.pluginmanager.register(writer, "kmask-results")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    """Mark the replays of divergences active on the installed Keras with ``divergence``."""
    for item in items:
        if getattr(item, "originalname", None) == "test_known_divergence" and item.callspec.params["divergence"].active:
            item.add_marker(pytest.mark.divergence)


def pytest_collection_finish(session):
    """Everything imported so far lives for the whole run: keep the garbage collector off it."""
    from kmask.build import freeze_startup_heap

    freeze_startup_heap()


def pytest_report_header(config):
    import platform

    import hypothesis
    import numpy

    from kmask.divergences import DIVERGENCES
    from kmask.keras_compat import BACKEND, ONEDNN, describe
    from kmask.results import keras_path
    from kmask.xfails import chosen_file

    active = [d.id for d in DIVERGENCES if d.active]
    profile = f"profile {config.stash[PROFILE_KEY]!r}"
    if max_examples_override(config) is not None:
        profile += f" with max_examples={settings.default.max_examples} (--kmask-max-examples)"
    lines = [
        f"kmask: {describe()}, backend {BACKEND}, oneDNN CPU kernels {'on' if ONEDNN else 'off'}",
        f"kmask: Keras imported from {keras_path()}",
        f"kmask: Python {platform.python_version()}, NumPy {numpy.__version__}, "
        f"Hypothesis {hypothesis.__version__}, {profile}",
        f"kmask: known divergences active here: {', '.join(active) or 'none'}",
    ]
    if BACKEND != "tensorflow":
        from kmask.modes import TENSORFLOW_MODES
        from kmask.save_load import unsupported_here

        skipped = [f"execution modes {', '.join(TENSORFLOW_MODES)} (tf.function: TensorFlow only)"]
        if unsupported_here("savedmodel"):
            skipped.append("the SavedModel case of test_save_load (model.export() fails on this backend)")
        lines.append(f"kmask: skipped on the {BACKEND} backend: {'; '.join(skipped)}; everything else runs (README, Backends)")
    xfails_file = chosen_file(config)
    if xfails_file:
        lines.append(f"kmask: expected failures from {xfails_file}")
    return lines
