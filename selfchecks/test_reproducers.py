"""Every fault family's failures leave a standalone reproducer that shows the fault and only it:
run in a fresh interpreter with the fault injected it exits 1, against healthy Keras it exits 0,
and it imports nothing but TensorFlow/Keras, NumPy and the standard library."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from kmask import loss_reference as ref
from kmask import replay
from kmask.properties import ROOT, load
from kmask.report import AGREES, REPORT_DIR_VARIABLE, REPRODUCES, RUN_VARIABLE
from kmask.reproducers import PER_STEP_LOSS, PER_STEP_METRIC, function_source
from kmask.save_load import EMBED_LSTM, check_reload_keeps_masking

from . import edge_faults, extreme_faults, faults, loss_faults, pipeline_faults, propagation_faults, training_faults
from .injection import assert_fails_under, assert_property_fails, injected

FAMILIES = {module.__name__: module for module in (faults, loss_faults, propagation_faults, training_faults,
                                                   extreme_faults, edge_faults, pipeline_faults)}

WRITES_REPRODUCERS = {
    "tests/test_padding_invisible.py::test_padded_batch_equals_each_sample_alone",
    "tests/test_padding_invisible.py::test_real_outputs_ignore_padding_content",
    "tests/test_padding_invisible.py::test_real_outputs_ignore_extra_padding",
    "tests/test_padding_invisible.py::test_masking_layer_equals_true_mask",
    "tests/test_execution_modes.py::test_compiled_outputs_equal_eager",
    "tests/test_extreme_padding.py::test_real_outputs_ignore_extreme_padding_content",
    "tests/test_extreme_padding.py::test_pooling_gives_masked_mean",
    "tests/test_extreme_padding.py::test_attention_reads_only_real_keys",
    "tests/test_recurrent_padding.py::test_recurrent_outputs_hold_at_padded_steps",
    "tests/test_recurrent_padding.py::test_recurrent_wiring_keeps_rows_independent",
    "tests/test_recurrent_padding.py::test_stateful_rnn_continues_from_last_real_step",
    "tests/test_compiled_loss.py::test_compiled_loss_equals_masked_reference",
    "tests/test_compiled_loss.py::test_compiled_metrics_equal_masked_reference",
    "tests/test_compiled_loss.py::test_loss_ignores_padded_targets",
    "tests/test_compiled_loss.py::test_mixed_precision_loss_equals_masked_reference",
    "tests/test_compiled_loss.py::test_graph_output_loss_follows_its_rule_mask",
    "tests/test_input_pipelines.py::test_padded_batch_pipeline_ignores_how_far_it_pads",
    "tests/test_input_pipelines.py::test_text_tokens_mask_only_padding",
    "tests/test_multi_output_loss.py::test_each_output_masked_with_its_own_mask",
    "tests/test_mask_propagation.py::test_functional_graph_masks_follow_rules",
    "tests/test_mask_propagation.py::test_sequential_masks_follow_rules",
    "tests/test_api_equivalence.py::test_apis_give_same_outputs_and_mask",
    "tests/test_masking_claims.py::test_consumer_after_propagating_layers_ignores_padding",
    "tests/test_masking_claims.py::test_unsupported_layer_drops_mask_silently",
    "tests/test_gradients.py::test_input_gradient_is_zero_at_padded_steps",
    "tests/test_gradients.py::test_weight_gradients_ignore_padding",
    "tests/test_optimizer_steps.py::test_optimizer_step_ignores_padding",
    "tests/test_optimizer_steps.py::test_fit_ignores_padding",
    "tests/test_training_mode.py::test_training_outputs_ignore_padding",
    "tests/test_batchnorm_mask.py::test_batchnorm_statistics_ignore_padded_steps",
    "tests/test_mixed_precision.py::test_mixed_precision_agrees_with_float32",
    "tests/test_edge_shapes.py::test_edge_shapes_keep_padding_invisible",
    "tests/test_edge_shapes.py::test_empty_batch_gives_empty_outputs",
    "tests/test_edge_shapes.py::test_predict_over_padded_batches_equals_eager",
    "tests/test_seed_notebook.py::test_seed_notebook_evaluate_equals_masked_loss",
}
"""The properties that write a reproducer when they fail; the others' cases are strict xfails
(what issue 9 still lacks), which turn into failures the day their property writes one."""

ALLOWED_IMPORTS = {"numpy", "tensorflow", "keras", "tf_keras", "importlib", "inspect", "os", "platform", "tempfile",
                   "traceback"}


def cases():
    """One fault case per (property, comparison): a second fault that breaks the same comparison of
    the same property makes the same script fail the same way, and each case costs a property run
    and two fresh interpreters (the fault cases themselves all run in the family tests)."""
    found, seen = [], set()
    for module_name, module in FAMILIES.items():
        for case in module.CASES:
            if (case.test_id, case.fragment) in seen:
                continue
            seen.add((case.test_id, case.fragment))
            marks = [] if case.test_id in WRITES_REPRODUCERS else [pytest.mark.xfail(
                strict=True, reason=f"{case.test_id} writes no reproducer yet")]
            found.append(pytest.param(module_name, case, id=f"{module_name.rpartition('.')[2]}-{case.name}",
                                      marks=marks))
    return found


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module the script imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").partition(".")[0])
    return names


def run_script(script, fault: str | None = None) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, with ``fault`` ("module:expression" naming a
    :class:`~selfchecks.injection.Fault`) injected if given."""
    if fault is None:
        command = [sys.executable, str(script)]
    else:
        module_name, _, expression = fault.partition(":")
        runner = (f"import runpy\nimport {module_name}\n"
                  f"with {module_name}.{expression}.inject():\n    runpy.run_path({str(script)!r}, run_name='__main__')")
        command = [sys.executable, "-c", runner]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def assert_script_shows(directory, fault: str) -> None:
    """The one script written in ``directory`` imports only Keras, NumPy and the standard library,
    exits 1 with ``fault`` injected and 0 without it."""
    scripts = list(directory.glob("*.py"))
    assert len(scripts) == 1, f"reproducers written under {fault}: {scripts}"
    source = scripts[0].read_text()
    assert imported_modules(source) <= ALLOWED_IMPORTS, imported_modules(source) - ALLOWED_IMPORTS
    broken = run_script(scripts[0], fault)
    assert broken.returncode == REPRODUCES, f"under {fault}:\n{broken.stdout}{broken.stderr}"
    healthy = run_script(scripts[0])
    assert healthy.returncode == AGREES, f"healthy Keras:\n{healthy.stdout}{healthy.stderr}"


@pytest.mark.parametrize("module_name, case", cases())
def test_reproducer_shows_the_fault(module_name, case, tmp_path, monkeypatch):
    """The property fails under the fault and names a script; that script imports only Keras,
    NumPy and the standard library, exits 1 with the fault injected and 0 without it."""
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv(RUN_VARIABLE, "0")  # this check runs the script itself, twice
    assert_property_fails(FAMILIES[module_name].FAULTS[case.fault], case)
    assert_script_shows(tmp_path, f"{module_name}:FAULTS[{case.fault!r}]")


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
