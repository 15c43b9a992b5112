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

from strategies import PER_STEP, RECURRENT, StackSpec

from .keras_compat import BACKEND, BACKENDS, KERAS_VERSION, TF_VERSION, ONEDNN
from .modes import PREDICT_MODES
from .mask_rules import (
    attention_mixes_masked_and_unmasked,
    attention_query_masked,
    attention_value_mask_without_causal,
    concatenates_unmasked_on_time_axis,
    list_input_reads_mask,
    shares_attention_input,
    softmax_reads_mask,
)


TF_AND_JAX = ("tensorflow", "jax")
"""The backends of a record whose witness reproduces on JAX too (on PyTorch it has not yet run
through: the harness there is unfinished)."""


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
    only_when: tuple[str, Callable[[], bool]] | None = None
    """A condition of the machine, not of a version, that the divergence also needs: its words
    (for the scope) and a check of this process (e.g. which CPU kernels TensorFlow runs)."""

    @property
    def active(self) -> bool:
        """Whether the installed Keras, TensorFlow and backend are all in this record's scope."""
        return self.active_on(BACKEND)

    def active_on(self, backend: str) -> bool:
        """Whether the installed Keras and TensorFlow, run on ``backend``, are in this record's scope."""
        return (within(KERAS_VERSION, self.keras) and within(TF_VERSION, self.tensorflow)
                and backend in self.backends and (self.only_when is None or self.only_when[1]()))

    def scope(self) -> str:
        """The record's versions in words, e.g. ``Keras >=3.0, TensorFlow >=2.16``."""
        parts = [f"Keras {self.keras}" if self.keras else "every Keras"]
        if self.tensorflow:
            parts.append(f"TensorFlow {self.tensorflow}")
        if self.backends != ("tensorflow",):
            parts.append("backends " + "/".join(self.backends))
        if self.only_when:
            parts.append("only " + self.only_when[0])
        return ", ".join(parts)

    def explain(self) -> str:
        state = "affects" if self.active else "does not affect"
        observed = f" Observed: {self.observed}" if self.observed else ""
        return (
            f"known divergence '{self.id}' ({self.scope()}; {state} the installed "
            f"Keras {KERAS_VERSION} on TensorFlow {TF_VERSION}, backend {BACKEND}): "
            f"{self.reason}{observed} Upstream: {self.upstream}"
        )


def _timedistributed_predicted(spec: StackSpec, how: str) -> bool:
    return how in PREDICT_MODES and any(layer.kind == "TimeDistributed" for layer in spec.layers)


TIMEDISTRIBUTED_PREDICT_CASES = frozenset(("TimeDistributed", mode) for mode in PREDICT_MODES)

COMPILED_TRACED = ("compiled graph", "compiled jit")
"""The ``how`` of a compiled evaluate/fit/``*_on_batch`` run in a traced function (graph or XLA)."""


def _timedistributed_compiled(spec: StackSpec, how: str) -> bool:
    return how in COMPILED_TRACED and any(layer.kind == "TimeDistributed" for layer in spec.layers)


def _bidirectional_unrolled(spec: StackSpec, how: str) -> bool:
    return any(
        layer.kind == "Bidirectional" and layer.recurrent.option("unroll", False)
        for layer in spec.layers
    )


def _zero_output_rnns(spec: StackSpec, *required: str, unless: str = "") -> bool:
    """Whether ``spec`` holds an LSTM/GRU/SimpleRNN with zero_output_for_mask=True and every
    option in ``required`` set, and not the option ``unless``."""
    return any(
        layer.kind in RECURRENT and layer.option("zero_output_for_mask", False)
        and all(layer.option(o, False) for o in required)
        and not (unless and layer.option(unless, False))
        for layer in spec.layers
    )


def _unrolled_rnn(spec, condition) -> bool:
    """Whether ``spec`` holds an RNN layer (or a Bidirectional around one) with unroll=True for
    which ``condition(layer)`` holds."""
    return any(
        layer.recurrent is not None and layer.recurrent.option("unroll", False) and condition(layer)
        for layer in spec.layers
    )


def _unrolled_backward(spec) -> bool:
    """Whether ``spec`` holds an unrolled RNN that runs backwards: go_backwards, or inside a
    Bidirectional (its backward half)."""
    return _unrolled_rnn(spec, lambda layer: layer.kind == "Bidirectional"
                         or layer.recurrent.option("go_backwards", False))


def _unrolled_zero_output(spec) -> bool:
    """Whether ``spec`` holds an unrolled RNN asked for zeros at padded steps: with
    zero_output_for_mask, or inside a Bidirectional (which sets it on both halves)."""
    return _unrolled_rnn(spec, lambda layer: layer.kind == "Bidirectional"
                         or layer.recurrent.option("zero_output_for_mask", False))


def _reversed_sequence_mask_read(spec, how: str) -> bool:
    """A Functional graph holding a ``go_backwards`` RNN that returns sequences (its output mask
    is checked against the rule), or a stack where a layer after one reads the mask."""
    if how == "graph":
        return any(node.layer.reverses_time for node in spec.nodes)
    reversed_yet = False
    for layer in spec.layers:
        if reversed_yet and layer.kind not in PER_STEP:
            return True
        reversed_yet = reversed_yet or layer.reverses_time
    return False


def _extreme_content_reaches(kind: str, families: tuple[str, ...]):
    """``matches`` for a record about padded steps holding extreme content: a stack holding a
    ``kind`` layer, given content of one of ``families`` (how = ``"padding content <family>"``,
    see kmask/extreme.py)."""

    def matches(spec: StackSpec, how: str) -> bool:
        return how in {f"padding content {f}" for f in families} and any(l.kind == kind for l in spec.layers)

    return matches


def _empty_batch_reaches(kind: str):
    """``matches`` for a record about a batch of zero rows (how = ``"empty batch"``): a stack
    holding a ``kind`` layer, also inside Bidirectional."""

    def matches(spec: StackSpec, how: str) -> bool:
        return how == "empty batch" and any(
            l.kind == kind or (l.recurrent is not None and l.recurrent.kind == kind) for l in spec.layers
        )

    return matches


DIVERGENCES = (
    Divergence(
        id="bidirectional-unroll-zeroes-backward",
        keras=">=2.12",
        reason=(
            "Bidirectional around an RNN with unroll=True returns zeros from its backward "
            "direction at the real timesteps of a post-padded sequence (unroll=False is right), "
            "because its backward layer has go_backwards=True and zero_output_for_mask=True "
            "(see go-backwards-zero-output-zeroes-real-steps)."
        ),
        upstream="related: https://github.com/keras-team/tf-keras/issues/252 (backward RNNs "
        "misapply zero_output_for_mask)",
        observed="reproduces on 2.12.0, 2.13.1, 2.14.0, 2.15.0 and 3.0.5-3.15.1 (every Keras 3 "
        "minor, latest patch; witness run 2026-12-01).",
        matches=_bidirectional_unrolled,
    ),
    Divergence(
        id="timedistributed-predict-second-length",
        keras=">=3.14",
        reason=(
            "After predict() has run a model holding TimeDistributed on one sequence length, "
            "predict() on another length returns as many timesteps as there are rows, because "
            "TimeDistributed.call takes the step count from the batch axis when the time axis "
            "is unknown (keras-team/keras#22039 moved ops.shape before the transpose)."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-01); introduced by "
        "https://github.com/keras-team/keras/pull/22039 (first in 3.14.0)",
        observed="reproduces on 3.14.1 and 3.15.1 (predict() on 9 steps returns 2 for a batch "
        "of 2); absent on 2.12.0-2.15.0 and 3.0.5-3.13.2 (witness run 2026-12-01).",
        matches=_timedistributed_predicted,
        whole_cases=TIMEDISTRIBUTED_PREDICT_CASES,
    ),
    Divergence(
        id="timedistributed-predict-retrace-raises",
        keras=">=3.0,<3.9",
        reason=(
            "After predict() has run a model holding TimeDistributed on one sequence length, "
            "predict() on another length raises in TimeDistributed.call, which retraces for an "
            "unknown time axis: 'Invalid dtype: NoneType' before 3.4.1 (masked or not, fixed by "
            "keras-team/keras@b038ce2), then, with a mask, 'Using a symbolic tf.Tensor as a "
            "Python bool' until keras-team/keras#20765 (3.9.0)."
        ),
        upstream="https://github.com/keras-team/keras/issues/18941 (the NoneType error); "
        "https://github.com/keras-team/keras/pull/20765 (the mask fix)",
        observed="reproduces on 3.0.5-3.3.3 (NoneType) and 3.4.1-3.8.0 (Python bool); absent "
        "on 2.12.0-2.15.0 and 3.9.2-3.15.1 (witness run 2026-12-01).",
        matches=_timedistributed_predicted,
        whole_cases=TIMEDISTRIBUTED_PREDICT_CASES,
    ),
    Divergence(
        id="timedistributed-mask-compiled-evaluate-raises",
        keras=">=3.4.1,<3.9",
        reason=(
            "evaluate() and fit() of a compiled (graph or XLA) model holding a masked "
            "TimeDistributed raise 'Using a symbolic tf.Tensor as a Python bool' when the traced "
            "batch size is not static (fewer rows than batch_size, Keras's default 32 included, "
            "or a last partial batch), because TimeDistributed.call compares the mask's shape "
            "with a Python tuple (the same check as timedistributed-predict-retrace-raises, "
            "reached without a retrace); batches that divide the rows evenly run."
        ),
        upstream="none found as an issue (searched keras-team/keras issues, 2026-12-01); the "
        "check came with keras-team/keras@b038ce2 (3.4.1) and was fixed by "
        "https://github.com/keras-team/keras/pull/20765 (3.9.0)",
        observed="reproduces on 3.4.1, 3.5.0, 3.6.0, 3.7.0 and 3.8.0; absent on 3.0.5-3.3.3, "
        "3.9.2-3.15.1, 2.12.0 and 2.15.0 (evaluate() of Embedding(mask_zero) -> "
        "TimeDistributed(Dense) -> Dense in graph mode, 4 rows in the default batch of 32, run "
        "2026-12-01); on 3.5.0 the same evaluate() with batch_size equal to the rows runs.",
        matches=_timedistributed_compiled,
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
        observed="reproduces on 2.12.0 and 2.15, absent on 3.0.5-3.15.1 (witness run 2026-12-01).",
    ),
    Divergence(
        id="sample-weight-sequence-outputs-fail",
        keras=">=3",
        reason=(
            "fit/evaluate/*_on_batch with per-sample weights of shape (batch,) on a sequence "
            "output fail with a shape error ([batch] vs [batch, timesteps]), masked or not, "
            "although sample weights are documented per sample; per-timestep weights of shape "
            "(batch, timesteps) work."
        ),
        upstream="none found for Keras 3 (searched keras-team/keras issues, 2026-12-01); "
        "related Keras 2 report: https://github.com/keras-team/keras/issues/15181",
        observed="reproduces on 3.0.5-3.15.1 (InvalidArgumentError 'Incompatible shapes: [2] vs. "
        "[2,3]' while running on 3.0.5-3.6.0, ValueError 'Dimensions must be equal' while tracing "
        "on 3.7.0-3.15.1), absent on 2.15; per-timestep weights give the reference loss and "
        "metrics on 3.0.5-3.15.1 in eager, graph and XLA modes (witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
    ),
    Divergence(
        id="first-test-on-batch-stopiteration",
        keras=">=3,<3.7",
        reason=(
            "test_on_batch as the first call on a model compiled with metrics named by string "
            "raises StopIteration, because the test function builds those metrics while tracing, "
            "tf.function traces it a second time, and the second trace finds test_on_batch's "
            "one-batch generator empty."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-01); gone since "
        "https://github.com/keras-team/keras/pull/20396 (3.7.0), which stopped tracing the "
        "generator's next() inside the retraced function",
        observed="reproduces on 3.0.5-3.6.0, absent on 3.7.0-3.15.1 and 2.15 (witness run 2026-12-01).",
    ),
    Divergence(
        id="loss-batches-averaged-unweighted",
        keras=">=3,<3.2",
        reason=(
            "The loss that evaluate() and fit() report over unequal batches is the plain mean of "
            "the batch losses, because the loss tracker is updated without the batch size as "
            "weight (every Keras generation before and after weighs each batch by its size). "
            "Over a dataset of unknown size (Dataset.from_generator) the step that finds it "
            "exhausted updates the tracker too, with 0: one batch of loss L is reported as L/2."
        ),
        upstream="https://github.com/keras-team/keras/pull/19363 (fixed in 3.2.0)",
        observed="reproduces on 3.0.5 and 3.1.1, absent on 3.2.1-3.15.1, 2.12.0 and 2.15 "
        "(witness run 2026-12-01). The generator symptom: found by "
        "test_padded_batch_pipeline_ignores_how_far_it_pads in matrix part 8 (keras3.0 and "
        "keras3.1, evaluate 0.105 against 0.210); a plain script (Embedding -> Dense, one batch "
        "from from_generator(...).padded_batch(2)) reports half the masked loss on 3.0.5 and "
        "3.1.1 from evaluate and fit (the tracker's count is 2 after the one batch), the full one "
        "on 3.2.1, where the tracker is first weighted by the batch size (2026-12-02).",
    ),
    Divergence(
        id="unweighted-metrics-ignore-mask",
        keras=">=3,<3.12",
        reason=(
            "Compiled metrics= (and weighted_metrics= called without sample weights) average "
            "over every timestep, padded ones included, because MeanMetricWrapper applies the "
            "mask only to a sample weight it is given."
        ),
        upstream="https://github.com/keras-team/keras/pull/21569 (fixed in 3.12.0)",
        observed="reproduces on 3.0.5-3.11.3 (metrics= 'mae' equals the mean over every step), "
        "absent on 3.12.4-3.15.1 and 2.15 (witness run 2026-12-01).",
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
        observed="reproduces on 2.12.0 and 2.15; on 3.0.5-3.15.1 per-timestep weights work "
        "under XLA, and the witness stops at the per-sample weights that fail there without XLA "
        "too (sample-weight-sequence-outputs-fail) (witness run 2026-12-01).",
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
        observed="reproduces on 2.12.0, 2.15 and 3.0.5-3.15.1 (witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
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
        observed="reproduces on 2.12.0 and 2.15; 3.0.5-3.15.1 refuse with 'Incompatible "
        "shapes', which the witness accepts (witness run 2026-12-01).",
    ),
    Divergence(
        id="concatenate-time-axis-unmasked-input",
        keras="<3.4",
        reason=(
            "Concatenate(axis=1).compute_mask over a masked and an unmasked sequence fails with "
            "a shape error (so Keras 2 cannot build such a model), because it widens the present "
            "mask to one feature but fills the missing one with ones as wide as the input."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01); "
        "fixed in Keras 3 by https://github.com/keras-team/keras/pull/19685 (3.4.0)",
        observed="reproduces on 2.12.0-2.15.0 and 3.0.5-3.3.3 (where, with list-input-layers-attach-"
        "no-mask, Functional models never call it); absent on 3.4.1-3.15.1 (witness run "
        "2026-12-01).",
        matches=lambda spec, how: how == "graph" and concatenates_unmasked_on_time_axis(spec),
    ),
    Divergence(
        id="multiheadattention-strips-input-masks",
        keras=">=3.8",
        reason=(
            "MultiHeadAttention deletes the mask attached to its query, value and key tensors when "
            "called, so a model output that also feeds it comes back without its mask, and a "
            "second MultiHeadAttention reading the same tensor attends to padding and returns "
            "no mask."
        ),
        upstream="none found for the deletion (searched keras-team/keras issues, 2026-12-01); "
        "introduced by https://github.com/keras-team/keras/pull/20562 (first in 3.8.0); related: "
        "https://github.com/keras-team/keras/issues/20455",
        observed="reproduces on 3.8.0-3.15.1; absent on 2.12.0-2.15.0 and 3.0.5-3.7.0 (witness run "
        "2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        matches=lambda spec, how: how == "graph" and shares_attention_input(spec),
        backends=BACKENDS,
    ),
    Divergence(
        id="list-input-layers-attach-no-mask",
        keras=">=3.0,<3.4",
        reason=(
            "Merge layers and Attention/AdditiveAttention, called on a list of tensors, attach no "
            "mask to their output, because Layer.__call__ reads the previous mask only from a "
            "first argument that is itself a tensor."
        ),
        upstream="https://github.com/keras-team/keras/issues/18416 and "
        "https://github.com/keras-team/keras/issues/19817, fixed by "
        "https://github.com/keras-team/keras/pull/19685 (3.4.0)",
        observed="reproduces on 3.0.5-3.3.3; absent on 2.12.0-2.15.0 and 3.4.1-3.15.1 (witness run "
        "2026-12-01).",
        matches=lambda spec, how: how == "graph" and list_input_reads_mask(spec),
    ),
    Divergence(
        id="attention-mixed-input-masks-fail",
        keras=">=3.0,<3.4",
        reason=(
            "Attention or AdditiveAttention over one masked and one unmasked tensor fails "
            "('you cannot mix tensors and non-tensors'), because Layer.__call__ passes it "
            "mask=[mask, None] and then refuses a list holding None."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-01); fixed by "
        "keras-team/keras@7412791 and @f12a205 ('Add support for optional Functional inputs', "
        "3.4.0)",
        observed="reproduces on 3.0.5-3.3.3; absent on 2.12.0-2.15.0 and 3.4.1-3.15.1 (witness run "
        "2026-12-01).",
        matches=lambda spec, how: how == "graph" and attention_mixes_masked_and_unmasked(spec),
    ),
    Divergence(
        id="attention-symbolic-query-mask-fails",
        keras=">=3.4,<3.7",
        reason=(
            "A Functional model in which Attention or AdditiveAttention reads a masked query "
            "fails to build ('A KerasTensor cannot be used as input to a TensorFlow function'), "
            "because compute_mask converts the symbolic mask with ops.convert_to_tensor."
        ),
        upstream="https://github.com/keras-team/keras/issues/20318; fixed by "
        "https://github.com/keras-team/keras/pull/20539 (3.7.0)",
        observed="reproduces on 3.4.1-3.6.0; absent on 2.12.0-2.15.0, 3.0.5-3.3.3 (which attach no "
        "mask instead) and 3.7.0-3.15.1 (witness run 2026-12-01).",
        matches=lambda spec, how: how == "graph" and attention_query_masked(spec),
    ),
    Divergence(
        id="attention-value-mask-misbroadcast",
        keras=">=3.0,<3.12",
        reason=(
            "Attention and AdditiveAttention with a value mask and no causal mask broadcast the "
            "(batch, Tv) mask against the (batch, Tq, Tv) scores, so they fail ('Incompatible "
            "shapes') when batch != Tq and mask query step j with row j's value mask when "
            "batch == Tq."
        ),
        upstream="https://github.com/keras-team/keras/issues/21483, fixed by "
        "https://github.com/keras-team/keras/pull/21595 (3.12.0)",
        observed="reproduces on 3.0.5-3.11.3 (both layers); absent on 2.12.0-2.15.0 and 3.12.4-3.15.1 "
        "(witness run 2026-12-01).",
        matches=lambda spec, how: how == "graph" and attention_value_mask_without_causal(spec),
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
        observed="reproduces on 3.0.5-3.15.1 (every Keras 3 minor, latest patch); absent on "
        "2.12.0-2.15.0 (witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
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
        observed="reproduces on 2.12.0, 2.13.1, 2.14.0, 2.15.0 and 3.0.5-3.15.1 (witness run "
        "2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
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
        observed="reproduces on 2.12.0, 2.13.1, 2.14.0, 2.15.0 and 3.0.5-3.15.1 (witness run "
        "2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
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
        "2.12.0-2.15.0 (witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
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
        id="layernorm-bfloat16-fused-kernel-missing",
        keras="<3",
        tensorflow="<2.14",
        only_when=("with TensorFlow's oneDNN CPU kernels off", lambda: not ONEDNN),
        reason=(
            "Under mixed_bfloat16 on CPU, LayerNormalization fails to run ('Op does not support "
            "bfloat16 inputs'), because Keras 2 computes it with FusedBatchNormV3, whose plain CPU "
            "kernel takes no bfloat16 before TensorFlow 2.14 (the oneDNN kernel, on by default "
            "on CPUs with AVX512_VNNI, AVX512_BF16 or AMX, takes it); nothing to do with masks, "
            "but it stops the mixed-precision property before any comparison."
        ),
        upstream="related: https://github.com/tensorflow/tensorflow/issues/57888 (FusedBatchNormV3 "
        "and bfloat16)",
        observed="found by the version matrix on TF 2.13.1 (test_mixed_precision_agrees_with_float32"
        "[GRU-mixed_bfloat16] drew a LayerNormalization); plain script and witness: reproduce on TF "
        "2.12.1 and 2.13.1 on a machine where oneDNN was off; absent on 2.14.1, 2.15.1, tf-keras "
        "2.18 (plain script) and Keras 3.15.1 (witness) (2026-12-02). On an AMD EPYC with "
        "AVX512_BF16, where oneDNN is on by default, the plain script runs through on 2.12.1 and "
        "2.13.1 and fails with TF_ENABLE_ONEDNN_OPTS=0 (2026-12-02).",
        matches=lambda spec, how: how == "mixed_bfloat16"
        and any(layer.kind == "LayerNormalization" for layer in spec.layers),
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
        "minor, latest patch; witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
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
    Divergence(
        id="pooling-empty-row-nan",
        keras=">=2.12",
        reason=(
            "GlobalAveragePooling1D pools a row without any real timestep to NaN instead of zeros, "
            "because it divides the masked sum by the number of real steps without guarding 0/0 "
            "(Keras 3's masked loss guards the same division with divide_no_nan)."
        ),
        upstream="none found (searched keras-team/keras, tf-keras and tensorflow/tensorflow "
        "issues, 2026-12-01); the division dates from keras-team/keras#10913",
        observed="reproduces on 2.12.0-2.15.0, tf-keras 2.16.0 and 3.0.5-3.15.1 (NaN for "
        "the empty row, the mean for the real one; witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
    ),
    Divergence(
        id="attention-no-real-key-reads-padding",
        keras=">=2.12",
        reason=(
            "MultiHeadAttention, Attention and AdditiveAttention give a query whose every key is "
            "padded the plain average of the padded values, which depends on what padding holds, "
            "instead of the empty attention (zeros; MultiHeadAttention's output bias), because "
            "they push masked scores down by a large constant and a softmax over equal scores is "
            "uniform."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01); "
        "related: keras-team/keras#21149 (3.10.0) makes the Softmax layer zero a fully masked "
        "axis, but MultiHeadAttention without dropout calls ops.dot_product_attention instead "
        "(since keras-team/keras#20448) and Attention calls ops.softmax",
        observed="reproduces for all three layers on 2.12.0-2.15.0, tf-keras 2.16.0 and "
        "3.0.5-3.15.1 (the output moves with the padded values; witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
    ),
    Divergence(
        id="pooling-nonfinite-padding-nan",
        keras="<3.15",
        reason=(
            "A NaN or infinite value at a padded step (also one an earlier layer computes from a "
            "huge value) makes GlobalAveragePooling1D's output NaN, because it masks by "
            "multiplying the input by the mask (NaN * 0 = NaN) rather than selecting real steps."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01); fixed "
        "as a side effect of https://github.com/keras-team/keras/pull/22392 (ops.where instead of "
        "cast+multiply, first in 3.15.0)",
        observed="reproduces on 2.12.0-2.15.0, tf-keras 2.16.0 and 3.0.5-3.14.1; absent on 3.15.1 "
        "(witness run 2026-12-01).",
        matches=_extreme_content_reaches("GlobalAveragePooling1D", ("nan", "inf", "huge")),
    ),
    Divergence(
        id="attention-nonfinite-padding-nan",
        keras=">=2.12",
        reason=(
            "A NaN or infinite value at a padded key or value step (also a huge one whose "
            "projection overflows) makes the outputs of MultiHeadAttention, Attention and "
            "AdditiveAttention NaN at every real query, because the zero attention weights of "
            "padded keys are multiplied with their values (0 * NaN = NaN)."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01); the "
        "same mechanism on the loss side is padded-nonfinite-targets-poison-loss "
        "(https://github.com/keras-team/keras/issues/6825)",
        observed="reproduces for all three layers on 2.12.0-2.15.0, tf-keras 2.16.0 and "
        "3.0.5-3.15.1 (witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        matches=_extreme_content_reaches("MultiHeadAttention", ("nan", "inf", "huge")),
        backends=BACKENDS,
    ),
    Divergence(
        id="multiheadattention-huge-padded-keys-attended",
        keras="<3.7",
        reason=(
            "MultiHeadAttention lets a query attend to a padded key holding a huge finite value "
            "(1e30), because its Softmax masks by adding -1e9 to the scores, which leaves a score "
            "of that size on top."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01); gone "
        "since MultiHeadAttention calls ops.dot_product_attention "
        "(https://github.com/keras-team/keras/pull/20448, first in 3.7.0)",
        observed="reproduces on 2.12.0-2.15.0, tf-keras 2.16.0 and 3.0.5-3.6.0; absent on "
        "3.7.0-3.15.1 (witness run 2026-12-01).",
        matches=_extreme_content_reaches("MultiHeadAttention", ("huge",)),
    ),
    Divergence(
        id="attention-huge-padded-keys-attended",
        keras=">=2.12",
        reason=(
            "Attention (dot-product scores) lets a query attend to a padded key holding a huge "
            "finite value (1e30), because it masks by subtracting 1e9 from the scores, which "
            "leaves a score of that size on top (AdditiveAttention's tanh keeps its scores small)."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01)",
        observed="reproduces on 2.12.0-2.15.0, tf-keras 2.16.0 and 3.0.5-3.15.1; "
        "AdditiveAttention passes everywhere (witness run 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
    ),
    Divergence(
        id="lstm-empty-batch-fails",
        keras=">=3.12",
        reason=(
            "LSTM raises on a batch of zero rows (masked or not; 'Biases must be 1D: [0,12]'), "
            "because its cell adds the recurrent term with ops.add, whose TensorFlow version takes "
            "a (0, n) tensor for a bias (its shape without the 0 looks like a vector) and calls "
            "tf.nn.bias_add."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-01); introduced by "
        "https://github.com/keras-team/keras/pull/21719 (3.12.0: z += ... became ops.add) on top "
        "of the bias_add special case of https://github.com/keras-team/keras/pull/20386 (3.7.0)",
        observed="reproduces on 3.12.4-3.15.1; absent on 2.12.0-2.15.0, tf-keras 2.16.0 and "
        "3.0.5-3.11.3 (witness run 2026-12-01).",
        matches=_empty_batch_reaches("LSTM"),
    ),
    Divergence(
        id="pooling-empty-batch-fails",
        keras="<3.15",
        reason=(
            "GlobalAveragePooling1D with a mask raises on a batch of zero rows ('slice index 0 of "
            "dimension 0 out of bounds'), because it casts the mask to inputs[0].dtype, which "
            "reads the first row."
        ),
        upstream="https://github.com/tensorflow/tensorflow/issues/67023; fix proposed for tf-keras "
        "in https://github.com/keras-team/tf-keras/pull/906 (open); gone from Keras 3 with "
        "https://github.com/keras-team/keras/pull/22392 (3.15.0)",
        observed="reproduces on 2.12.0-2.15.0, tf-keras 2.16.0 and 3.0.5-3.14.1; absent on 3.15.1 "
        "(witness run 2026-12-01).",
        matches=_empty_batch_reaches("GlobalAveragePooling1D"),
    ),
    Divergence(
        id="go-backwards-sequence-mask-not-reversed",
        keras=">=2.12",
        reason=(
            "An LSTM, GRU or SimpleRNN with go_backwards=True and return_sequences=True emits its "
            "outputs last step first but passes on the input mask unreversed, so a layer after it "
            "(GlobalAveragePooling1D, another RNN, attention) reads the initial-state outputs of the "
            "padded steps as real and skips the real ones."
        ),
        upstream="https://github.com/keras-team/keras/issues/6022 (closed as stale, 2017; the same "
        "report as keras-team/keras#3737); RNN.compute_mask still returns the input mask",
        observed="reproduces on 2.12.0, 2.15.0, tf-keras 2.21.0, 3.0.5, 3.3.3, 3.8.0, 3.11.3, 3.14.1 "
        "and 3.15.1 (plain script and witness, 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        matches=_reversed_sequence_mask_read,
        backends=BACKENDS,
    ),
    Divergence(
        id="float32-head-drops-mask-under-mixed-policy",
        keras=">=3.0,<3.14",
        reason=(
            "Under a mixed policy, a layer with its own float32 dtype after a masked 16-bit layer "
            "(the float32 output layer the mixed-precision guide asks for) casts its input, and the "
            "cast drops the mask, so the model's output has no mask and the compiled loss averages "
            "over the padded steps too (fixed in 3.14.0 by keras-team/keras#21946, which keeps the "
            "mask through Layer.__call__'s input cast)."
        ),
        upstream="https://github.com/keras-team/keras/pull/21946 (the fix; no report of the loss "
        "found, searched keras-team/keras issues 2026-12-01)",
        observed="reproduces on 3.0.5, 3.1.1, 3.2.1, 3.3.3, 3.8.0 and 3.11.3 (mixed_float16; "
        "mixed_bfloat16 on 3.11.3; plain script and witness) and 3.4.1, 3.5.0, 3.6.0, 3.7.0, "
        "3.9.2, 3.10.0, 3.12.4 and 3.13.2 (matrix witness), found by the version matrix on "
        "3.4.1; absent on 2.15.0, 3.14.1 and 3.15.1 (2026-12-01).",
    ),
    Divergence(
        id="zero-output-zeroes-final-output",
        keras=">=2.12",
        reason=(
            "An LSTM, GRU or SimpleRNN with zero_output_for_mask=True and return_sequences=False "
            "returns zeros as its final output for a row whose last computed step is padded "
            "(post-padded, or pre-padded with go_backwards), although its docstring says the "
            "option is only used when return_sequences is True: the last output is taken after the "
            "padded steps were zeroed."
        ),
        upstream="none found (searched keras-team/keras and tf-keras issues, 2026-12-01); related: "
        "https://github.com/keras-team/tf-keras/issues/252 (backward RNNs misapply "
        "zero_output_for_mask)",
        observed="found when zero_output_for_mask was first drawn; reproduces on 2.12.0, 2.15.0, "
        "3.0.5, 3.8.0 and 3.15.1 (plain script, LSTM, forward post-padded and backward pre-padded "
        "rows zeroed, the other two right; 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        matches=lambda spec, how: _zero_output_rnns(spec, unless="return_sequences"),
        backends=BACKENDS,
    ),
    Divergence(
        id="go-backwards-zero-output-zeroes-real-steps",
        keras=">=2.12",
        reason=(
            "An unrolled LSTM, GRU or SimpleRNN with go_backwards=True, zero_output_for_mask=True "
            "and return_sequences=True returns zeros at every step, real ones included (the same "
            "layer not unrolled is right), which is what Bidirectional's backward layer does in "
            "bidirectional-unroll-zeroes-backward."
        ),
        upstream="related: https://github.com/keras-team/tf-keras/issues/252 (backward RNNs "
        "misapply zero_output_for_mask)",
        observed="found when zero_output_for_mask was first drawn; reproduces on 2.15.0, 3.0.5 and "
        "3.15.1 (plain script, 2026-12-01).",
        matches=lambda spec, how: _zero_output_rnns(spec, "go_backwards", "unroll", "return_sequences"),
    ),
    Divergence(
        id="rnn-initial-state-drops-input-mask",
        keras=">=3.0",
        reason=(
            "An LSTM, GRU or SimpleRNN called with initial_state= (an encoder's states, or states "
            "from a Dense) ignores the mask attached to its input and runs over the padded steps, "
            "because Keras 3's Layer.__call__ fills mask= only when the call has a single tensor "
            "argument; passing mask= by hand works (every Keras 2 uses the attached mask)."
        ),
        upstream="none found for RNNs (searched keras-team/keras issues, 2026-12-01); the same "
        "root cause (layer.py, 'Populate mask argument(s)': one tensor argument only) is "
        "https://github.com/keras-team/keras/issues/19311 (open), for a layer given two tensors",
        observed="found by the recurrent-wiring property; reproduces on 3.0.5, 3.3.3, 3.6.0, "
        "3.10.0, 3.14.1 and 3.15.1 (plain script: LSTM/GRU/SimpleRNN, states from an encoder and "
        "from a Dense, eager and Functional); absent on 2.12.0, 2.15.1 and tf-keras 2.21 "
        "(2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        backends=BACKENDS,
    ),
    Divergence(
        id="torch-unrolled-backward-rnn-mask-fails",
        keras=">=3.15",
        backends=("torch",),
        reason=(
            "On the PyTorch backend an LSTM, GRU or SimpleRNN with unroll=True and "
            "go_backwards=True (Bidirectional's backward half included) fails when given a mask: "
            "the loop flips the tuple torch.unbind returned as if it were a tensor "
            "(AttributeError: 'tuple' object has no attribute 'shape')."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-01); the line is "
        "keras/src/backend/torch/rnn.py, `torch.flip(mask_list, dims=mask_list.shape)`",
        observed="found by the witnesses on PyTorch; reproduces on Keras 3.15.1 with torch 2.13.0 "
        "(CPU; plain script, all three layers, with and without zero_output_for_mask); the same "
        "line is in the 3.0.5, 3.5.0 and 3.10.0 sources (read, not run); the TensorFlow and JAX "
        "backends run the same layers (2026-12-01).",
        matches=lambda spec, how: _unrolled_backward(spec),
    ),
    Divergence(
        id="torch-binary-crossentropy-checks-padded-targets",
        keras=">=3.15",
        backends=("torch",),
        reason=(
            "On the PyTorch backend, binary_crossentropy on probabilities (from_logits=False) "
            "requires every target to lie in [0, 1], padded steps included, so targets padded with "
            "a pad value such as -1 stop evaluate/fit with RuntimeError 'all elements of target "
            "should be between 0 and 1' instead of being masked out as on TensorFlow and JAX; "
            "pad binary targets with 0 or 1 there. kmask draws padded binary targets in [0, 1] "
            "where this is active."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-01); related: "
        "https://github.com/keras-team/keras/issues/23660 (torch binary_crossentropy on integer "
        "targets)",
        observed="found by test_compiled_loss_equals_masked_reference on PyTorch; reproduces on "
        "Keras 3.15.1 with torch 2.13.0 (CPU, plain script); TensorFlow 2.21 and JAX 0.10.2 "
        "under Keras 3.15.1 mask the padded targets (2026-12-01); older Keras 3 minors not run "
        "on PyTorch.",
    ),
    Divergence(
        id="jax-training-metrics-ignore-mask",
        keras=">=3.15",
        backends=("jax",),
        reason=(
            "On the JAX backend, the metrics that fit() and train_on_batch() report (metrics= and "
            "weighted_metrics=, with or without sample weights) average over every timestep, "
            "padded ones included, while the loss they report is masked; evaluate() and "
            "test_on_batch() mask the same metrics, as TensorFlow and PyTorch do in every method."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-02)",
        observed="found by test_compiled_metrics_equal_masked_reference on JAX; reproduces on "
        "Keras 3.15.1 with jax 0.10.2 (plain script: Masking -> Dense, 'mae' from fit and "
        "train_on_batch 0.15775 over every step, from evaluate 0.22203 over the real ones); "
        "TensorFlow 2.21 and PyTorch 2.13.0 under Keras 3.15.1 report 0.22203 from all four "
        "(2026-12-02); older Keras 3 minors not run on JAX. Its witness uses weighted_metrics= "
        "with per-timestep weights of 1: with metrics= it also failed on TensorFlow under "
        "Keras 3.0-3.11, where unweighted-metrics-ignore-mask applies (matrix part 8, keras3.0 "
        "and keras3.1); the weighted witness is absent on TensorFlow under 3.0.5, 3.11.3 and "
        "3.15.1 and reproduces on JAX under 3.15.1 (2026-12-02).",
    ),
    Divergence(
        id="jax-unrolled-rnn-ignores-zero-output-for-mask",
        keras=">=3.15",
        backends=("jax",),
        reason=(
            "On the JAX backend an LSTM, GRU or SimpleRNN with unroll=True ignores "
            "zero_output_for_mask=True (which Bidirectional sets on both halves): each padded step "
            "repeats the previous output instead of being zeros, so a Bidirectional output or a "
            "zero_output_for_mask sequence is non-zero at padded steps after a real one; without "
            "unroll the same layers give zeros."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-02); the unrolled masked "
        "loop of keras/src/backend/jax/rnn.py selects jnp.where(mask, output, prev_output) and has "
        "no zero_output_for_mask branch (the scan branch has one)",
        observed="found by test_recurrent_outputs_hold_at_padded_steps on JAX; reproduces on "
        "Keras 3.15.1 with jax 0.10.2 (plain script: LSTM, unroll=True, post-padded rows, padded "
        "outputs up to 0.46; Bidirectional's forward half likewise); TensorFlow 2.21 and PyTorch "
        "2.13.0 under Keras 3.15.1 give zeros (2026-12-02); older Keras 3 minors not run on JAX.",
        matches=lambda spec, how: _unrolled_zero_output(spec),
    ),
    Divergence(
        id="jax-conv-lstm-masking-mask-fails",
        keras=">=3.15",
        backends=("jax",),
        reason=(
            "On the JAX backend a ConvLSTM1D after Masking on (batch, time, rows, channels) "
            "inputs fails to run: Masking gives a (batch, time, rows) mask, which the JAX RNN loop "
            "cannot broadcast against the (batch, rows, filters) outputs (ValueError "
            "'Incompatible shapes for broadcasting'); TensorFlow and PyTorch run it and keep each "
            "row's real steps apart from its padding."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-02)",
        observed="found by test_recurrent_wiring_keeps_rows_independent on JAX; reproduces on "
        "Keras 3.15.1 with jax 0.10.2 (the witness: ConvLSTM1D(3, 2, padding='same') after "
        "Masking(0.0), two post-padded rows); TensorFlow 2.21 and PyTorch 2.13.0 under Keras "
        "3.15.1 pass the same witness (2026-12-02); older Keras 3 minors not run on JAX.",
    ),
    Divergence(
        id="torch-weighted-metrics-misweigh-batches",
        keras=">=3.15",
        backends=("torch",),
        reason=(
            "On the PyTorch backend, a weighted_metrics= metric given per-timestep sample weights "
            "reports, when evaluate() runs over more than one batch, a value other than the mean "
            "over every real step weighted by sample weight and mask (0.20234 against 0.19577 for "
            "'mae' with all-one weights, Masking -> Dense, 4 rows in batches of 3); in one batch, "
            "or without sample weights, it is right, as on TensorFlow and JAX."
        ),
        upstream="none found (searched keras-team/keras issues, 2026-12-02)",
        observed="found by test_compiled_metrics_equal_masked_reference on PyTorch; reproduces on "
        "Keras 3.15.1 with torch 2.13.0 (plain script, evaluate(); fit() not measured); TensorFlow "
        "2.21 and JAX 0.10.2 under Keras 3.15.1 report 0.19577 (2026-12-02); older Keras 3 minors "
        "not run on PyTorch.",
    ),
    Divergence(
        id="softmax-misreads-sequence-mask",
        keras=">=2.12",
        reason=(
            "A Softmax layer after a masked sequence layer receives the (batch, time) mask and "
            "applies it to its (batch, time, features) input as if it were an attention mask, so "
            "the model fails to build or to run (or, where the shapes happen to broadcast, masks "
            "the wrong entries) instead of taking a softmax over each step's features and keeping "
            "the mask."
        ),
        upstream="https://github.com/keras-team/keras/issues/19722 (wrong output for a mask of "
        "another shape; https://github.com/keras-team/keras/pull/22295, 3.14.0, turned it into an "
        "error)",
        observed="reproduces on 2.12.0, 2.15.0, tf-keras 2.16.0 and 2.21.0 (ValueError 'Dimensions "
        "must be equal'), 3.0.5, 3.3.3, 3.4.1-3.7.0, 3.8.0, 3.9.2, 3.10.0, 3.11.3, 3.12.4 and 3.13.2 "
        "(InvalidArgumentError when run), 3.14.1 and 3.15.1 (ValueError 'must be broadcastable') (witness, 2026-12-01)."
        " On the JAX (jax 0.10.2) and PyTorch (torch 2.13.0, CPU) backends of Keras 3.15.1 the "
        "witness reproduces too (2026-12-01).",
        matches=lambda spec, how: how == "graph" and softmax_reads_mask(spec),
        backends=BACKENDS,
    ),
)


BY_ID = {d.id: d for d in DIVERGENCES}


def active_matches(spec: StackSpec, how: str, backends: tuple[str, ...] = (BACKEND,)) -> list[Divergence]:
    """The divergences active on the installed Keras (on any of ``backends``) that ``spec`` hits
    when built with the API ``how`` (``"functional"``...) or run in the execution mode ``how``
    (``"predict"``...)."""
    return [d for d in DIVERGENCES if any(d.active_on(b) for b in backends) and d.matches(spec, how)]


def covering(focus: str, how: str) -> Divergence | None:
    """The active divergence that every stack focused on ``focus`` hits under ``how``, if any."""
    return next((d for d in DIVERGENCES if d.active and (focus, how) in d.whole_cases), None)
