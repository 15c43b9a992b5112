"""Tokens from Keras's text layers feeding ``Embedding(mask_zero=True)`` end to end:
``TextVectorization``, ``StringLookup`` and ``IntegerLookup`` in a ``tf.data`` pipeline, then
an embedding and an LSTM under ``predict``.

The rule checked: the padding token is 0 and only padding is 0; an out-of-vocabulary word is
token 1, a real step, never masked; vocabulary word ``k`` is token ``k + 2``. So the tokens are
a NumPy lookup of the words, and each sentence of a padded batch gives what it gives alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from . import report
from .build import CACHE, uniform_weights
from .compare import assert_close, tolerance
from .keras_compat import keras, layers, tf, to_numpy
from .reproducers_pipelines import text_reproducer

WORDS = ("the", "cat", "sat", "on", "mat", "dog", "ran")
"""The vocabulary (word ``k`` is token ``k + 2``)."""
UNKNOWN_WORDS = ("zebra", "quux")
"""Words outside the vocabulary: token 1."""
NUMBERS = (10, 20, 30, 40, 50, 60, 70)
"""IntegerLookup's vocabulary, standing in for the words one for one."""
UNKNOWN_NUMBERS = (99, 123)
TOKENIZERS = ("TextVectorization", "StringLookup", "IntegerLookup")
TIMESTEPS = 6
"""Every batch is padded to this many tokens (TextVectorization's output_sequence_length)."""
TOKENS_VS_LOOKUP = "tokens vs the NumPy lookup"
SENTENCE_VS_ALONE = "sentence in the padded batch vs alone"
"""What the two assertions say."""


@dataclasses.dataclass(frozen=True)
class Sentences:
    """Sentences as word indices: ``0..len(WORDS)-1`` for vocabulary words, ``-1``/``-2`` for the
    unknown ones; each sentence has 1 to :data:`TIMESTEPS` words."""

    words: tuple[tuple[int, ...], ...]

    def expected_tokens(self) -> np.ndarray:
        """The NumPy lookup: vocabulary word k -> k + 2, unknown -> 1, padding -> 0."""
        tokens = np.zeros((len(self.words), TIMESTEPS), np.int64)
        for i, sentence in enumerate(self.words):
            tokens[i, :len(sentence)] = [w + 2 if w >= 0 else 1 for w in sentence]
        return tokens


def _word(index: int) -> str:
    return WORDS[index] if index >= 0 else UNKNOWN_WORDS[-index - 1]


def _number(index: int) -> int:
    return NUMBERS[index] if index >= 0 else UNKNOWN_NUMBERS[-index - 1]


def _tokenizer(kind: str):
    if kind == "TextVectorization":
        return layers.TextVectorization(vocabulary=list(WORDS), output_sequence_length=TIMESTEPS,
                                        standardize=None, split="whitespace")
    if kind == "StringLookup":
        return layers.StringLookup(vocabulary=list(WORDS), mask_token="")
    return layers.IntegerLookup(vocabulary=list(NUMBERS), mask_token=0)


def raw_inputs(kind: str, sentences: Sentences):
    """What a user hands the tokenizer: whole strings for TextVectorization, words padded with
    the mask token "" for StringLookup, numbers padded with the mask token 0 for IntegerLookup."""
    if kind == "TextVectorization":
        return tf.constant([" ".join(_word(w) for w in s) for s in sentences.words])
    if kind == "StringLookup":
        return tf.constant([[_word(w) for w in s] + [""] * (TIMESTEPS - len(s)) for s in sentences.words])
    return tf.constant([[_number(w) for w in s] + [0] * (TIMESTEPS - len(s)) for s in sentences.words],
                       dtype=tf.int64)


def token_dataset(kind: str, sentences: Sentences, batch_size: int):
    """``Dataset.from_tensor_slices(raw).batch(batch_size).map(tokenizer)``, as the Keras guides
    build text pipelines."""
    tokenizer = _tokenizer(kind)
    return tf.data.Dataset.from_tensor_slices(raw_inputs(kind, sentences)).batch(batch_size).map(tokenizer)


def _embedding_lstm():
    model = keras.Sequential([
        keras.Input((None,), dtype="int64"),
        layers.Embedding(len(WORDS) + 2, 2, mask_zero=True),
        layers.LSTM(3),
    ])
    model.set_weights(uniform_weights(0, [w.shape for w in model.get_weights()]))
    return model


def embedding_lstm():
    """``Embedding(len(WORDS) + 2, 2, mask_zero=True) -> LSTM(3)`` with fixed weights (cached)."""
    return CACHE.get(("text tokens", "embedding lstm"), _embedding_lstm)


def check_tokens_feed_the_mask(kind: str, sentences: Sentences, batch_size: int) -> None:
    """The pipeline's tokens are the NumPy lookup (padding 0, unknown words 1, real), and
    ``predict`` over them gives each sentence what an eager call on its tokens alone gives
    (failing, it writes a standalone script)."""
    with report.reproduced_by("text_tokens", lambda: text_reproducer(kind, sentences, batch_size)):
        _check_tokens_feed_the_mask(kind, sentences, batch_size)


def _check_tokens_feed_the_mask(kind: str, sentences: Sentences, batch_size: int) -> None:
    data = token_dataset(kind, sentences, batch_size)
    tokens = np.concatenate([to_numpy(t) for t in data])
    expected = sentences.expected_tokens()
    if tokens.shape != expected.shape or not np.array_equal(tokens, expected):
        raise AssertionError(
            f"{kind} {TOKENS_VS_LOOKUP} (padding 0, unknown words 1, word k -> k + 2):\n"
            f"got\n{tokens}\nexpected\n{expected}"
        )
    model = embedding_lstm()
    predicted = to_numpy(model.predict(data, verbose=0))
    for i, sentence in enumerate(sentences.words):
        alone = to_numpy(model(tokens[i:i + 1, :len(sentence)], training=False))[0]
        assert_close(
            predicted[i], alone, tolerance(2, TIMESTEPS),
            f"{kind}: {SENTENCE_VS_ALONE}, sentence {i} ({len(sentence)} of {TIMESTEPS} tokens {tokens[i]})",
        )


def sentences(max_rows: int = 4):
    """:class:`Sentences` of 1 to ``max_rows`` sentences, each of 1 to :data:`TIMESTEPS` words,
    an unknown word one time in four."""
    word = st.one_of(st.integers(0, len(WORDS) - 1), st.integers(0, len(WORDS) - 1),
                     st.integers(0, len(WORDS) - 1), st.sampled_from([-1, -2]))
    sentence = st.lists(word, min_size=1, max_size=TIMESTEPS).map(tuple)
    return st.lists(sentence, min_size=1, max_size=max_rows).map(lambda rows: Sentences(tuple(rows)))
