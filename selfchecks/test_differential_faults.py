"""The cross-backend property can fail: a fault injected into the worker process alone (the
"other backend", here a second process on the backend under test, so that this runs wherever
kmask does) makes check_backends_agree fail in the comparison the fault breaks, and the script
it leaves shows the fault when the fault is in the script's "other backend" interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import differential
from kmask.differential import check_backends_agree, examples
from kmask.keras_compat import BACKEND, GENERATION
from kmask.properties import ROOT
from kmask.report import AGREES, REPORT_DIR_VARIABLE, REPRODUCES, RUN_VARIABLE
from selfchecks.injection import UNDER_FAULT

WORKER_FAULTS = [
    ("rnn_ignores_mask", f"{BACKEND} vs {BACKEND}"),
    ("attention_ignores_key_padding", f"{BACKEND} vs {BACKEND}"),
    ("loss_divides_by_all_steps", "that evaluate() reports"),
]
SCRIPT_CHECKED = {"rnn_ignores_mask", "loss_divides_by_all_steps"}
"""The faults whose script is run too: one per stage they break (outputs, the compiled loss)."""

FIRST_CHILD_FAULT = '''
import os
if os.environ.get("RESULTS_FILE") and not os.path.exists({marker!r}):  # the script's first child
    open({marker!r}, "w").close()
    from kmask.backend_worker import injected_fault
    FAULT = injected_fault()  # kept referenced: a collected context would undo the fault
    FAULT.__enter__()  # for the whole of this interpreter's life
'''
"""A sitecustomize that injects ``KMASK_WORKER_FAULT`` into the first child interpreter a
backends script starts: the one that computes the "other backend" side."""


def run_backends_script(script, fault_dir=None) -> subprocess.CompletedProcess:
    """Run ``script``, with ``fault_dir`` (holding FIRST_CHILD_FAULT) ahead on the path if given."""
    path = [str(fault_dir)] if fault_dir else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path + [str(ROOT)])}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


@pytest.mark.skipif(GENERATION != 3, reason="the cross-backend property runs on Keras 3 only")
@pytest.mark.parametrize("fault, fragment", WORKER_FAULTS)
def test_differential_fails_when_the_other_backend_is_broken(fault, fragment, monkeypatch, tmp_path):
    """With ``fault`` injected into the worker only, the comparison fails naming ``fragment``; the
    script it writes exits 1 with the fault in its other-backend child and 0 without it."""
    monkeypatch.setenv("KMASK_WORKER_FAULT", fault)
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path / "reports"))
    monkeypatch.setenv(RUN_VARIABLE, "0")  # run below, twice
    monkeypatch.setattr(differential, "_WORKERS", {})

    @UNDER_FAULT
    @given(data=st.data())
    def compare(data):
        check_backends_agree(*data.draw(examples(BACKEND)), BACKEND)

    try:
        with pytest.raises(AssertionError) as failure:
            compare()
        assert fragment in str(failure.value), f"failed, but not on {fragment!r}: {failure.value}"
    finally:
        for worker in differential._WORKERS.values():
            worker.close()
    if fault not in SCRIPT_CHECKED:
        return
    scripts = list((tmp_path / "reports").glob("backends_*.py"))
    assert len(scripts) == 1, f"scripts written under {fault}: {scripts}"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(FIRST_CHILD_FAULT.format(marker=str(tmp_path / "first")))
    broken = run_backends_script(scripts[0], tmp_path / "site")
    assert broken.returncode == REPRODUCES, f"with {fault} in the other backend:\n{broken.stdout}{broken.stderr}"
    monkeypatch.delenv("KMASK_WORKER_FAULT")
    healthy = run_backends_script(scripts[0])
    assert healthy.returncode == AGREES, f"healthy Keras:\n{healthy.stdout}{healthy.stderr}"
