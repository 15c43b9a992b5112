"""Known divergences: where the installed Keras disagrees with a property, and why.

Each record names the Keras versions it affects, says in one sentence what
Keras does instead, and links the upstream report. Random stacks that hit an
active divergence are not drawn (so the rest of the property stays sharp), and
``tests/test_known_divergences.py`` replays one witness per record: it must
still fail where the record is active, and pass where it is not, so a fix
upstream (an unexpected pass) is reported, not hidden.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from packaging.specifiers import SpecifierSet

from strategies import StackSpec

from .keras_compat import KERAS_VERSION


@dataclasses.dataclass(frozen=True)
class Divergence:
    id: str
    keras: str
    """Keras versions affected, as a PEP 440 specifier on the Keras version."""
    reason: str
    """What Keras does instead of the property, in one sentence."""
    upstream: str
    matches: Callable[[StackSpec, str], bool] = lambda spec, how: False
    """Whether a random stack hits this divergence when built with an API or run in an execution
    mode (such stacks are not drawn); divergences outside the stack properties keep the default."""
    whole_cases: frozenset = frozenset()
    """(focus layer kind, API or mode) pairs where every stack hits this divergence."""

    @property
    def active(self) -> bool:
        return KERAS_VERSION in SpecifierSet(self.keras)

    def explain(self) -> str:
        state = "affects" if self.active else "does not affect"
        return (
            f"known divergence '{self.id}' (Keras {self.keras}; {state} the installed "
            f"Keras {KERAS_VERSION}): {self.reason} Upstream: {self.upstream}"
        )


def _bidirectional_unrolled(spec: StackSpec, how: str) -> bool:
    return any(
        layer.kind == "Bidirectional" and layer.recurrent.option("unroll", False)
        for layer in spec.layers
    )


DIVERGENCES = (
    Divergence(
        id="bidirectional-unroll-zeroes-backward",
        keras=">=2.12",
        reason=(
            "Bidirectional around an RNN with unroll=True returns zeros from its backward "
            "direction at the real timesteps of a post-padded sequence (unroll=False is right)."
        ),
        upstream="related: https://github.com/keras-team/tf-keras/issues/252 (backward RNNs "
        "misapply zero_output_for_mask)",
        matches=_bidirectional_unrolled,
    ),
    Divergence(
        id="timedistributed-predict-second-length",
        keras=">=3.0",
        reason=(
            "After predict() has run a model holding TimeDistributed on one sequence length, "
            "predict() on another length returns outputs with a wrong time dimension, because "
            "the retraced function reuses a time size from the first trace (seen on Keras 3.15.1, "
            "with or without a mask; eager calls are right)."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-11-25)",
        matches=lambda spec, how: how in ("predict", "predict_jit")
        and any(layer.kind == "TimeDistributed" for layer in spec.layers),
        whole_cases=frozenset({("TimeDistributed", "predict"), ("TimeDistributed", "predict_jit")}),
    ),
    Divergence(
        id="loss-all-padded-batch-nan",
        keras="<3",
        reason=(
            "A batch without any real timestep gets a NaN loss, because Keras 2's apply_valid_mask "
            "scales the mask by total/valid with valid = 0 (Keras 3 uses divide_no_nan and reports 0)."
        ),
        upstream="none found for tf.keras (searched keras-team/keras and tf-keras issues, "
        "2026-11-29); the same NaN was fixed in multi-backend Keras by "
        "https://github.com/keras-team/keras/pull/11643",
    ),
    Divergence(
        id="sample-weight-sequence-outputs-fail",
        keras=">=3.15",
        reason=(
            "fit/evaluate/*_on_batch with sample_weight (per sample or per timestep) on a sequence "
            "output fail with a shape error, masked or not (seen on Keras 3.15.1), although the "
            "docs promise per-timestep weights for temporal data."
        ),
        upstream="none found for Keras 3 (searched keras-team/keras issues, 2026-11-29); "
        "related Keras 2 report: https://github.com/keras-team/keras/issues/15181",
    ),
    Divergence(
        id="jit-timestep-sample-weight-fails",
        keras="<3",
        reason=(
            "On a model compiled with jit_compile=True that has been called with per-sample "
            "weights, a call with per-timestep weights of shape (batch, timesteps) retraces with a "
            "rank-generic squeeze that XLA cannot compile ('Tried to explicitly squeeze "
            "dimension'), masked or not; without XLA the same calls work."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-11-29)",
    ),
    Divergence(
        id="padded-nonfinite-targets-poison-loss",
        keras=">=2.12",
        reason=(
            "A NaN or infinite target at a padded timestep (or one whose loss overflows) makes "
            "the loss and metrics NaN, because the mask is applied by multiplying each step's "
            "loss by 0 rather than by selecting real steps (NaN * 0 = NaN)."
        ),
        upstream="https://github.com/keras-team/keras/issues/6825",
    ),
    Divergence(
        id="class-weight-misreads-sequence-targets",
        keras="<3",
        reason=(
            "fit(class_weight=...) with integer targets of shape (batch, timesteps) takes the "
            "argmax over the time axis as each sample's class and weighs the whole sequence by it, "
            "silently, instead of weighing each timestep by its own class or refusing."
        ),
        upstream="related: https://github.com/keras-team/keras/issues/1624 (class_weight is "
        "ill-defined for sequence targets; use per-timestep sample_weight)",
    ),
)


BY_ID = {d.id: d for d in DIVERGENCES}


def active_matches(spec: StackSpec, how: str) -> list[Divergence]:
    """The divergences active on the installed Keras that ``spec`` hits when built with the
    API ``how`` (``"functional"``...) or run in the execution mode ``how`` (``"predict"``...)."""
    return [d for d in DIVERGENCES if d.active and d.matches(spec, how)]


def covering(focus: str, how: str) -> Divergence | None:
    """The active divergence that every stack focused on ``focus`` hits under ``how``, if any."""
    return next((d for d in DIVERGENCES if d.active and (focus, how) in d.whole_cases), None)
