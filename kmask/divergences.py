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

from .keras_compat import BACKEND, KERAS_VERSION, TF_VERSION
from .mask_rules import concatenates_unmasked_on_time_axis, shares_attention_input


def within(version, specifier: str) -> bool:
    """Whether ``version`` satisfies the PEP 440 ``specifier`` ("" admits every version);
    pre-releases and nightlies (``3.16.0.dev2026...``) count as the version they lead to."""
    return SpecifierSet(specifier, prereleases=True).contains(version, prereleases=True)


@dataclasses.dataclass(frozen=True)
class Divergence:
    id: str
    keras: str
    """Keras versions affected, as a PEP 440 specifier on the Keras version."""
    reason: str
    """What Keras does instead of the property, in one sentence."""
    upstream: str
    tensorflow: str = ""
    """TensorFlow versions affected, as a PEP 440 specifier ("": every supported version)."""
    backends: tuple[str, ...] = ("tensorflow",)
    """Keras backends affected (Keras 2 runs on TensorFlow only)."""
    observed: str = ""
    """The versions the witness was run on, and what it did there: where the ranges come from."""
    matches: Callable[[StackSpec, str], bool] = lambda spec, how: False
    """Whether a random stack hits this divergence when built with an API or run in an execution
    mode (such stacks are not drawn); divergences outside the stack properties keep the default."""
    whole_cases: frozenset = frozenset()
    """(focus layer kind, API or mode) pairs where every stack hits this divergence."""

    @property
    def active(self) -> bool:
        """Whether the installed Keras, TensorFlow and backend are all in this record's scope."""
        return (
            within(KERAS_VERSION, self.keras)
            and within(TF_VERSION, self.tensorflow)
            and BACKEND in self.backends
        )

    def scope(self) -> str:
        """The record's versions in words, e.g. ``Keras >=3.0, TensorFlow >=2.16``."""
        parts = [f"Keras {self.keras}" if self.keras else "every Keras"]
        if self.tensorflow:
            parts.append(f"TensorFlow {self.tensorflow}")
        if self.backends != ("tensorflow",):
            parts.append("backends " + "/".join(self.backends))
        return ", ".join(parts)

    def explain(self) -> str:
        state = "affects" if self.active else "does not affect"
        observed = f" Observed: {self.observed}" if self.observed else ""
        return (
            f"known divergence '{self.id}' ({self.scope()}; {state} the installed "
            f"Keras {KERAS_VERSION} on TensorFlow {TF_VERSION}, backend {BACKEND}): "
            f"{self.reason}{observed} Upstream: {self.upstream}"
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
        observed="reproduces on 2.12.0, 2.13.1, 2.14.0, 2.15.0 and 3.0.5-3.15.1 (every Keras 3 "
        "minor, latest patch; witness run 2026-12-01).",
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
    Divergence(
        id="concatenate-time-axis-unmasked-input",
        keras="<3",
        reason=(
            "Concatenate(axis=1) over a masked and an unmasked sequence fails to build, because "
            "compute_mask fills the missing mask with ones shaped like the whole input list."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-11-29)",
        matches=lambda spec, how: how == "graph" and concatenates_unmasked_on_time_axis(spec),
    ),
    Divergence(
        id="multiheadattention-strips-input-masks",
        keras=">=3.0",
        reason=(
            "MultiHeadAttention deletes the mask attached to its query, value and key tensors when "
            "called, so a model output that also feeds it comes back without its mask, and a "
            "second MultiHeadAttention reading the same tensor attends to padding and returns "
            "no mask."
        ),
        upstream="related: https://github.com/keras-team/keras/issues/20455 (masks around "
        "MultiHeadAttention); none found for the deletion itself (searched 2026-11-29)",
        matches=lambda spec, how: how == "graph" and shares_attention_input(spec),
    ),
    Divergence(
        id="nested-model-symbolic-mask-dropped",
        keras=">=3.0",
        reason=(
            "A Sequential model nested in a Functional model attaches no mask to its symbolic "
            "output (eager calls still carry the mask), unlike Keras 2."
        ),
        upstream="https://github.com/keras-team/keras/issues/18417 (open; fix proposed in "
        "https://github.com/keras-team/keras/pull/23175)",
    ),
    Divergence(
        id="claim-subclassed-masks-not-propagated",
        keras=">=2.12",
        reason=(
            "The masking guide's claim that inside a subclassed layer or model masks aren't "
            "automatically propagated is false: each layer called in call() picks up the mask "
            "attached to its input (explicit mask= is still needed only when nothing attached one)."
        ),
        upstream="none found (searched keras-team/keras and tensorflow/tensorflow issues, "
        "2026-11-29); the claim is in https://keras.io/guides/understanding_masking_and_padding/",
    ),
    Divergence(
        id="claim-unsupported-layer-raises",
        keras=">=2.12",
        reason=(
            "The Masking docstring's claim that a downstream layer without mask support raises an "
            "exception is false: the layer drops the mask silently (Keras 3 warns); only Keras 2's "
            "compute_mask raises when called directly."
        ),
        upstream="related: https://github.com/keras-team/keras/issues/20455 (Keras 3 warns "
        "instead); none found for the docstring (searched 2026-11-29)",
    ),
    Divergence(
        id="functional-h5-mask-op-unloadable",
        keras=">=3.0",
        reason=(
            "A Functional model in which Embedding(mask_zero=True) feeds a mask-consuming layer "
            "saves to legacy .h5 but fails to load ('Unknown layer: NotEqual'): the mask op is "
            "recorded as a graph node (.keras and Sequential models reload fine)."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-11-29)",
        observed="reproduces on 3.0.5-3.15.1 (every Keras 3 minor, latest patch); absent on "
        "2.12.0-2.15.0 (witness run 2026-12-01).",
    ),
    Divergence(
        id="rnn-bfloat16-cudnn-type-error",
        keras=">=2.12,<2.13",
        reason=(
            "Under mixed_bfloat16, building an LSTM or GRU fails with a TypeError, because the "
            "layer also builds its cuDNN kernel (CudnnRNNV3), which takes no bfloat16, even on CPU."
        ),
        upstream="https://github.com/tensorflow/tensorflow/issues/57411",
        observed="reproduces on 2.12.0; absent on 2.13.1, 2.14.0, 2.15.0 and 3.0.5-3.15.1 "
        "(witness run 2026-12-01).",
        matches=lambda spec, how: how == "mixed_bfloat16"
        and any(layer.recurrent is not None and layer.recurrent.kind in ("LSTM", "GRU") for layer in spec.layers),
        whole_cases=frozenset({("LSTM", "mixed_bfloat16"), ("GRU", "mixed_bfloat16")}),
    ),
    Divergence(
        id="masking-compares-in-compute-dtype",
        keras=">=2.12",
        reason=(
            "Under a mixed_float16 or mixed_bfloat16 policy, Masking compares its inputs with "
            "mask_value after casting them to the 16-bit compute dtype, so a real timestep whose "
            "every feature rounds to mask_value is masked."
        ),
        upstream="none found (searched keras-team/keras and keras-team/tf-keras issues, "
        "2026-11-29)",
        observed="reproduces on 2.12.0, 2.13.1, 2.14.0, 2.15.0 and 3.0.5-3.15.1 (every Keras 3 "
        "minor, latest patch; witness run 2026-12-01).",
    ),
    Divergence(
        id="explicit-mask-dropped-under-mixed-policy",
        keras=">=3.5,<3.14",
        reason=(
            "A Functional model built under a mixed policy and called with mask= runs as if "
            "unmasked, because its first layer casts the float32 input to the 16-bit compute "
            "dtype and the cast drops the mask attached to it (exposed in 3.5.0 by "
            "keras-team/keras#19920, which stopped autocasting from retyping the model's Input "
            "to 16 bits; fixed in 3.14.0 by keras-team/keras#21946)."
        ),
        upstream="https://github.com/keras-team/keras/pull/21946",
        observed="reproduces on 3.5.0-3.13.2; absent on 2.12.0-2.15.0, 3.0.5-3.4.1, 3.14.1 and "
        "3.15.1 (witness run 2026-12-01).",
        matches=lambda spec, how: how.startswith("mixed_") and spec.style == "explicit",
    ),
    Divergence(
        id="bidirectional-keras-format-unloadable",
        keras=">=3.0,<3.3.3",
        reason=(
            "A model holding Bidirectional(LSTM/GRU/SimpleRNN) saves to .keras but fails to load "
            "('expected 3 variables, but received 0'), because Bidirectional.build leaves the "
            "wrapped layer it also tracks unbuilt, so no weights are saved for it (fixed by "
            "keras-team/keras@8200a78, first released in 3.3.3)."
        ),
        upstream="https://github.com/keras-team/keras/issues/19615",
        observed="reproduces on 3.0.5, 3.1.1 and 3.2.1; absent on 2.12.0-2.15.0 and "
        "3.3.3-3.15.1 (3.3.0-3.3.2 not run: they lack the fix; witness run 2026-12-01).",
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
