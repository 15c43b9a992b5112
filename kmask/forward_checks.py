"""Forward comparisons that a property and a divergence witness (or two properties) both make:
a padded batch against each row run alone, against itself with more padding, and a compiled
call against the eager one; with the scripts they write when they fail."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from strategies import PaddedBatch

from . import report
from .build import model_for
from .checks import assert_eager_runs_agree, assert_same_real_outputs
from .compare import tolerance
from .modes import runner_for
from .run import call_eagerly, call_rows_alone

EXTRA_PADDING = 3
"""Padded steps every "more padding" comparison appends (forward outputs, gradients, optimizer
steps, training mode)."""


def unpadded(batch: PaddedBatch, i: int) -> PaddedBatch:
    """Row ``i`` of ``batch`` without its padding, as a batch of one."""
    values = batch.row(i)
    return PaddedBatch(batch.style, values, np.ones(values.shape[:2], bool), batch.mask_value)


def check_padded_equals_alone(spec, api, batch) -> None:
    """At every real position and in every final output, the padded batch gives what each row
    gives run alone without its padding (failing, it writes a standalone script)."""
    with report.reproduced_by("padded_vs_alone", lambda: padded_vs_alone_script(spec, api, batch)):
        outputs = call_eagerly(model_for(spec, api, batch.timesteps), batch)
        alone = call_rows_alone(lambda n: model_for(spec, api, n), batch)
        for i, row_outputs in alone.items():
            assert_same_real_outputs(
                spec, batch, outputs, [i], unpadded(batch, i), row_outputs, [0],
                "padded batch vs the row run alone",
            )


def padded_vs_alone_script(spec, api, batch) -> str:
    """The standalone script of :func:`check_padded_equals_alone` on ``batch``."""
    rows = [i for i in range(batch.batch_size) if batch.lengths[i]]
    runs = [report.run_of("make_model", spec, batch)]
    comparisons = []
    for k, i in enumerate(rows, start=1):
        alone = unpadded(batch, i)
        runs.append(report.run_of("make_model", spec, alone))
        comparisons += report.row_comparisons(spec, batch, 0, [i], alone, k, [0])
    return report.script(
        f"Padding changes what a {api} model computes: {spec}",
        "at every real timestep and in every final output, a padded batch (run 0) gives what "
        "each row gives when run alone without its padding (runs 1...)",
        {"make_model": (spec, api)}, runs, comparisons, tolerance(spec.depth, batch.timesteps),
    )


def two_runs_script(title, expectation, spec, models, run_a, batch_a, run_b, batch_b) -> report.Reproducer:
    """The script comparing run ``a`` on ``batch_a`` with run ``b`` on ``batch_b``, row by row, at
    real steps and final outputs."""
    rows = range(batch_a.batch_size)
    return report.script(
        title, expectation, models, [run_a, run_b],
        report.row_comparisons(spec, batch_a, 0, rows, batch_b, 1, rows),
        tolerance(spec.depth, max(batch_a.timesteps, batch_b.timesteps)),
    )


def check_extra_padding_ignored(spec, api, batch, where: str = "") -> None:
    """Appending :data:`EXTRA_PADDING` padded steps changes no real output and no final output
    (failing, it writes a standalone script); ``where`` starts the failure message."""
    longer = batch.extended(EXTRA_PADDING)
    script = functools.partial(
        two_runs_script,
        f"More padding changes a {api} model's real outputs: {spec}",
        f"appending {EXTRA_PADDING} more padded timesteps (run 1) changes no real output and no "
        "final output of run 0",
        spec, {"make_model": (spec, api)},
        report.run_of("make_model", spec, batch), batch, report.run_of("make_model", spec, longer), longer,
    )
    with report.reproduced_by("extra_padding", script):
        assert_eager_runs_agree(
            spec, model_for(spec, api, batch.timesteps), batch,
            model_for(spec, api, longer.timesteps), longer,
            f"{where}padded vs {EXTRA_PADDING} more padded steps",
        )


def check_modes_agree(spec, mode, batch, api="functional") -> None:
    """The model run in execution ``mode`` (kmask.modes.MODES) gives the eager outputs at every
    real position and in every final output."""
    runner = runner_for(spec, api, mode, batch.timesteps)
    with report.reproduced_by("modes", lambda: modes_script(spec, api, mode, batch)):
        eager, compiled = runner.eager(batch), runner.compiled(batch)
        rows = range(batch.batch_size)
        assert_same_real_outputs(spec, batch, compiled, rows, batch, eager, rows, f"{mode} vs eager")


def modes_script(spec, api, mode, batch) -> report.Reproducer:
    """The standalone script of :func:`check_modes_agree` on ``batch``."""
    rows = range(batch.batch_size)
    eager = report.run_of("make_model", spec, batch)
    return report.script(
        f"A {api} model gives other masked outputs in {mode} than eagerly: {spec}",
        f"the model called in {mode} (run 0) gives, at every real timestep and in every final output, "
        "what it gives eagerly (run 1)",
        {"make_model": (spec, api)}, [dataclasses.replace(eager, mode=mode), eager],
        report.row_comparisons(spec, batch, 0, rows, batch, 1, rows), tolerance(spec.depth, batch.timesteps),
    )
