"""One compiled-loss example and the comparisons the loss properties and their divergence
witnesses share: the reported loss against the masked NumPy reference, and the loss before and
after changing only the targets at padded steps.

The semantics are written in :mod:`kmask.loss_reference`: per batch,
``sum(mask * weight * loss) / sum(mask)``; over batches, the batch-size-weighted mean.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from strategies import StackSpec

from . import loss_reference as ref
from . import report, reproducers
from .compare import assert_close, policy_loss_tolerance
from .build import CACHE
from .compiled import compiled_for
from .divergences import BY_ID

BATCH_SIZE = 4
"""Rows per drawn loss example."""

MIN_REAL_STEPS = 1 if BY_ID["loss-all-padded-batch-nan"].active else 0
"""Real steps every drawn row keeps: 1 where a batch without real steps gets NaN (a recorded
divergence, replayed by its witness), so every batch has one; 0 elsewhere."""


@dataclasses.dataclass(frozen=True, eq=False)
class LossCase:
    """One example: a model, its weights, data, targets, weights and how to run it."""

    spec: StackSpec
    api: str
    loss: str
    execution: str
    method: str
    batch_size: int
    seed: int
    values: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    sample_weight: np.ndarray | None
    policy: str = "float32"
    """The dtype policy the model is built under (a mixed one keeps a float32 head)."""

    def __repr__(self) -> str:
        with np.printoptions(precision=6, threshold=100_000, linewidth=100):
            return (
                f"LossCase(model={self.spec} [{self.api}], loss={self.loss!r}, "
                f"policy={self.policy!r}, execution={self.execution!r}, method={self.method!r}, batch_size={self.batch_size}, "
                f"weight_seed={self.seed},\n  values={self.values!r},\n  mask={self.mask!r},\n"
                f"  targets={self.targets!r},\n  sample_weight={self.sample_weight!r})"
            )


def run_case(case: LossCase):
    """The logs Keras reports for ``case``, and the eager predictions the reference uses."""
    compiled = compiled_for(case.spec, case.api, case.loss, case.execution, case.values.shape[1], case.policy)
    compiled.set_weights(case.seed)
    predictions = compiled.predict_eagerly(case.values)
    try:
        logs = compiled.report(case.method, case.values, case.targets, case.sample_weight, case.batch_size)
    except Exception:
        CACHE.forget(compiled)
        raise
    return logs, predictions


def chunks(case: LossCase):
    """The row slices Keras splits the data into."""
    return [slice(i, i + case.batch_size) for i in range(0, len(case.values), case.batch_size)]


def where(case: LossCase) -> str:
    policy = "" if case.policy == "float32" else f" under {case.policy}"
    return f"{case.method} ({case.execution}, batches of {case.batch_size}) of {case.spec} [{case.api}]{policy}"


def tolerance_of(case: LossCase) -> float:
    """The tolerance of a loss of ``case``: float32's, plus 16-bit rounding under a mixed policy."""
    return policy_loss_tolerance(case.spec, case.values.shape[1], case.policy)


def check_loss(case: LossCase) -> None:
    """The reported loss equals, per batch, ``sum(mask * weight * loss) / sum(mask)``, averaged
    over batches by batch size (failing, it writes a standalone script)."""
    with report.reproduced_by("loss", lambda: reproducers.loss_reproducer(case)):
        _check_loss(case)


def _check_loss(case: LossCase) -> None:
    logs, predictions = run_case(case)
    sw = case.sample_weight
    batch_losses = [
        ref.masked_batch_loss(
            ref.per_step_loss(case.loss, case.targets[rows], predictions[rows]),
            case.mask[rows],
            None if sw is None else sw[rows],
        )
        for rows in chunks(case)
    ]
    expected = ref.over_batches(batch_losses, [len(case.mask[rows]) for rows in chunks(case)])
    assert_close(
        logs["loss"], expected, tolerance_of(case),
        f"'{case.loss}' loss reported by {where(case)} vs sum(mask*weight*loss)/sum(mask) per batch "
        f"({[round(b, 6) for b in batch_losses]}), batch-size-weighted over batches",
    )


def check_padded_targets_ignored(case: LossCase, other_targets: np.ndarray) -> None:
    """The reported loss is the same with ``other_targets``, which differ only at padded steps
    (failing, it writes a standalone script)."""
    with report.reproduced_by("padded_targets",
                              lambda: reproducers.padded_targets_reproducer(case, other_targets)):
        first, _ = run_case(case)
        second, _ = run_case(dataclasses.replace(case, targets=other_targets))
        assert_close(
            second["loss"], first["loss"], tolerance_of(case),
            f"'{case.loss}' loss of {where(case)} after changing only the targets at padded steps",
        )
