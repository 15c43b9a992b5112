"""Recurrent layers hold still at padded steps, however they are wired: initial states from an
encoder or a Dense, stacked and user-written cells, Bidirectional states, stateful chunks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmask import report
from kmask.build import model_for
from kmask.compare import assert_close, tolerance
from kmask.draw import without_known_divergences
from kmask.edge import budget
from kmask.oracle import held_outputs
from kmask.divergences import BY_ID
from kmask.recurrent_wiring import (
    CELLS,
    INITIAL_STATE_WIRINGS,
    WIRINGS,
    check_rows_alone,
    check_stateful_chunks,
    wiring_inputs,
    wirings,
)
from kmask.run import call_eagerly, call_rows_alone
from strategies import (
    APIS,
    RECURRENT,
    STYLES,
    StackSpec,
    bidirectional_layers,
    context_layers,
    mask_values,
    padded_batches,
    recurrent_layers,
)

INITIAL_STATE_DROPS_MASK = BY_ID["rnn-initial-state-drops-input-mask"]
CONV_LSTM_MASK_FAILS = BY_ID["jax-conv-lstm-masking-mask-fails"]

RECURRENT_CASES = [
    pytest.param(kind, api, id=f"{kind}-{api}")
    for kind in RECURRENT + ("Bidirectional",)
    for api in APIS
]


@st.composite
def recurrent_stacks(draw, kind, api):
    """Context layers, then a ``kind`` layer returning sequences as the last layer."""
    several_outputs = api != "sequential"
    if kind == "Bidirectional":
        last = bidirectional_layers(return_sequences=True, allow_split=several_outputs)
    else:
        last = recurrent_layers(kind, return_sequences=True, allow_state=several_outputs)
    context = draw(st.lists(context_layers(api), max_size=1), label="context")
    style = draw(st.sampled_from(STYLES), label="style")
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return StackSpec(style, tuple(context) + (draw(last, label="layer"),), mask_value=mask_value)


def check_padded_steps_hold(spec, api, batch):
    with report.reproduced_by("held_outputs", lambda: report.held_script(spec, api, batch)):
        _check_padded_steps_hold(spec, api, batch)


def _check_padded_steps_hold(spec, api, batch):
    layer = spec.layers[-1]
    outputs = call_eagerly(model_for(spec, api, batch.timesteps), batch)
    tol = tolerance(spec.depth, batch.timesteps)
    where = f"model {spec}, {batch.padding}-padded rows with {batch.lengths.tolist()} real steps"
    if layer.kind == "Bidirectional":
        padded = ~batch.mask
        for k, out in enumerate(outputs):
            assert_close(
                out[padded], np.zeros_like(out[padded]), tol,
                f"Bidirectional output {k} at padded steps must be zeros (documented); {where}",
            )
        return
    sequence, states = outputs[0], outputs[1:]
    emitted_mask = batch.mask[:, ::-1] if layer.option("go_backwards") else batch.mask
    held = held_outputs(sequence, emitted_mask)  # reads the real steps only
    if layer.option("zero_output_for_mask"):
        assert_close(
            sequence[~emitted_mask], np.zeros_like(sequence[~emitted_mask]), tol,
            "with zero_output_for_mask, every padded step must be zeros; " + where,
        )
        sequence = np.where(emitted_mask[..., None], sequence, held)  # the rest checks real steps
    assert_close(
        sequence, held, tol,
        "each padded step must repeat the last real step's output (zeros before the first); " + where,
    )
    if not states:
        return
    assert_close(states[0], held[:, -1], tol, "returned state 0 (h) must be the last real output; " + where)
    alone = call_rows_alone(lambda n: model_for(spec, api, n), batch)
    for i in range(batch.batch_size):
        for k, state in enumerate(states):
            expected = alone[i][k + 1][0] if i in alone else np.zeros_like(state[i])
            assert_close(
                state[i], expected, tol,
                f"returned state {k} of row {i} must stop at its last real step (the row run alone); "
                + where,
            )


@pytest.mark.parametrize("kind, api", RECURRENT_CASES)
@given(data=st.data())
def test_recurrent_outputs_hold_at_padded_steps(kind, api, data):
    """With return_sequences, each padded step repeats the last real output (zeros before the
    first real step; zeros throughout for Bidirectional and with zero_output_for_mask, as
    documented), and return_state states are those of the last real step."""
    spec = data.draw(
        without_known_divergences(recurrent_stacks(kind, api), api), label="spec"
    )
    check_padded_steps_hold(spec, api, data.draw(spec.batches(), label="batch"))


@budget()
@given(data=st.data())
def test_recurrent_wiring_keeps_rows_independent(data):
    """An encoder's states passed as initial_state, states made by a Dense, RNN(StackedRNNCells)
    and a user-written cell, and Bidirectional returning its states (with or without
    backward_layer): each row of a padded batch gives, at its real steps, in its final outputs
    and in every state, what it gives run alone."""
    kinds = WIRINGS
    if INITIAL_STATE_DROPS_MASK.active:  # replayed by its witness
        kinds = tuple(k for k in kinds if k not in INITIAL_STATE_WIRINGS)
    if CONV_LSTM_MASK_FAILS.active:  # replayed by its witness
        kinds = tuple(k for k in kinds if k != "conv_lstm")
    wiring = data.draw(wirings(kinds), label="wiring")
    check_rows_alone(wiring, data.draw(wiring_inputs(wiring), label="inputs"))


@budget()
@given(data=st.data())
def test_stateful_rnn_continues_from_last_real_step(data):
    """A stateful LSTM/GRU/SimpleRNN fed two padded chunks of the same rows gives, at the real
    steps of the second, what the rows' real steps of both chunks run as one sequence give."""
    cell = data.draw(st.sampled_from(CELLS), label="cell")
    first = data.draw(padded_batches("masking", mask_value=0.0, min_length=1), label="first_chunk")
    second = data.draw(padded_batches("masking", mask_value=0.0, min_length=1, batch_size=first.batch_size),
                       label="second_chunk")
    check_stateful_chunks(cell, first, second)
