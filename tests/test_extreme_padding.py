"""Extreme padding: rows without any real step and queries without any real key get the empty
mean and the empty attention, and NaN, infinities or huge values at padded steps change no real
output (see kmask/extreme.py for the rules)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask.build import CACHE
from kmask.divergences import BY_ID
from kmask.draw import stacks_without_known_divergences
from kmask.edge import budget
from kmask.extreme import (
    ATTENTIONS,
    EXTREME_CONTENT,
    attention_layer,
    check_attention_reads_only_real_keys,
    check_extreme_content_ignored,
    check_pooling_gives_masked_mean,
    content_families,
    fewest_real_steps,
)
from strategies import APIS, CATALOG, MASK_PADDINGS, TIMESTEP_BUCKETS, LayerSpec, PaddedBatch, StackSpec, masks, supported
from strategies.replay import Draws


def floats(bound):
    return st.floats(-bound, bound, width=32, allow_subnormal=False)


UNROLLED_LSTM_POOLING = Draws(
    # A false alarm on Keras 2.15 (2026-12-02, dev profile): the pooling probe was built without
    # the fixed timesteps an unrolled RNN needs, and Keras 2 refused to build it.
    spec=StackSpec("masking", (
        LayerSpec.make("LSTM", units=3, return_sequences=True, return_state=False,
                       go_backwards=False, unroll=True),
        LayerSpec.make("GlobalAveragePooling1D"),
    )),
    batch=PaddedBatch(
        style="masking",
        values=np.array([[[1, 0.5], [2, 1], [0, 0]], [[0.5, 1], [0, 0], [0, 0]]], dtype=np.float32),
        mask=np.array([[True, True, False], [True, False, False]]),
    ),
)


@given(data=st.data())
@example(data=UNROLLED_LSTM_POOLING)
def test_pooling_gives_masked_mean(data):
    """GlobalAveragePooling1D in a drawn stack gives each row's mean over its real steps, and
    zeros for a row without any."""
    spec = data.draw(stacks_without_known_divergences("GlobalAveragePooling1D", "functional"), label="spec")
    batch = data.draw(spec.batches(min_length=fewest_real_steps("pooling-empty-row-nan")), label="batch")
    check_pooling_gives_masked_mean(spec, batch)


@pytest.mark.parametrize("kind", ATTENTIONS)
@given(data=st.data())
def test_attention_reads_only_real_keys(kind, data):
    """A real query's attention output does not depend on what padded keys hold, and a real
    query that sees no real key gets the empty attention (zeros; MultiHeadAttention's output
    bias): self- and cross-attention, with and without a causal mask."""
    # a batch of one steers clear of attention-value-mask-misbroadcast, where it is active
    misbroadcast = kind != "MultiHeadAttention" and BY_ID["attention-value-mask-misbroadcast"].active
    no_real_key_diverges = BY_ID["attention-no-real-key-reads-padding"].active
    causal = data.draw(st.booleans(), label="causal")
    self_attention = data.draw(st.booleans(), label="self_attention")
    features = data.draw(st.sampled_from([2, 3]), label="features")
    b = data.draw(st.integers(1, 1 if misbroadcast else 4), label="batch_size")
    tv = data.draw(st.sampled_from(TIMESTEP_BUCKETS), label="key_steps")
    tq = tv if self_attention else data.draw(st.integers(1, 4), label="query_steps")
    # where a query without a real key reads padding (a divergence), every query sees one: a
    # causal query i sees keys 0..i, so the real keys come first
    paddings = ("post",) if causal and no_real_key_diverges else MASK_PADDINGS
    padding = data.draw(st.sampled_from(paddings), label="padding")
    min_length = fewest_real_steps("attention-no-real-key-reads-padding")
    value_mask = data.draw(masks(b, tv, padding=padding, min_length=min_length), label="value_mask")
    query = data.draw(hnp.arrays(np.float32, (b, tq, features), elements=floats(2)), label="query")
    value = data.draw(hnp.arrays(np.float32, (b, tv, features), elements=floats(2)), label="value")
    other = data.draw(hnp.arrays(np.float32, (b, tv, features), elements=floats(10)), label="other_padding")
    layer = CACHE.get(("attention", kind, features), lambda: attention_layer(kind, features))
    check_attention_reads_only_real_keys(layer, kind, query, value, value_mask, other, causal, self_attention)


@pytest.mark.parametrize("focus", CATALOG)
@budget()  # test_real_outputs_ignore_padding_content draws ordinary content in every example
@given(data=st.data())
def test_real_outputs_ignore_extreme_padding_content(focus, data):
    """With an explicit mask, NaN, infinities and huge values at padded steps change no output at
    a real position and no final output."""
    api = data.draw(st.sampled_from([a for a in APIS if supported(focus, a)]), label="api")
    spec = data.draw(stacks_without_known_divergences(focus, api, style="explicit"), label="spec")
    batch = data.draw(spec.batches(), label="batch")
    extremes = [v for family in content_families(spec) for v in EXTREME_CONTENT[family]]
    elements = st.one_of(floats(10), *([st.sampled_from(extremes)] if extremes else []))
    content = data.draw(hnp.arrays(np.float32, batch.values.shape, elements=elements), label="padding_content")
    check_extreme_content_ignored(spec, api, batch, content)
