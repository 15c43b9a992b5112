"""Plausible bugs in mask propagation, one per rule family, injected by monkeypatching.

A layer that forgets to pass its mask on (kept), one that claims mask support it
lacks (dropped), a pooling layer that passes on a mask for an axis it removed
(reduced), a merge that keeps only the first input's mask (merged), attention
that returns the value's mask instead of the query's (attention), two more around the layers
beyond the forward catalog (UnitNormalization forgetting its mask, 1D pooling claiming mask
support), and a
``Layer.__call__`` that reads the mask attached to its input only on symbolic
tensors, so eager calls inside a subclassed model or layer get none. Some of these act
when a layer is constructed or a Functional graph is traced; ``injection.injected`` drops
every built model before and after each injection, so none outlives its fault. ``CASES``
says which property each must break, and in which comparison;
``test_propagation_faults.py`` proves it.
"""

from __future__ import annotations

import contextlib

from kmask.graph_loss import GRAPH_LOSS
from kmask.keras_compat import GENERATION, keras_internal, layers, tf

from .faults import layer_calls_without_input_mask
from .injection import Fault, FaultCase, patched, registry


@contextlib.contextmanager
def _patched_here(owner, name, replacement):
    """Like ``injection.patched``, but an inherited attribute is restored by deleting the override,
    so patching a subclass after its base never leaves the base's patch behind."""
    own = name in vars(owner)
    original = vars(owner)[name] if own else None
    try:
        with patched(owner, name, replacement):
            yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


def _returning_mask(owner, mask_for):
    """``owner.compute_mask`` replaced by ``mask_for(inputs, mask)``."""
    return _patched_here(
        owner, "compute_mask", lambda _: lambda self, inputs, mask=None: mask_for(inputs, mask)
    )


def dense_drops_mask():
    return _returning_mask(layers.Dense, lambda inputs, mask: None)


def _claiming_mask_support(*owners):
    """Each of ``owners`` sets ``supports_masking = True`` once constructed."""
    def replacement(original):
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.supports_masking = True

        return __init__

    stack = contextlib.ExitStack()
    for owner in owners:
        stack.enter_context(_patched_here(owner, "__init__", replacement))
    return stack


def conv1d_claims_mask_support():
    return _claiming_mask_support(layers.Conv1D)


def unit_normalization_drops_mask():
    return _returning_mask(layers.UnitNormalization, lambda inputs, mask: None)


def pooling1d_claims_mask_support():
    return _claiming_mask_support(layers.MaxPooling1D, layers.AveragePooling1D)


def pooling_passes_mask_on():
    return _returning_mask(layers.GlobalAveragePooling1D, lambda inputs, mask: mask)


def _merge_base():
    """The class that gives Add, Subtract, ... their compute_mask (``Merge`` or ``_Merge``)."""
    return next(c for c in layers.Add.__mro__ if "compute_mask" in vars(c))


def merge_keeps_first_mask():
    return _returning_mask(_merge_base(), lambda inputs, mask: None if mask is None else mask[0])


def attention_returns_value_mask():
    def value_mask(inputs, mask):
        return None if mask is None else mask[1]

    stack = contextlib.ExitStack()
    stack.enter_context(_returning_mask(layers.Attention, value_mask))
    stack.enter_context(_returning_mask(layers.AdditiveAttention, value_mask))
    return stack


def operations_keep_mask():
    """Keras 3: every operation that is not a layer attaches its first input's mask to its result
    (symbolic and eager); Keras 2: the TFOpLambda layers that wrap operations claim mask support."""
    if GENERATION == 2:
        return _claiming_mask_support(keras_internal("layers.core.tf_op_layer").TFOpLambda)
    operation = keras_internal("ops.operation").Operation
    layer_class = keras_internal("layers.layer").Layer

    def attaching(original):
        def call(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            mask = getattr(args[0], "_keras_mask", None) if args else None
            if mask is not None and not isinstance(self, layer_class) and not isinstance(result, (list, tuple)):
                result._keras_mask = mask
            return result

        return call

    stack = contextlib.ExitStack()
    for name in ("__call__", "symbolic_call"):
        stack.enter_context(patched(operation, name, attaching))
    return stack


def implicit_mask_only_in_functional_graphs():
    return layer_calls_without_input_mask(
        lambda layer, x, kwargs: "mask" not in kwargs and tf.executing_eagerly()
    )


FAULTS = registry(
    Fault("dense_drops_mask", "Dense.compute_mask returns None instead of its input mask.", dense_drops_mask),
    Fault(
        "conv1d_claims_mask_support",
        "Conv1D declares supports_masking=True, so its input mask passes on unchanged.",
        conv1d_claims_mask_support,
    ),
    Fault(
        "unit_normalization_drops_mask",
        "UnitNormalization.compute_mask returns None instead of its input mask.",
        unit_normalization_drops_mask,
    ),
    Fault(
        "pooling1d_claims_mask_support",
        "MaxPooling1D and AveragePooling1D declare supports_masking=True, so the input mask passes "
        "on although the steps were pooled.",
        pooling1d_claims_mask_support,
    ),
    Fault(
        "pooling_passes_mask_on",
        "GlobalAveragePooling1D returns its input mask although the time axis is gone.",
        pooling_passes_mask_on,
    ),
    Fault(
        "merge_keeps_first_mask",
        "Add/Subtract/Multiply/Average/Maximum return the first input's mask, ignoring the others.",
        merge_keeps_first_mask,
    ),
    Fault(
        "attention_returns_value_mask",
        "Attention and AdditiveAttention return the value's mask instead of the query's.",
        attention_returns_value_mask,
    ),
    Fault(
        "operations_keep_mask",
        "Operations that are not layers (x * 2, x + y, keras.ops / tf.math functions) pass their "
        "first input's mask on to their result.",
        operations_keep_mask,
    ),
    Fault(
        "implicit_mask_only_in_functional_graphs",
        "Layer.__call__ reads the mask attached to its input only on symbolic tensors, so layers "
        "called eagerly in a subclassed model's or layer's call() get no mask.",
        implicit_mask_only_in_functional_graphs,
    ),
)


GRAPH_RULES = "tests/test_mask_propagation.py::test_functional_graph_masks_follow_rules"
CONSUMER = "tests/test_masking_claims.py::test_consumer_after_propagating_layers_ignores_padding"
APIS_AGREE = "tests/test_api_equivalence.py::test_apis_give_same_outputs_and_mask"
AGAINST_RULE = "the rule says"
"""What every mask-against-rule assertion says."""
CONSUMER_SEES_PADDING = "padded batch vs the row run alone"

CASES = [
    FaultCase("dense_drops_mask", GRAPH_RULES, dict(group="kept"), AGAINST_RULE),
    FaultCase("dense_drops_mask", "tests/test_mask_propagation.py::test_sequential_masks_follow_rules", {},
              AGAINST_RULE),
    FaultCase("dense_drops_mask", APIS_AGREE, dict(api="sequential"), AGAINST_RULE),
    FaultCase("dense_drops_mask", CONSUMER, dict(api="functional"), CONSUMER_SEES_PADDING),
    FaultCase("conv1d_claims_mask_support", GRAPH_RULES, dict(group="dropped"), AGAINST_RULE),
    FaultCase("conv1d_claims_mask_support",
              "tests/test_masking_claims.py::test_unsupported_layer_drops_mask_silently", {},
              "a layer without mask support passed a mask on"),
    # not the graph property: its 'kept' group puts UnitNormalization on a masked tensor in too
    # few of 60 derandomized examples to be sure of it (dense_drops_mask proves that group)
    FaultCase("unit_normalization_drops_mask", CONSUMER, dict(api="functional"), CONSUMER_SEES_PADDING),
    FaultCase("unit_normalization_drops_mask", CONSUMER, dict(api="sequential"), CONSUMER_SEES_PADDING),
    FaultCase("pooling1d_claims_mask_support", GRAPH_RULES, dict(group="reshaped"), AGAINST_RULE),
    FaultCase("pooling_passes_mask_on", GRAPH_RULES, dict(group="reduced"), AGAINST_RULE),
    FaultCase("merge_keeps_first_mask", GRAPH_RULES, dict(group="merged"), AGAINST_RULE),
    FaultCase("attention_returns_value_mask", GRAPH_RULES, dict(group="attention"), AGAINST_RULE),
    FaultCase("operations_keep_mask", GRAPH_RULES, dict(group="ops"), AGAINST_RULE),
    FaultCase("operations_keep_mask", "tests/test_compiled_loss.py::test_graph_output_loss_follows_its_rule_mask",
              {}, GRAPH_LOSS),
    FaultCase("implicit_mask_only_in_functional_graphs", CONSUMER, dict(api="subclassed"),
              CONSUMER_SEES_PADDING),
    FaultCase("implicit_mask_only_in_functional_graphs", CONSUMER, dict(api="subclassed_layer"),
              CONSUMER_SEES_PADDING),
    FaultCase("implicit_mask_only_in_functional_graphs", APIS_AGREE, dict(api="subclassed_relying"),
              AGAINST_RULE),
]
"""Which property, with which parameters, each fault must break, and the comparison its
failure must name."""


def embedding_config_forgets_mask_zero():
    def replacement(original):
        def get_config(self):
            return {k: v for k, v in original(self).items() if k != "mask_zero"}

        return get_config

    return patched(layers.Embedding, "get_config", replacement)


SAVE_LOAD_FAULT = Fault(
    "embedding_config_forgets_mask_zero",
    "Embedding.get_config leaves out mask_zero, so a reloaded model makes no mask.",
    embedding_config_forgets_mask_zero,
)
"""Breaks the save/load check, which runs fixed examples rather than a Hypothesis property."""
