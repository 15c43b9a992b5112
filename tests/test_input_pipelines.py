"""The input pipelines people use: tf.data padded_batch over a generator or a RaggedTensor into
fit/evaluate/predict, and Keras's text layers producing the tokens for Embedding(mask_zero=True)
(kmask/pipelines.py, kmask/text_tokens.py); the pipeline property runs one in six of the
profile's examples (each compiles a model), the text one one in three."""

from hypothesis import given
from hypothesis import strategies as st

from kmask.divergences import BY_ID
from kmask.draw import targets
from kmask.edge import budget
from kmask.pipelines import (
    PIPELINE_SHARE,
    SOURCES,
    PipelineCase,
    check_pipeline_loss,
    check_pipeline_predict,
    pipeline_specs,
)
from kmask.text_tokens import TOKENIZERS, check_tokens_feed_the_mask, sentences

BATCHES_UNWEIGHTED = BY_ID["loss-batches-averaged-unweighted"]


@budget(PIPELINE_SHARE)
@given(data=st.data())
def test_padded_batch_pipeline_ignores_how_far_it_pads(data):
    """Through tf.data (a generator and padded_batch, or a RaggedTensor and to_tensor), padded to
    each batch's longest row or to a fixed longer length, predict gives each row's real outputs as
    one eager call does, and evaluate and fit report the masked loss over the pipeline's batches."""
    spec = data.draw(pipeline_specs(), label="spec")
    batch = data.draw(spec.batches(batch_size=st.integers(2, 6), paddings=("post",), scattered=False,
                                   min_length=1), label="rows")
    goal = data.draw(targets("real", batch.mask), label="targets")
    rows = batch.batch_size
    # where batch losses are averaged unweighted: one batch, from a source of known size (over a
    # generator's dataset the step that finds it exhausted adds a loss of 0 to the average)
    sizes = st.just(rows) if BATCHES_UNWEIGHTED.active else st.integers(1, rows)
    sources = ("ragged",) if BATCHES_UNWEIGHTED.active else SOURCES
    case = PipelineCase(spec, batch, goal, data.draw(sizes, label="pipeline_batch_size"),
                        data.draw(st.sampled_from(sources), label="source"),
                        data.draw(st.integers(0, 2**16), label="weight_seed"))
    check_pipeline_predict(case)
    check_pipeline_loss(case)


@budget()
@given(data=st.data())
def test_text_tokens_mask_only_padding(data):
    """TextVectorization, StringLookup and IntegerLookup in a tf.data pipeline give token 0 to
    padding only (an unknown word is token 1, a real step), and Embedding(mask_zero=True) -> LSTM
    gives each sentence of the padded batch what it gives the sentence alone."""
    kind = data.draw(st.sampled_from(TOKENIZERS), label="tokenizer")
    check_tokens_feed_the_mask(kind, data.draw(sentences(), label="sentences"),
                               data.draw(st.integers(1, 3), label="pipeline_batch_size"))
