"""The user expectations file: matching tests are xfailed, stale lines are reported, and a
malformed file is a usage error."""

import json

import pytest

from kmask.xfails import Expectation, parse

from .pytest_runs import SEED, run_pytest

FAULT_PLUGIN = '''
def pytest_sessionstart(session):
    """Make the seed notebook test fail: the loss divides by every timestep again."""
    from selfchecks.loss_faults import FAULTS

    session.config.kmask_fault = FAULTS["loss_divides_by_all_steps"].inject()  # kept: exits when freed
    session.config.kmask_fault.__enter__()
'''


def test_parse_skips_comments_and_keeps_reasons(tmp_path):
    path = tmp_path / "xfails.txt"
    path.write_text("# header\n\n  tests/a.py::test_b[x-1]*  # needs a fix # really\n")
    assert parse(path) == [Expectation("tests/a.py::test_b[x-1]*", "needs a fix # really", 3)]


def test_brackets_are_literal_and_stars_are_wildcards():
    expectation = Expectation("tests/t.py::test_known_divergence[loss-*]", "why", 1)
    assert expectation.matches("tests/t.py::test_known_divergence[loss-all-padded-batch-nan]")
    assert not Expectation("tests/t.py::test_b[x]", "why", 1).matches("tests/t.py::test_bx")
    assert Expectation("tests/t.py::test_b[x]", "why", 1).matches("tests/t.py::test_b[x]")


@pytest.mark.parametrize(
    "text, message",
    [
        ("tests/a.py::test_b\n", r"xfails.txt:1: 'tests/a.py::test_b' has no reason: write it as"),
        ("tests/a.py::test_b  #   \n", r"has no reason"),
    ],
)
def test_line_without_reason_is_a_usage_error(tmp_path, text, message):
    path = tmp_path / "xfails.txt"
    path.write_text(text)
    with pytest.raises(pytest.UsageError, match=message):
        parse(path)


def test_missing_file_is_a_usage_error_in_a_run(tmp_path):
    result = run_pytest(SEED, "--collect-only", KMASK_XFAILS=str(tmp_path / "absent.txt"))
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "absent.txt' does not exist: create it" in result.stderr


def test_matching_test_is_xfailed_and_stale_pattern_reported(tmp_path):
    """Under an injected fault the seed notebook test fails; the file's pattern turns that into an
    xfail recorded with its pattern, and a pattern that matches nothing is named in the terminal
    summary and in the result file."""
    (tmp_path / "kmask_fault_plugin.py").write_text(FAULT_PLUGIN)
    xfails = tmp_path / "xfails.txt"
    xfails.write_text(
        "tests/test_seed_notebook.py::test_seed_notebook_*  # old denominator injected\n"
        "tests/test_gone.py::test_*  # a test that was removed\n"
    )
    result = run_pytest(
        SEED, "-p", "kmask_fault_plugin", "--kmask-xfails", str(xfails),
        PYTHONPATH=str(tmp_path), KMASK_RESULTS_DIR=str(tmp_path), KMASK_ENV="fault",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"kmask: expected failures from {xfails}" in result.stdout
    assert "kmask xfails: 1 pattern(s) match no collected test" in result.stdout
    assert f"{xfails}:2: tests/test_gone.py::test_*  # a test that was removed" in result.stdout
    written = json.loads((tmp_path / "fault.json").read_text())
    (test,) = written["tests"]
    assert test["outcome"] == "xfailed"
    assert test["expectation"] == "tests/test_seed_notebook.py::test_seed_notebook_*"
    assert test["message"] == f"old denominator injected (expected in {xfails}:1)"
    assert written["unmatched_expectations"] == [
        {"pattern": "tests/test_gone.py::test_*", "reason": "a test that was removed", "line": 2}
    ]
