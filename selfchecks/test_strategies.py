"""The public strategies behave like ``hypothesis.extra.numpy``: a bad argument raises
``InvalidArgument`` when the strategy is built, with a message that says what to pass; a bad
value drawn from a strategy argument raises it when drawn; good arguments still draw."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import strategies as S
from strategies.graphs import GraphSpec, Node, chains, consumer_stacks, graph_inputs, graphs, single_input_layers

BAD_ARGUMENTS = [
    # (what is built, the message it must raise with)
    (lambda: S.padded_batches("bogus"), r"style='bogus' is not one of \('masking', 'embedding', 'explicit'\)"),
    (lambda: S.padded_batches("masking", features=0), r"features must be an integer >= 1, got 0"),
    (lambda: S.padded_batches("masking", features=2.5), r"features must be an integer >= 1, got 2.5"),
    (lambda: S.padded_batches("embedding", vocab_size=1), r"vocab_size must be an integer >= 2"),
    (lambda: S.padded_batches("masking", mask_value=float("nan")), r"mask_value=nan is not a finite float32"),
    (lambda: S.padded_batches("masking", mask_value=1e39), r"mask_value=1e\+39 is not a finite float32"),
    (lambda: S.padded_batches("masking", mask_value="0"), r"mask_value must be a real number, got '0'"),
    (lambda: S.padded_batches("masking", mask_value=1e-40), r"subnormal in float32.*pass 0.0 or a normal float"),
    (lambda: S.padded_batches("masking", batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: S.padded_batches("masking", batch_size=True), r"batch_size must be an integer >= 1, got True"),
    (lambda: S.padded_batches("masking", timesteps=-1), r"timesteps must be an integer >= 1, got -1"),
    (lambda: S.padded_batches("masking", paddings="post"), r"paddings='post' must be a non-empty tuple .*\('post',\)"),
    (lambda: S.padded_batches("masking", paddings=()), r"paddings=\(\) must be a non-empty tuple"),
    (lambda: S.padded_batches("explicit", paddings=("scattered",)), r"switched on by scattered=True"),
    (lambda: S.padded_batches("masking", paddings=("Post",)), r"paddings=\('Post',\) must be a non-empty tuple of"),
    (lambda: S.padded_batches("explicit", scattered="yes"), r"scattered='yes' must be True or False"),
    (lambda: S.padded_batches("masking", min_length=-1), r"min_length must be an integer >= 0, got -1"),
    (lambda: S.padded_batches("masking", timesteps=3, min_length=4), r"min_length=4 exceeds timesteps=3"),
    (lambda: S.masks(2, 3, padding="Post"), r"padding='Post' is not one of \('post', 'pre', 'scattered'\)"),
    (lambda: S.masks(2, 3, padding=None), r"padding=None is not one of"),
    (lambda: S.masks(0, 3), r"batch_size must be an integer >= 1, got 0"),
    (lambda: S.masks(2, 0), r"timesteps must be an integer >= 1, got 0"),
    (lambda: S.masks(2, 3, min_length=1.5), r"min_length must be an integer >= 0, got 1.5"),
    (lambda: S.masks(2, 3, min_length=4), r"min_length=4 exceeds timesteps=3; pass min_length <= timesteps"),
    (lambda: S.near_values(float("inf")), r"mask_value=inf is not a finite float32"),
    (lambda: S.stacks("Conv1D"), r"focus='Conv1D' is not one of .*'LSTM'.*, or None to draw one"),
    (lambda: S.stacks(api="keras"), r"api='keras' is not one of \('sequential', 'functional', 'subclassed'\)"),
    (lambda: S.stacks("MultiHeadAttention", api="sequential"), r"cannot be built with the sequential API"),
    (lambda: S.stacks(style="tokens"), r"style='tokens' is not one of .*, or None to draw one"),
    (lambda: S.stacks(max_context=-1), r"max_context must be an integer >= 0, got -1"),
    (lambda: S.catalog_layers("Embedding"), r"kind='Embedding' is not one of .*'MultiHeadAttention'"),
    (lambda: S.catalog_layers("Dense", api="Functional"), r"api='Functional' is not one of"),
    (lambda: S.catalog_layers("MultiHeadAttention", api="sequential"), r"no sequential form; pass api='functional'"),
    (lambda: S.catalog_layers("Dense", last="no"), r"last='no' must be True or False"),
    (lambda: S.recurrent_layers("Bidirectional"), r"kind='Bidirectional' is not one of \('LSTM', 'GRU', 'SimpleRNN'\)"),
    (lambda: S.recurrent_layers(return_sequences="yes"), r"return_sequences='yes' must be True or False"),
    (lambda: S.recurrent_layers(allow_state=None), r"allow_state=None must be True or False"),
    (lambda: S.recurrent_layers(allow_backwards=1), r"allow_backwards=1 must be True or False"),
    (lambda: S.bidirectional_layers(allow_split=0), r"allow_split=0 must be True or False"),
    (lambda: S.bidirectional_layers(return_sequences=1), r"return_sequences=1 must be True or False"),
    (lambda: S.context_layers("Sequential"), r"api='Sequential' is not one of"),
    (lambda: graphs(()), r"kinds=\(\) must be a non-empty tuple of layer kinds"),
    (lambda: graphs("Dense"), r"kinds='Dense' must be a non-empty tuple of layer kinds"),
    (lambda: graphs(("Embedding",)), r"each of kinds='Embedding' is not one of"),
    (lambda: graphs(max_nodes=0), r"max_nodes must be an integer >= 1, got 0"),
    (lambda: graphs(avoid="Attention"), r"avoid='Attention' must be None or a predicate on a GraphSpec"),
    (lambda: chains(("Add",)), r"each of kinds='Add' is not one of"),
    (lambda: chains(max_nodes=0), r"max_nodes must be an integer >= 1, got 0"),
    (lambda: consumer_stacks(max_chain=-1), r"max_chain must be an integer >= 0, got -1"),
    (lambda: graph_inputs(S.StackSpec("masking", ())), r"must be a GraphSpec, e.g. one drawn from graphs\(\)"),
    (lambda: single_input_layers("Add"), r"kind='Add' is not one of"),
]


@pytest.mark.parametrize("build, message", BAD_ARGUMENTS, ids=range(len(BAD_ARGUMENTS)))
def test_bad_argument_raises_when_built(build, message):
    """Building the strategy, before any draw, raises InvalidArgument saying what to pass."""
    with pytest.raises(InvalidArgument, match=message):
        build()


def first(strategy):
    """The simplest value ``strategy`` draws."""
    return find(strategy, lambda _: True, settings=settings(database=None, max_examples=100))


BAD_DRAWS = [
    (lambda: S.padded_batches("masking", batch_size=st.just(0)), r"batch_size \(drawn from its strategy\) must be"),
    (lambda: S.padded_batches("masking", timesteps=st.just(2.0)), r"timesteps \(drawn from its strategy\) must be"),
    (lambda: S.padded_batches("masking", mask_value=st.just(np.inf)), r"mask_value \(drawn from its strategy\)=inf"),
    (lambda: S.masks(2, st.just(3), min_length=5), r"min_length=5 exceeds the 3 timesteps drawn"),
]


@pytest.mark.parametrize("build, message", BAD_DRAWS, ids=range(len(BAD_DRAWS)))
def test_bad_value_from_a_strategy_argument_raises_when_drawn(build, message):
    """A strategy argument cannot be checked before drawing: its bad values raise when drawn."""
    strategy = build()
    with pytest.raises(InvalidArgument, match=message):
        first(strategy)


def test_padded_batches_take_values_or_strategies():
    """Sizes and the mask value given as values or as strategies end up in the batch."""
    batch = first(S.padded_batches("masking", features=4, mask_value=0.5, batch_size=3, timesteps=5,
                                   paddings=["pre"]))
    assert batch.values.shape == (3, 5, 4) and batch.mask_value == 0.5 and batch.padding == "pre"
    batch = first(S.padded_batches("explicit", batch_size=st.just(2), timesteps=st.sampled_from([4]),
                                   mask_value=st.just(-1.0), scattered=False, min_length=4))
    assert batch.values.shape == (2, 4, 2) and batch.mask_value == -1.0 and batch.mask.all()


def test_masks_take_numpy_integers_and_strategies():
    """``masks`` takes NumPy integers and strategies for its sizes."""
    assert first(S.masks(np.int64(2), 3, padding="scattered", min_length=3)).all()
    assert first(S.masks(st.just(1), st.just(2), padding="pre")).shape == (1, 2)


def test_near_values_of_zero_are_normal():
    """Next to 0 the neighbours are the smallest normal floats, not subnormals."""
    tiny = float(np.finfo(np.float32).tiny)
    assert S.near_values(np.float32(0)) == [0.0, tiny, -tiny]


@given(st.data())
def test_good_layer_and_stack_arguments_draw(data):
    """Valid arguments draw what they ask for."""
    spec = data.draw(S.stacks("LSTM", api="sequential", style="embedding", max_context=0))
    assert spec.style == "embedding" and spec.layers[0].kind == "LSTM" and spec.depth <= 3
    assert data.draw(S.catalog_layers("Dense", api="sequential", last=False)).kind == "Dense"
    rnn = data.draw(S.recurrent_layers("GRU", return_sequences=False, allow_state=False, allow_backwards=False))
    assert (rnn.kind, rnn.option("return_sequences"), rnn.option("return_state"), rnn.option("go_backwards")) == (
        "GRU", False, False, False
    )
    assert data.draw(S.bidirectional_layers(return_sequences=True, allow_split=False)).option("merge_mode") is not None
    assert data.draw(S.context_layers("sequential")).kind != "MultiHeadAttention"


@given(st.data())
def test_good_graph_arguments_draw(data):
    """Valid graph arguments draw what they ask for; a chain whose kinds cannot follow its
    last tensor ends early instead of failing."""
    spec = data.draw(graphs(["Dense"], max_nodes=1))
    assert [node.layer.kind for node in spec.nodes] == ["Dense"]
    dense_free = data.draw(graphs(("Dense", "Add"), max_nodes=3,
                                  avoid=lambda g: any(n.layer.kind == "Dense" for n in g.nodes)))
    assert all(node.layer.kind == "Add" for node in dense_free.nodes)  # avoided nodes are dropped
    chain = data.draw(chains(("GlobalAveragePooling1D",), max_nodes=3))
    assert [node.layer.kind for node in chain.nodes] == ["GlobalAveragePooling1D"]
    assert len(data.draw(consumer_stacks(max_chain=0)).layers) == 1
    graph = GraphSpec("embedding", (Node(S.LayerSpec.make("Dense", units=2), (0,)),))
    batch, unmasked = data.draw(graph_inputs(graph))
    assert unmasked.shape == batch.values.shape + (2,)
