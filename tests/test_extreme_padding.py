"""Extreme padding: rows without any real step and queries without any real key get the empty
mean and the empty attention (see kmask/extreme.py for the rule)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask.build import CACHE
from kmask.divergences import BY_ID
from kmask.draw import stacks_without_known_divergences
from kmask.extreme import (
    ATTENTIONS,
    attention_layer,
    check_attention_reads_only_real_keys,
    check_pooling_gives_masked_mean,
    fewest_real_steps,
)
from strategies import MASK_PADDINGS, TIMESTEP_BUCKETS, masks


def floats(bound):
    return st.floats(-bound, bound, width=32, allow_subnormal=False)


@given(data=st.data())
def test_pooling_gives_masked_mean(data):
    """GlobalAveragePooling1D in a drawn stack gives each row's mean over its real steps, and
    zeros for a row without any."""
    spec = data.draw(stacks_without_known_divergences("GlobalAveragePooling1D", "functional"), label="spec")
    batch = data.draw(spec.batches(min_length=fewest_real_steps("pooling-empty-row-nan")), label="batch")
    check_pooling_gives_masked_mean(spec, batch)


@pytest.mark.parametrize("kind", ATTENTIONS)
@given(data=st.data())
def test_attention_reads_only_real_keys(kind, data):
    """A query's attention output does not depend on what padded keys hold, and a query without
    any real key gets the empty attention (zeros; MultiHeadAttention's output bias)."""
    # a batch of one steers clear of attention-value-mask-misbroadcast, where it is active
    misbroadcast = kind != "MultiHeadAttention" and BY_ID["attention-value-mask-misbroadcast"].active
    features = data.draw(st.sampled_from([2, 3]), label="features")
    b = data.draw(st.integers(1, 1 if misbroadcast else 4), label="batch_size")
    tq = data.draw(st.integers(1, 4), label="query_steps")
    tv = data.draw(st.sampled_from(TIMESTEP_BUCKETS), label="key_steps")
    padding = data.draw(st.sampled_from(MASK_PADDINGS), label="padding")
    min_length = fewest_real_steps("attention-no-real-key-reads-padding")
    value_mask = data.draw(masks(b, tv, padding=padding, min_length=min_length), label="value_mask")
    query = data.draw(hnp.arrays(np.float32, (b, tq, features), elements=floats(2)), label="query")
    value = data.draw(hnp.arrays(np.float32, (b, tv, features), elements=floats(2)), label="value")
    other = data.draw(hnp.arrays(np.float32, (b, tv, features), elements=floats(10)), label="other_padding")
    layer = CACHE.get(("attention", kind, features), lambda: attention_layer(kind, features))
    check_attention_reads_only_real_keys(layer, kind, query, value, value_mask, other)
