"""Running pytest on a small selection in a subprocess, for the self-checks of kmask's options,
result files and expectations file."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = "tests/test_seed_notebook.py"
"""A one-test selection that imports Keras and runs in seconds."""

def run_pytest(*args, **env) -> subprocess.CompletedProcess:
    """``python -m pytest -n 0 ARGS`` in the repository, with no kmask/CI variable inherited
    except those in ``env``."""
    clean = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("KMASK_", "PYTEST_")) and k not in ("CI", "TF_USE_LEGACY_KERAS")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=300,
    )
