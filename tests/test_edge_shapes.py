"""Edge batches and shapes: more rows, fewer and more steps, more features, no rows at all, and
predict() over several batches; each property runs a third of the profile's examples
(kmask/edge.py)."""

from hypothesis import given
from hypothesis import strategies as st

from kmask.draw import stacks_without_known_divergences, without_known_divergences
from kmask.edge import budget, check_empty_batch, check_more_padding_ignored, check_predict_in_batches, edge_shapes
from kmask.forward_checks import check_padded_equals_alone
from strategies import APIS


@budget()
@given(data=st.data())
def test_edge_shapes_keep_padding_invisible(data):
    """On batches of more than 4 rows, sequences of 1, 2, 12 or 16 steps and more than 2 features,
    each row gives what it gives alone, and more padding changes no real or final output."""
    api = data.draw(st.sampled_from(APIS), label="api")
    spec, batch = data.draw(edge_shapes(data.draw(stacks_without_known_divergences(None, api), label="spec")))
    check_padded_equals_alone(spec, api, batch)
    check_more_padding_ignored(spec, api, batch)


@budget()
@given(data=st.data())
def test_empty_batch_gives_empty_outputs(data):
    """A batch of zero rows runs and gives, for every output, zero rows shaped like one row's."""
    api = data.draw(st.sampled_from(APIS), label="api")
    specs = without_known_divergences(stacks_without_known_divergences(None, api), "empty batch")
    spec = data.draw(specs, label="spec")
    check_empty_batch(spec, api, data.draw(spec.batches(batch_size=1), label="batch"))


@budget()
@given(data=st.data())
def test_predict_over_padded_batches_equals_eager(data):
    """predict() over several batches of different padding gives each row what one eager call on
    all rows gives."""
    api = data.draw(st.sampled_from(APIS), label="api")
    style = data.draw(st.sampled_from(["masking", "embedding"]), label="style")  # predict takes no mask=
    spec = data.draw(stacks_without_known_divergences(None, api, how="predict", style=style), label="spec")
    batch = data.draw(spec.batches(batch_size=st.integers(4, 8)), label="batch")
    check_predict_in_batches(spec, api, batch, data.draw(st.integers(1, 3), label="predict_batch_size"))
