"""Reproducers beyond the fault families (whose scripts selfchecks/fault_scripts.py checks in
each family's own test): the save/load check's script shows its fault, the NumPy lines a script
spells out for each loss and metric equal the reference, and kmask.replay writes a stored
failure's script again."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from kmask import loss_reference as ref
from kmask import replay
from kmask.properties import load
from kmask.report import REPORT_DIR_VARIABLE, RUN_VARIABLE
from kmask.reproducers import PER_STEP_LOSS, PER_STEP_METRIC, function_source
from kmask.save_load import EMBED_LSTM, check_reload_keeps_masking

from . import loss_faults, propagation_faults
from .fault_scripts import assert_script_shows
from .injection import assert_fails_under, injected


@pytest.mark.parametrize("file_format", ["keras", "h5"])
def test_save_load_reproducer_shows_the_fault(file_format, tmp_path, monkeypatch):
    """The save/load check (fixed examples, no Hypothesis) fails under its fault and writes a
    script that exits 1 with the fault injected and 0 without it."""
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path / "reports"))
    monkeypatch.setenv(RUN_VARIABLE, "0")
    (tmp_path / "saved").mkdir()
    assert_fails_under(
        propagation_faults.SAVE_LOAD_FAULT, f"reloaded from {file_format}",
        lambda: check_reload_keeps_masking(EMBED_LSTM, "sequential", file_format, tmp_path / "saved"),
        f"check_reload_keeps_masking(EMBED_LSTM, 'sequential', {file_format!r})",
    )
    assert_script_shows(tmp_path / "reports", f"{propagation_faults.__name__}:SAVE_LOAD_FAULT")


def _sample(kind: str, rng):
    """Targets of ``kind`` and positive, normalised predictions of shape (2, 3, 3)."""
    predictions = rng.uniform(0.05, 1, (2, 3, 3))
    predictions /= predictions.sum(axis=-1, keepdims=True)
    targets = {
        "real": rng.normal(size=(2, 3, 3)),
        "binary": rng.integers(0, 2, (2, 3, 3)).astype(float),
        "one_hot": np.eye(3)[rng.integers(0, 3, (2, 3))],
        "distribution": predictions[::-1],
        "sparse": rng.integers(0, 3, (2, 3)).astype(float),
    }[kind]
    return targets, predictions


@pytest.mark.parametrize("loss", sorted(ref.LOSSES))
def test_script_loss_formula_equals_reference(loss):
    """The few NumPy lines a script spells out for ``loss`` give kmask.loss_reference's values."""
    namespace = {"np": np}
    exec(function_source("per_step_loss", PER_STEP_LOSS[loss], ""), namespace)
    targets, predictions = _sample(ref.LOSSES[loss][1], np.random.default_rng(0))
    np.testing.assert_allclose(namespace["per_step_loss"](targets, predictions),
                               ref.per_step_loss(loss, targets, predictions), rtol=1e-12)


@pytest.mark.parametrize("metric", sorted(PER_STEP_METRIC))
def test_script_metric_formula_equals_reference(metric):
    """The NumPy lines a script spells out for ``metric`` give kmask.loss_reference's values."""
    namespace = {"np": np}
    exec(function_source("per_step_metric", PER_STEP_METRIC[metric], ""), namespace)
    kind = {"binary_accuracy": "binary", "categorical_accuracy": "one_hot",
            "sparse_categorical_accuracy": "sparse"}.get(metric, "real")
    targets, predictions = _sample(kind, np.random.default_rng(1))
    np.testing.assert_allclose(namespace["per_step_metric"](targets, predictions),
                               ref.per_step_metric(metric, targets, predictions), rtol=1e-12)


def test_replay_writes_a_stored_failure(tmp_path, monkeypatch):
    """A failure that a run stored in the example database is replayed by kmask.replay (the
    stored example only, under the same key Hypothesis's pytest plugin uses) and writes its
    reproducer again, without a new search."""
    test_id = "tests/test_compiled_loss.py::test_compiled_loss_equals_masked_reference"
    item = SimpleNamespace(nodeid=f"{test_id}[graph]", obj=load(test_id),
                           callspec=SimpleNamespace(params={"execution": "graph"}))
    database = DirectoryBasedExampleDatabase(str(tmp_path / "examples"))
    monkeypatch.setenv(RUN_VARIABLE, "0")
    original = item.obj._hypothesis_internal_use_settings
    try:
        with injected(loss_faults.FAULTS["loss_divides_by_all_steps"]):
            monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path / "first-run"))
            item.obj._hypothesis_internal_use_settings = settings(
                original, database=database, max_examples=60, phases=[Phase.generate])
            replay.database_key(item)
            with pytest.raises(AssertionError):
                item.obj(execution="graph")
            assert list(database.fetch(replay.database_key(item))), "the failing run stored nothing"
            monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path / "replayed"))
            replay.only_stored(item.obj, database)
            written = replay.replay(item)
    finally:
        item.obj._hypothesis_internal_use_settings = original
    assert written.startswith(f"python {tmp_path / 'replayed'}"), written
