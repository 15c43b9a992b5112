"""A plausible bug in the text layers that make tokens for ``Embedding(mask_zero=True)``: an
out-of-vocabulary word gets the padding token 0 instead of the OOV token 1, so the mask hides a
real word. ``CASES`` says which property it must break, and in which comparison;
``test_pipeline_faults.py`` proves it."""

from __future__ import annotations

from kmask.keras_compat import keras_internal, tf
from kmask.text_tokens import TOKENS_VS_LOOKUP

from .injection import Fault, FaultCase, patched, registry


def unknown_word_is_padding():
    """IndexLookup (behind TextVectorization, StringLookup and IntegerLookup) maps the OOV index
    1 to the mask index 0."""
    def replacement(original):
        def call(self, inputs):  # IndexLookup.call's own signature: Keras 2 reads it
            tokens = original(self, inputs)
            return tf.where(tokens == 1, tf.zeros_like(tokens), tokens)

        return call

    return patched(keras_internal("layers.preprocessing.index_lookup").IndexLookup, "call", replacement)


FAULTS = registry(
    Fault(
        "unknown_word_is_padding",
        "TextVectorization/StringLookup/IntegerLookup give an unknown word the padding token 0, so "
        "Embedding(mask_zero=True) masks a real word.",
        unknown_word_is_padding,
    ),
)

CASES = [
    FaultCase("unknown_word_is_padding", "tests/test_input_pipelines.py::test_text_tokens_mask_only_padding", {},
              TOKENS_VS_LOOKUP),
]
"""Which property the fault must break, and the comparison its failure must name."""
