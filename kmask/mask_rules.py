"""The reference of mask rules, as data the suite owns: for each layer kind, the output mask(s)
given the input mask(s), per Keras generation.

Each kind has a :class:`Rule` naming one rule for Keras 2 and one for Keras 3
(the same name where the generations agree), and its *family*: the mask is
``created``, ``kept``, ``reduced`` away with the time axis, ``dropped`` by a layer
that does not support masking (or by an operation that is no layer at all: ``x * 2``,
``x + y``, ``keras.ops``/``tf.math`` functions carry no mask on either generation, as
keras-team/keras#18416 reports), ``merged`` across inputs, or taken from the
``attention`` query. :data:`RULE_FUNCTIONS` says in NumPy what each rule name
means; :func:`expected_masks` applies the installed generation's rule. Where the
generations differ, :data:`DIFFERENCES` says how and why, with the versions.

Two masks are tracked per layer call: the one Keras *attaches* to the output
(``_keras_mask``, what the next layer receives) and what ``layer.compute_mask``
*returns* when called directly. They agree for every layer that supports masking;
for one that does not, Keras 2's ``compute_mask`` raises ``TypeError`` when given a
mask and Keras 3's returns the input mask unchanged (a Keras 2 compatibility
method that Keras 3 itself never consults), while both attach no mask.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from strategies import LayerSpec
from strategies.graphs import MERGES, OPS, RESHAPING, output_count

Mask = Optional[np.ndarray]


@dataclasses.dataclass(frozen=True)
class Rule:
    family: str
    keras2: str
    keras3: str

    def for_generation(self, generation: int) -> str:
        return self.keras2 if generation == 2 else self.keras3


def _same(family: str, name: str) -> Rule:
    return Rule(family, name, name)


RULES: dict[str, Rule] = {
    "Masking": _same("created", "not_all_equal_mask_value"),
    "Embedding": _same("created", "token_not_zero"),
    **{k: _same("kept", "keep") for k in (
        "Dense", "Dropout", "Activation", "LayerNormalization", "BatchNormalization", "TimeDistributed",
        "SpatialDropout1D", "GaussianNoise", "UnitNormalization", "Softmax",
    )},
    **{k: _same("kept", "keep_if_sequences") for k in ("LSTM", "GRU", "SimpleRNN", "Bidirectional")},
    "GlobalAveragePooling1D": _same("reduced", "none"),
    **{k: _same("dropped", "unsupported") for k in ("GlobalMaxPooling1D", "Flatten", "Reshape", "Conv1D")},
    **{k: _same("dropped", "unsupported") for k in RESHAPING},
    "Lambda": _same("dropped", "mask_function_or_none"),
    **{k: _same("dropped", "not_a_layer") for k in OPS},
    "Concatenate": Rule("merged", "concatenate_and", "concatenate_or"),
    **{k: Rule("merged", "and_of_present", "or_if_all_present") for k in (
        "Add", "Subtract", "Multiply", "Average", "Maximum",
    )},
    **{k: _same("attention", "query") for k in ("MultiHeadAttention", "Attention", "AdditiveAttention")},
}
"""Rule names per layer kind (see :data:`RULE_FUNCTIONS` for what each name means)."""


DIFFERENCES = {
    "Add/Subtract/Multiply/Average/Maximum": (
        "Keras 2 (<3) ANDs the masks of the masked inputs and ignores unmasked ones; Keras 3 (>=3.0) "
        "ORs them and returns no mask when any input is unmasked (a step is real if any input "
        "is real, and Maximum/Multiply fill the padded operand from the other); Keras 3.0-3.3 "
        "attach no mask to a merge's output and their compute_mask still ANDs: the OR came with "
        "keras-team/keras#19685 in 3.4.0 (divergence list-input-layers-attach-no-mask)."
    ),
    "Concatenate": (
        "On the feature axis Keras 2 (<3) ANDs the masks, an unmasked input counting as all real; "
        "Keras 3 (>=3.0) ORs them, so one unmasked input makes every step real. On the time axis "
        "both concatenate the masks (with an unmasked input, compute_mask fails on Keras 2 and "
        "Keras 3.0-3.3: see divergence concatenate-time-axis-unmasked-input)."
    ),
    "GlobalMaxPooling1D/Flatten/Reshape/Conv1D": (
        "Both attach no mask (Keras 2 (<3) silently, Keras 3 (>=3.0) with a warning); called "
        "directly with a mask, compute_mask raises TypeError on Keras 2 and returns the mask "
        "unchanged on Keras 3."
    ),
}
"""Where Keras 2 and Keras 3 follow different rules, and how."""


RAISES_TYPE_ERROR = "raises TypeError"


def _keep_if_sequences(layer: LayerSpec, masks, values) -> list[Mask]:
    rnn = layer.recurrent
    count = output_count(layer)
    if not rnn.option("return_sequences", False):
        return [None] * count
    if layer.kind == "Bidirectional":
        return [masks[0]] * count  # merge_mode=None: both directions keep the mask
    if rnn.option("go_backwards", False) and masks[0] is not None:
        # the outputs come last step first, so their real steps are the input's reversed (Keras
        # passes the input mask on unreversed: go-backwards-sequence-mask-not-reversed)
        return [masks[0][:, ::-1]] + [None] * (count - 1)
    return [masks[0]] + [None] * (count - 1)  # states have no time axis


def _present_or_ones(masks, values) -> list[np.ndarray]:
    """Each input's mask, or all True (shaped like its values) for an input without one."""
    if len(masks) != len(values):
        raise ValueError(f"{len(masks)} input masks for {len(values)} input values")
    return [m if m is not None else np.ones(v.shape[:2], bool) for m, v in zip(masks, values)]


def _concatenate(combine):
    def rule(layer: LayerSpec, masks, values) -> list[Mask]:
        if all(m is None for m in masks):
            return [None]
        full = _present_or_ones(masks, values)
        if layer.option("axis", -1) == 1:
            return [np.concatenate(full, axis=1)]
        return [combine(np.stack(full), axis=0)]

    return rule


def _and_of_present(layer, masks, values) -> list[Mask]:
    present = [m for m in masks if m is not None]
    return [np.all(np.stack(present), axis=0) if present else None]


def _or_if_all_present(layer, masks, values) -> list[Mask]:
    if any(m is None for m in masks):
        return [None]
    return [np.any(np.stack(masks), axis=0)]


def _mask_function_or(otherwise: str):
    def rule(layer, masks, values):
        if layer.option("mask") == "keep":
            return [masks[0]]
        return RULE_FUNCTIONS[otherwise](layer, masks, values)

    return rule


RULE_FUNCTIONS: dict[str, Callable] = {
    "not_all_equal_mask_value": lambda layer, masks, values: [
        np.any(values[0] != np.float32(layer.option("mask_value", 0.0)), axis=-1)
    ],
    "token_not_zero": lambda layer, masks, values: [values[0] != 0],
    "keep": lambda layer, masks, values: [masks[0]],
    "keep_if_sequences": _keep_if_sequences,
    "none": lambda layer, masks, values: [None],
    "unsupported": lambda layer, masks, values: [None],
    "not_a_layer": lambda layer, masks, values: [None],
    "mask_function_or_none": _mask_function_or("none"),
    "concatenate_and": _concatenate(np.all),
    "concatenate_or": _concatenate(np.any),
    "and_of_present": _and_of_present,
    "or_if_all_present": _or_if_all_present,
    "query": lambda layer, masks, values: [masks[0]],
}
"""What each rule name means: ``(layer spec, input masks, input values) -> output masks``.
Masks are ``(batch, timesteps)`` bool arrays, or None for no mask; values are NumPy arrays."""


def rule_name(layer: LayerSpec, generation: int) -> str:
    return RULES[layer.kind].for_generation(generation)


def expected_masks(layer: LayerSpec, masks: list[Mask], values: list[np.ndarray], generation: int):
    """The masks Keras of ``generation`` attaches to each output of ``layer``."""
    return RULE_FUNCTIONS[rule_name(layer, generation)](layer, masks, values)


def ignores_masks(layer: LayerSpec, generation: int) -> bool:
    """Whether ``layer`` does not support masking on ``generation`` (the mask is dropped)."""
    return rule_name(layer, generation) == "unsupported"


def expected_compute_mask(layer: LayerSpec, masks: list[Mask], values, generation: int):
    """What ``layer.compute_mask(inputs, mask)`` returns (or :data:`RAISES_TYPE_ERROR`)."""
    if ignores_masks(layer, generation) and masks[0] is not None:
        return RAISES_TYPE_ERROR if generation == 2 else [masks[0]]
    if layer.kind == "MultiHeadAttention":
        # it keeps Layer.compute_mask (every Keras 2.12-2.15 and 3.0-3.15), which hands back the
        # masks it is given; the query's mask reaches the output through call() instead
        return list(masks)
    return expected_masks(layer, masks, values, generation)


def expected_graph_masks(spec, inputs: np.ndarray, values: list[np.ndarray], generation: int):
    """The mask of every tensor of the graph ``spec`` (t0, t1, then each node's outputs) under
    the rules of ``generation``, for model ``inputs`` (masked input) and tensor ``values``."""
    masks: list[Mask] = [
        expected_masks(spec.input_layer, [None], [inputs], generation)[0],
        None,  # the unmasked input
    ]
    for node in spec.nodes:
        masks.extend(
            expected_masks(node.layer, [masks[i] for i in node.inputs],
                           [values[i] for i in node.inputs], generation)
        )
    return masks


def _masked_tensors(spec, generation: int) -> list[bool]:
    """Whether each tensor of the graph ``spec`` (t0, t1, then each node's outputs) has a mask
    under the rules of ``generation``."""
    has_mask = [True, False]
    for node in spec.nodes:
        inputs = [has_mask[i] for i in node.inputs]
        dummy = [np.ones((1, 1), bool) if m else None for m in inputs]
        values = [np.ones((1, 1, 1), np.float32)] * len(inputs)
        has_mask.extend(m is not None for m in expected_masks(node.layer, dummy, values, generation))
    return has_mask


def _nodes_with_masked_inputs(spec, kinds, generation: int):
    """``(node, [whether each input is masked])`` for the nodes of ``spec`` of one of ``kinds``."""
    has_mask = _masked_tensors(spec, generation)
    return [(node, [has_mask[i] for i in node.inputs]) for node in spec.nodes if node.layer.kind in kinds]


def concatenates_unmasked_on_time_axis(spec) -> bool:
    """Whether the graph ``spec`` concatenates a masked and an unmasked tensor along time
    (see the divergence concatenate-time-axis-unmasked-input)."""
    return any(
        node.layer.option("axis") == 1 and any(masked) and not all(masked)
        for node, masked in _nodes_with_masked_inputs(spec, ("Concatenate",), 2)
    )


SCORE_ATTENTIONS = ("Attention", "AdditiveAttention")
"""The attention layers called on a ``[query, value]`` list (MultiHeadAttention takes tensors)."""


def list_input_reads_mask(spec) -> bool:
    """Whether a merge or Attention/AdditiveAttention node of the graph ``spec`` reads a masked
    tensor (see the divergence list-input-layers-attach-no-mask)."""
    return any(any(masked) for _, masked in _nodes_with_masked_inputs(spec, MERGES + SCORE_ATTENTIONS, 3))


def attention_mixes_masked_and_unmasked(spec) -> bool:
    """Whether an Attention/AdditiveAttention node of the graph ``spec`` reads one masked and one
    unmasked tensor (see the divergence attention-mixed-input-masks-fail)."""
    return any(
        any(masked) and not all(masked)
        for _, masked in _nodes_with_masked_inputs(spec, SCORE_ATTENTIONS, 3)
    )


def attention_query_masked(spec) -> bool:
    """Whether an Attention/AdditiveAttention node of the graph ``spec`` reads a masked query
    (see the divergence attention-symbolic-query-mask-fails)."""
    return any(masked[0] for _, masked in _nodes_with_masked_inputs(spec, SCORE_ATTENTIONS, 3))


def attention_value_mask_without_causal(spec) -> bool:
    """Whether an Attention/AdditiveAttention node of the graph ``spec`` reads a masked value
    without ``use_causal_mask`` (see the divergence attention-value-mask-misbroadcast)."""
    return any(
        masked[1] and not node.layer.option("use_causal_mask", False)
        for node, masked in _nodes_with_masked_inputs(spec, SCORE_ATTENTIONS, 3)
    )


def shares_attention_input(spec) -> bool:
    """Whether a tensor that feeds a MultiHeadAttention node in the graph ``spec`` also feeds
    another node (see the divergence multiheadattention-strips-input-masks)."""
    readers: dict[int, set[int]] = {}
    for n, node in enumerate(spec.nodes):
        for i in node.inputs:
            readers.setdefault(i, set()).add(n)
    return any(
        len(readers[i]) > 1
        for node in spec.nodes if node.layer.kind == "MultiHeadAttention"
        for i in node.inputs
    )


def generation_differences(kinds) -> str:
    """For failure messages: the :data:`DIFFERENCES` that apply to any of the layer ``kinds``."""
    kinds = set(kinds)
    found = [f"{key}: {text}" for key, text in DIFFERENCES.items() if kinds & set(key.split("/"))]
    if not found:
        return ""
    return " (checked against this generation's rules; where the generations differ: " + " ".join(found) + ")"


def softmax_reads_mask(spec) -> bool:
    """Whether a Softmax node of the graph ``spec`` reads a masked tensor under either
    generation's rules (see the divergence softmax-misreads-sequence-mask)."""
    return any(
        any(masked) for generation in (2, 3)
        for _, masked in _nodes_with_masked_inputs(spec, ("Softmax",), generation)
    )
