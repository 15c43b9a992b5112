"""A failing property leaves a standalone script that shows the same failure with plain Keras."""

import os
import re
import subprocess
import sys

import pytest

from kmask.report import REPORT_DIR_VARIABLE, WITNESSES_VARIABLE
from kmask.witnesses import bidirectional_unroll_witness


def test_failure_leaves_a_script_that_fails_the_same_way(tmp_path, monkeypatch):
    """The bidirectional-unroll divergence (active on every supported Keras) fails its property,
    names a script in the failure, and that script, run alone, exits 1 with the mismatch."""
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv(WITNESSES_VARIABLE, "1")  # a witness writes one only on request
    with pytest.raises(AssertionError, match="Standalone reproduction") as failure:
        bidirectional_unroll_witness()
    (script,) = tmp_path.glob("padded_vs_alone-*.py")
    assert str(script) in str(failure.value)
    assert not re.search(r"^\s*(import|from)\s+(kmask|strategies|tests)\b", script.read_text(), re.M)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ""}, timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "REPRODUCED" in result.stdout and "!= run 1" in result.stdout
    assert script.with_suffix(".md").read_text().startswith("# ")
