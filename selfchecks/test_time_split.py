"""benchmarks/time_split.py puts each profile sample in the kind of work its stack is doing."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "time_split.py"
RUNTEST = "main (pytest/__main__.py:9);pytest_runtest_call (_pytest/runner.py:174)"
TEST = "test_x (tests/test_padding_invisible.py:40)"
PROFILE = "\n".join([
    "main (pytest/__main__.py:9);<module> (tensorflow/__init__.py:1) 40",
    f"{RUNTEST};{TEST};model_for (kmask/build.py:190);ModelCache.get (kmask/build.py:160);"
    "build (kmask/build.py:140);Layer.__call__ (keras/src/layers/layer.py:1002) 30",
    f"{RUNTEST};{TEST};Layer.__call__ (keras/src/layers/layer.py:1002) 20",
    f"{RUNTEST};{TEST};Function.__call__ (tensorflow/python/eager/polymorphic_function/polymorphic_function.py:833);"
    "trace_function (tensorflow/python/eager/polymorphic_function/tracing_compilation.py:178) 10",
    f"{RUNTEST};{TEST};DataObject.draw (hypothesis/strategies/_internal/core.py:2100) 4",
    f"{RUNTEST};{TEST};assert_allclose (numpy/testing/_private/utils.py:1500) 6",
])


def test_samples_are_split_by_kind_of_work(tmp_path):
    """A build's Keras call counts as building, a trace as tracing, the rest by its own frames."""
    profile = tmp_path / "run.txt"
    profile.write_text(PROFILE + "\n")
    result = subprocess.run([sys.executable, str(SCRIPT), str(profile), "--rate", "10"],
                            capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "11 s sampled"
    for row in ("| building models | 3 | 27% |", "| eager Keras calls | 2 | 18% |",
                "| tracing functions | 1 | 9% |", "| drawing examples | 0 | 4% |",
                "| other (oracles, checks, harness) | 1 | 5% |", "| outside tests (imports, collection) | 4 | 36% |"):
        assert row in lines, result.stdout
    assert "| `tests/test_padding_invisible.py` | 7 | 3 | 1 | 0 | 0 | 0 | 2 | 0 | 0 | 1 |" in lines


def test_a_file_that_is_not_a_profile_is_one_clear_error(tmp_path):
    profile = tmp_path / "run.txt"
    profile.write_text("not a profile\n")
    result = subprocess.run([sys.executable, str(SCRIPT), str(profile), "--rate", "10"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "not a py-spy raw profile" in result.stderr and "Traceback" not in result.stderr
