"""Plausible bugs in mask propagation, one per rule family, injected by monkeypatching.

A layer that forgets to pass its mask on (kept), one that claims mask support it
lacks (dropped), a pooling layer that passes on a mask for an axis it removed
(reduced), a merge that keeps only the first input's mask (merged), attention
that returns the value's mask instead of the query's (attention), and a
``Layer.__call__`` that reads the mask attached to its input only on symbolic
tensors, so eager calls inside a subclassed model or layer get none. Built models
are released before and after each injection, since some faults act when a layer
is constructed or a Functional graph is traced.
"""

from __future__ import annotations

import contextlib

from kmask.build import CACHE
from kmask.keras_compat import layers, tf

from .injection import Fault, patched, registry


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


@contextlib.contextmanager
def _fresh_models(patch):
    """``patch`` active, with no model built before or under it surviving it."""
    CACHE.release()
    try:
        with patch:
            yield
    finally:
        CACHE.release()


def _returning_mask(owner, mask_for):
    """``owner.compute_mask`` replaced by ``mask_for(inputs, mask)``."""
    return _fresh_models(
        _patched_here(
            owner, "compute_mask", lambda _: lambda self, inputs, mask=None: mask_for(inputs, mask)
        )
    )


def dense_drops_mask():
    return _returning_mask(layers.Dense, lambda inputs, mask: None)


def conv1d_claims_mask_support():
    def replacement(original):
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.supports_masking = True

        return __init__

    return _fresh_models(_patched_here(layers.Conv1D, "__init__", replacement))


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


def implicit_mask_only_in_functional_graphs():
    def replacement(original):
        def __call__(self, *args, **kwargs):
            if (
                args
                and "mask" not in kwargs
                and tf.executing_eagerly()
                and isinstance(args[0], tf.Tensor)
                and getattr(args[0], "_keras_mask", None) is not None
            ):
                args = (tf.identity(args[0]),) + args[1:]  # a copy without the attached mask
            return original(self, *args, **kwargs)

        return __call__

    return _fresh_models(_patched_here(layers.Layer, "__call__", replacement))


FAULTS = registry(
    Fault("dense_drops_mask", "Dense.compute_mask returns None instead of its input mask.", dense_drops_mask),
    Fault(
        "conv1d_claims_mask_support",
        "Conv1D declares supports_masking=True, so its input mask passes on unchanged.",
        conv1d_claims_mask_support,
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
        "implicit_mask_only_in_functional_graphs",
        "Layer.__call__ reads the mask attached to its input only on symbolic tensors, so layers "
        "called eagerly in a subclassed model's or layer's call() get no mask.",
        implicit_mask_only_in_functional_graphs,
    ),
)


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
