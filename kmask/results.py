"""Per-environment result files: what one run found, as JSON, for the version report.

With ``KMASK_RESULTS_DIR=DIR`` (or ``--kmask-results-dir DIR``) a run writes ``DIR/<env>.json``,
``<env>`` being ``KMASK_ENV`` (tox sets it to the environment's name) or, without it, a name made
from the TensorFlow and Keras versions. ``python -m kmask.matrix DIR`` turns a folder of these into
the version report. The file holds::

    {"schema": 1,
     "environment": {"name", "python", "tensorflow", "keras", "keras_flavour", "keras_generation",
                     "backend", "numpy", "hypothesis", "hypothesis_profile", "max_examples",
                     "date", "keras_path", "xfails_file", "kmask_commit"},
     "exit_status": pytest's exit code,
     "unmatched_expectations": [{"pattern", "reason", "line"}, ...],
     "wall_seconds": the session's wall time,
     "tests": [{"nodeid", "outcome", "divergence", "expectation", "message", "seconds"}, ...]}

``outcome`` is passed, failed, skipped, xfailed, xpassed or error (a failing setup, teardown or
collection); ``divergence`` the recorded divergence a ``test_known_divergence[<id>]`` replays, or
that a skip or xfail message names; ``expectation`` the xfails-file pattern that marked the test;
``message`` the first line of the failure, skip or xfail message (None for a pass);
``seconds`` the test's setup, call and teardown time (where a run is slow, this says which tests);
``kmask_commit`` the commit of this checkout (``git rev-parse HEAD``, "+dirty" with uncommitted
changes; None outside a git checkout), so a report assembled from runs of several days says which
suite each ran.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path

import hypothesis
import numpy

from .keras_compat import BACKEND, FLAVOUR, GENERATION, KERAS_VERSION, ONEDNN, PACKAGE, tf
from .xfails import PROPERTY, Expectations

DIR_VARIABLE = "KMASK_RESULTS_DIR"
ENV_VARIABLE = "KMASK_ENV"
SCHEMA = 1
_REPLAY = re.compile(r"::test_known_divergence\[(?P<id>[^\]]+)\]$")
_MENTION = re.compile(r"known divergence '(?P<id>[^']+)'")
_SUB_EXCEPTION = re.compile(r"^\s*\| (?P<line>[A-Za-z_][\w.]*(?:Error|Exception|Failure|Iteration)\b.*)$")


def chosen_dir(config) -> Path | None:
    """The folder named by ``--kmask-results-dir`` or ``KMASK_RESULTS_DIR``, if any."""
    name = config.getoption("kmask_results_dir", None) or os.environ.get(DIR_VARIABLE)
    return Path(name) if name else None


def keras_path() -> str:
    """The folder of the imported Keras package, so a source build or a stray install shows."""
    return str(Path(importlib.import_module(PACKAGE).__file__).parent)


def environment_name() -> str:
    """``KMASK_ENV``, or e.g. ``tf2.21.0-keras3.15.1`` made from the installed versions."""
    return os.environ.get(ENV_VARIABLE) or f"tf{tf.__version__}-{FLAVOUR}{KERAS_VERSION}"


def results_path(directory: Path) -> Path:
    """Where this environment's result file goes in ``directory``."""
    return directory / f"{environment_name()}.json"


def kmask_commit() -> str | None:
    """The commit of the kmask checkout this run imports, "+dirty" when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def environment(profile: str, xfails_file: Path | None) -> dict:
    """The environment stamp of this run (call after the Hypothesis profile is loaded)."""
    return {
        "name": environment_name(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": str(KERAS_VERSION),
        "keras_flavour": FLAVOUR,
        "keras_generation": GENERATION,
        "backend": BACKEND,
        "onednn": ONEDNN,
        "numpy": numpy.__version__,
        "hypothesis": hypothesis.__version__,
        "hypothesis_profile": profile,
        "max_examples": hypothesis.settings.default.max_examples,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "keras_path": keras_path(),
        "xfails_file": str(xfails_file) if xfails_file else None,
        "kmask_commit": kmask_commit(),
    }


def first_line(report) -> str | None:
    """The first line of a report's xfail reason, skip message or failure message."""
    if hasattr(report, "wasxfail"):
        text = report.wasxfail.removeprefix("reason: ")
    elif report.passed:
        return None
    elif report.skipped and isinstance(report.longrepr, tuple):
        text = report.longrepr[2].removeprefix("Skipped: ")
    elif getattr(report.longrepr, "reprcrash", None) is not None:
        text = report.longrepr.reprcrash.message
    else:
        text = report.longreprtext
    line = next((line.strip() for line in text.splitlines() if line.strip()), text.strip())
    if line.startswith(("ExceptionGroup:", "BaseExceptionGroup:")):
        line += " " + " || ".join(sub_exceptions(report.longreprtext))
    return line


def sub_exceptions(longrepr: str) -> list[str]:
    """The first line of each distinct exception inside an exception group's traceback (Hypothesis
    raises one group for several distinct failures), so the result file says what they were."""
    found = []
    for text_line in longrepr.splitlines():
        match = _SUB_EXCEPTION.match(text_line)
        if match and not match["line"].startswith(("ExceptionGroup", "BaseExceptionGroup")):
            if match["line"] not in found:
                found.append(match["line"])
    return found


def divergence_of(nodeid: str, outcome: str, message: str | None) -> str | None:
    """The recorded divergence a test replays, or that its skip or xfail message names."""
    replay = _REPLAY.search(nodeid)
    if replay:
        return replay["id"]
    mention = _MENTION.search(message or "") if outcome in ("skipped", "xfailed") else None
    return mention["id"] if mention else None


class ResultsWriter:
    """The pytest plugin that records every test's outcome and writes the result file at the end.

    Register it on the controller only: under pytest-xdist the controller's
    ``pytest_runtest_logreport`` sees every worker's reports."""

    def __init__(self, config, path: Path, environment: dict, expectations: Expectations | None):
        self.config = config
        self.path = path
        self.environment = environment
        self.expectations = expectations
        self.tests: dict[str, dict] = {}
        self.seconds: dict[str, float] = {}
        self.started = time.monotonic()

    def _record(self, report, outcome: str):
        message = first_line(report)
        expectation = dict(getattr(report, "user_properties", ())).get(PROPERTY)
        self.tests[report.nodeid] = {
            "nodeid": report.nodeid,
            "outcome": outcome,
            "divergence": divergence_of(report.nodeid, outcome, message),
            "expectation": expectation,
            "message": message,
        }

    def pytest_runtest_logreport(self, report):
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration
        outcome = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        # setup and teardown report "" when they pass; an error outranks the call's outcome
        if outcome and (report.nodeid not in self.tests or outcome == "error"):
            self._record(report, outcome)

    def pytest_collectreport(self, report):
        if report.failed or report.skipped:
            self._record(report, "error" if report.failed else "skipped")

    def pytest_sessionfinish(self, exitstatus):
        unmatched = self.expectations.unmatched if self.expectations else None
        result = {
            "schema": SCHEMA,
            "environment": self.environment,
            "exit_status": int(exitstatus),
            "unmatched_expectations": [e.as_dict() for e in unmatched or ()],
            "wall_seconds": round(time.monotonic() - self.started, 1),
            "tests": sorted(({**test, "seconds": round(self.seconds.get(nodeid, 0.0), 2)}
                             for nodeid, test in self.tests.items()), key=lambda test: test["nodeid"]),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(result, indent=1) + "\n")
        partial.replace(self.path)

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(f"kmask: results written to {self.path}")
