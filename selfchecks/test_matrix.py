"""The version report reads result files right, and a real run writes a result file it can read."""

import json
import subprocess
from pathlib import Path

import pytest

from kmask import matrix
from kmask.results import environment_name, sub_exceptions

from .pytest_runs import SEED, run_pytest

PADDING = "tests/test_padding_invisible.py::test_padded_batch_equals_each_sample_alone[lstm-functional]"
LOSS = "tests/test_compiled_loss.py::test_loss_ignores_padded_targets"
TRAINING = "tests/test_gradients.py::test_input_gradient_is_zero_at_padded_steps[lstm]"


def replay(divergence, outcome, message=None):
    return {"nodeid": f"tests/test_known_divergences.py::test_known_divergence[{divergence}]",
            "outcome": outcome, "divergence": divergence, "expectation": None, "message": message}


def outcome_of(nodeid, outcome, message=None):
    return {"nodeid": nodeid, "outcome": outcome, "divergence": None, "expectation": None, "message": message}


RUNS = {
    "keras3.9": [
        outcome_of(PADDING, "passed"), outcome_of(LOSS, "passed"), outcome_of(TRAINING, "passed"),
        replay("loss-all-padded-batch-nan", "xfailed", "known divergence 'loss-all-padded-batch-nan' ..."),
        replay("nested-model-symbolic-mask-dropped", "xfailed"),
    ],
    "keras3.10": [  # a new failure, an unexpected pass, a divergence gone, no training family
        outcome_of(PADDING, "failed", "AssertionError: padded batch vs the row run alone: output 0, row 1"),
        outcome_of(LOSS, "skipped", "known divergence 'x' covers this case"),
        replay("loss-all-padded-batch-nan", "passed"),
        replay("nested-model-symbolic-mask-dropped", "failed",
               "Failed: unexpected pass: known divergence 'nested-model-symbolic-mask-dropped' ..."),
    ],
    "tf2.21": [outcome_of(PADDING, "passed"), outcome_of(LOSS, "xfailed", "our data never pads NaNs (expected in x:1)")],
    "tf2.15": [outcome_of(PADDING, "passed"), outcome_of(PADDING.replace("lstm", "gru"), "skipped")],
    "tf2.16-legacy": [outcome_of(PADDING, "passed")],
    "nightly": [outcome_of(PADDING, "error", "ImportError: no keras")],
}


def write_runs(directory):
    for name, tests in RUNS.items():
        environment = {
            "name": name, "python": "3.11.7", "tensorflow": "2.x", "keras": "3.x", "keras_flavour": "keras",
            "keras_generation": 3, "backend": "tensorflow", "numpy": "2", "hypothesis": "6",
            "hypothesis_profile": "ci", "max_examples": 10, "date": "2026-11-30T00:00:00+00:00",
            "keras_path": "/venv/lib/python3.11/site-packages/keras", "xfails_file": None,
        }
        if name != "nightly":  # older result files have no oneDNN stamp
            environment["onednn"] = name != "tf2.15"
        unmatched = [{"pattern": "tests/gone.py::*", "reason": "removed", "line": 3}] if name == "tf2.21" else []
        result = {"schema": 1, "environment": environment, "exit_status": 2 if name == "nightly" else 0,
                  "wall_seconds": 90.0,
                  "unmatched_expectations": unmatched, "tests": tests}
        (directory / f"{name}.json").write_text(json.dumps(result))


def test_environments_are_ordered_along_axes(tmp_path):
    write_runs(tmp_path)
    names = [run.name for run in matrix.load(tmp_path)]
    assert names == ["tf2.15", "tf2.21", "tf2.16-legacy", "keras3.9", "keras3.10", "nightly"]


def test_cells_hold_the_worst_verdict(tmp_path):
    write_runs(tmp_path)
    m = matrix.build(matrix.load(tmp_path))
    assert m.families == ["padding invisible", "mask propagation", "compiled loss", "training"]
    assert m.divergences == ["loss-all-padded-batch-nan", "nested-model-symbolic-mask-dropped"]
    assert m.verdict("padding invisible", "tf2.15") == matrix.PASS  # pass beats skipped
    assert m.verdict("padding invisible", "keras3.10") == matrix.NEW_FAILURE
    assert m.verdict("padding invisible", "nightly") == matrix.NEW_FAILURE  # an error is a failure
    assert m.verdict("compiled loss", "tf2.21") == matrix.RECORDED  # xfailed by an expectation
    assert m.verdict("compiled loss", "keras3.10") == matrix.SKIPPED
    assert m.verdict("training", "keras3.10") == matrix.NOT_RUN  # family missing in this env
    assert m.verdict("mask propagation", "keras3.9") == matrix.NOT_RUN
    assert m.verdict("nested-model-symbolic-mask-dropped", "keras3.10") == matrix.UNEXPECTED_PASS
    assert m.verdict("loss-all-padded-batch-nan", "keras3.10") == matrix.PASS


def test_report_words_cells_changes_and_failures(tmp_path):
    pytest.importorskip("matplotlib", reason="the heat map needs the report extra: pip install -e '.[report]'")
    write_runs(tmp_path)
    (tmp_path / "intro.md").write_text("Part 1 ran at commit abc1234.\n")
    matrix.main([str(tmp_path), "--out", str(tmp_path / "out" / "versions"), "--intro", str(tmp_path / "intro.md")])
    report = (tmp_path / "out" / "versions.md").read_text()
    assert report.startswith("# kmask version report\n\nPart 1 ran at commit abc1234.\n\nFrom 6 result file(s)")
    assert "| `loss-all-padded-batch-nan` | not run | not run | not run | reproduces | absent | not run |" in report
    assert "| **padding invisible** | pass | pass | pass | pass | **new failure** (1) | **new failure** (1) |" in report
    assert "| `nested-model-symbolic-mask-dropped` | not run | not run | not run | reproduces | " \
        "**unexpected pass** (1) | not run |" in report
    assert "- keras3.9 → keras3.10: `loss-all-padded-batch-nan` stops reproducing" in report
    assert "- keras3.9 → keras3.10: `nested-model-symbolic-mask-dropped`: reproduces → unexpected pass" in report
    assert f"- keras3.9 → keras3.10: `{PADDING}`: pass → new failure" in report
    assert "- keras3.9 → keras3.10: 1 test(s) ran only in keras3.9, 0 only in keras3.10" in report
    assert "- tf2.15 → tf2.21: 1 test(s) ran only in tf2.15, 1 only in tf2.21" in report
    assert "nightly →" not in report and "→ nightly" not in report  # not on an axis
    assert f"- `{PADDING}` (failed): AssertionError: padded batch vs the row run alone" in report
    assert "- tf2.21: line 3: `tests/gone.py::*` (removed)" in report
    assert "| ci | 10 | 1.5 | 0 | ? |" in report  # minutes, exit status, commit (not stamped here)
    assert "| 2 (interrupted: incomplete) |" in report
    assert "| tf2.15 | 2.x | 3.x | keras | tensorflow | off | 3.11.7 |" in report  # oneDNN kernels
    assert "| tf2.21 | 2.x | 3.x | keras | tensorflow | on | 3.11.7 |" in report
    assert "| nightly | 2.x | 3.x | keras | tensorflow | ? | 3.11.7 |" in report
    assert (tmp_path / "out" / "versions.png").read_bytes().startswith(b"\x89PNG")


def test_a_missing_intro_file_is_one_clear_error(tmp_path):
    write_runs(tmp_path)
    with pytest.raises(SystemExit, match="--intro .*nope.md: no such file"):
        matrix.main([str(tmp_path), "--out", str(tmp_path / "versions"), "--intro", str(tmp_path / "nope.md")])


def test_committed_result_files_are_not_ignored_by_git():
    """The result files the committed report is made from (``reports/results/*.json``) are
    tracked: until 2026-12-02 a ``results/`` rule in ``.gitignore`` also matched that folder, and
    the files behind the report were never committed."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "reports/results/tf2.21.json"], cwd=root)
    assert ignored.returncode == 1, ".gitignore ignores reports/results/: anchor the rule, e.g. /results/"


GROUP_TRACEBACK = """\
  + Exception Group Traceback (most recent call last):
  |   File "test_x.py", line 3, in test_x
  | ExceptionGroup: Hypothesis found 2 distinct failures. (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "test_x.py", line 7, in test_x
    |     assert x < 5, "too big"
    | AssertionError: too big
    | assert 5 < 5
    +---------------- 2 ----------------
    | Traceback (most recent call last):
    |     raise ValueError("three is bad")
    | ValueError: three is bad
    | second line
    +------------------------------------
"""


def test_exception_groups_keep_each_failure_message():
    """A Hypothesis test with several distinct failures records the first line of each one,
    not only "Hypothesis found 2 distinct failures"."""
    assert sub_exceptions(GROUP_TRACEBACK) == ["AssertionError: too big", "ValueError: three is bad"]


def test_run_writes_a_result_file_the_report_reads(tmp_path, monkeypatch):
    """pytest on the seed notebook, with KMASK_RESULTS_DIR and no KMASK_ENV, writes
    DIR/<tf-and-keras-versions>.json with the environment stamp and one passed test."""
    result = run_pytest(SEED, KMASK_RESULTS_DIR=str(tmp_path), KMASK_PROFILE="ci")
    assert result.returncode == 0, result.stdout + result.stderr
    monkeypatch.delenv("KMASK_ENV", raising=False)
    path = tmp_path / f"{environment_name()}.json"
    assert f"kmask: results written to {path}" in result.stdout
    written = json.loads(path.read_text())
    assert set(written) == {"schema", "environment", "exit_status", "unmatched_expectations", "wall_seconds", "tests"}
    assert set(written["environment"]) == {
        "name", "python", "tensorflow", "keras", "keras_flavour", "keras_generation", "backend", "onednn", "numpy",
        "hypothesis", "hypothesis_profile", "max_examples", "date", "keras_path", "xfails_file", "kmask_commit",
    }
    assert written["environment"]["hypothesis_profile"] == "ci"
    (test,) = written["tests"]
    assert 0 < test.pop("seconds") <= written["wall_seconds"]
    assert test == {
        "nodeid": "tests/test_seed_notebook.py::test_seed_notebook_evaluate_equals_masked_loss",
        "outcome": "passed", "divergence": None, "expectation": None, "message": None,
    }
    run = matrix.load(tmp_path)[0]
    assert matrix.build([run]).verdict("compiled loss", run.name) == matrix.PASS
