"""How recurrent layers are wired in real models, beyond one RNN on one input: an encoder's
states handed to a decoder (``initial_state=``), states made by a Dense from a vector, an
``RNN`` around ``StackedRNNCells`` or a user-written cell, Bidirectional returning its states
(with or without a ``backward_layer=``), ``ConvLSTM1D`` on steps that are 1D signals, and a
``stateful=True`` RNN fed a long sequence in consecutive padded chunks.

The relations checked: each row of a padded batch gives what it gives alone, at its real steps,
in its final outputs and in every state; and a stateful RNN's second chunk continues from each
row's last *real* step, as the real steps of both chunks run as one sequence would.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from strategies import PaddedBatch, padded_batches

from . import report
from .build import CACHE, uniform_weights
from .cells import MinimalCell
from .compare import assert_close, assert_same_length, tolerance
from .keras_compat import keras, layers, to_numpy
from .reproducers_wiring import stateful_reproducer, wiring_reproducer
from .run import as_list

WIRINGS = ("encoder_decoder", "dense_state", "stacked_cells", "custom_cell", "bidirectional_states", "conv_lstm")
CELLS = ("LSTM", "GRU", "SimpleRNN")
UNITS = 3
FEATURES = 2
CONV_ROWS = 4
"""ConvLSTM1D reads each step as CONV_ROWS x FEATURES (the drawn steps of CONV_ROWS * FEATURES
features, reshaped)."""
STATE_COUNT = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}
WIRING_VS_ALONE = "padded batch vs the row alone"
STATEFUL_VS_WHOLE = "stateful second chunk vs both chunks' real steps as one sequence"
"""What the two assertions say."""


@dataclasses.dataclass(frozen=True)
class Wiring:
    """One way of wiring recurrent layers: ``kind`` from :data:`WIRINGS`, the recurrent ``cell``
    kind, and whether the last recurrent layer returns sequences."""

    kind: str
    cell: str
    return_sequences: bool
    backward_layer: bool = False
    """Bidirectional only: whether ``backward_layer=`` is given."""

    def __str__(self) -> str:
        extra = ", backward_layer" if self.backward_layer else ""
        cell = "ConvLSTM1D" if self.kind == "conv_lstm" else self.cell
        return f"{self.kind}({cell}, return_sequences={self.return_sequences}{extra})"

    @property
    def inputs(self) -> tuple[str, ...]:
        """``seq``: the masked sequence the outputs align with; ``context``: the encoder's masked
        sequence; ``vector``: the Dense's input."""
        return {"encoder_decoder": ("context", "seq"), "dense_state": ("seq", "vector")}.get(self.kind, ("seq",))


INITIAL_STATE_WIRINGS = ("encoder_decoder", "dense_state")


def wirings(kinds=WIRINGS) -> st.SearchStrategy[Wiring]:
    """Wirings of ``kinds`` (a tuple of :data:`WIRINGS`), every cell (``conv_lstm`` always has a
    ConvLSTM1D), with and without sequences; ``backward_layer`` for Bidirectional only."""
    return st.builds(
        Wiring, st.sampled_from(kinds), st.sampled_from(CELLS), st.booleans(), st.booleans(),
    ).map(lambda w: w if w.kind == "bidirectional_states" else dataclasses.replace(w, backward_layer=False))


def _rnn(cell: str, **options):
    return getattr(layers, cell)(UNITS, **options)


def _build(wiring: Wiring):
    rs = wiring.return_sequences
    step = (CONV_ROWS, FEATURES) if wiring.kind == "conv_lstm" else (FEATURES,)
    inputs = {name: keras.Input((FEATURES,) if name == "vector" else (None,) + step, name=name)
              for name in wiring.inputs}
    seq = layers.Masking(0.0)(inputs["seq"])
    if wiring.kind == "encoder_decoder":
        _, *states = _rnn(wiring.cell, return_state=True)(layers.Masking(0.0)(inputs["context"]))
        outputs = _rnn(wiring.cell, return_sequences=rs)(seq, initial_state=states)
    elif wiring.kind == "dense_state":
        states = [layers.Dense(UNITS)(inputs["vector"]) for _ in range(STATE_COUNT[wiring.cell])]
        outputs = _rnn(wiring.cell, return_sequences=rs)(seq, initial_state=states)
    elif wiring.kind == "stacked_cells":
        cells = [getattr(layers, f"{wiring.cell}Cell")(UNITS), layers.GRUCell(UNITS)]
        outputs = layers.RNN(layers.StackedRNNCells(cells), return_sequences=rs)(seq)
    elif wiring.kind == "conv_lstm":
        outputs = layers.ConvLSTM1D(UNITS, 2, padding="same", return_sequences=rs, return_state=True)(seq)
    elif wiring.kind == "custom_cell":
        outputs = layers.RNN(MinimalCell(UNITS), return_sequences=rs, return_state=True)(seq)
    else:
        backward = _rnn(wiring.cell, return_sequences=rs, return_state=True, go_backwards=True) \
            if wiring.backward_layer else None
        outputs = layers.Bidirectional(_rnn(wiring.cell, return_sequences=rs, return_state=True),
                                       backward_layer=backward)(seq)
    model = keras.Model([inputs[name] for name in wiring.inputs], outputs)
    model.set_weights(uniform_weights(0, [w.shape for w in model.get_weights()]))
    return model


def wiring_model(wiring: Wiring):
    """The Functional model of ``wiring`` with fixed weights (cached)."""
    return CACHE.get(("recurrent wiring", wiring), lambda: _build(wiring))


@st.composite
def wiring_inputs(draw, wiring: Wiring) -> dict[str, PaddedBatch | np.ndarray]:
    """A post- or pre-padded batch (rows of at least one real step) per sequence input of
    ``wiring``, all with the same rows, and vectors for the Dense."""
    width = CONV_ROWS * FEATURES if wiring.kind == "conv_lstm" else FEATURES
    first = draw(padded_batches("masking", features=width, mask_value=0.0, min_length=1), label="seq")
    found = {"seq": first}
    for name in wiring.inputs:
        if name == "context":
            found[name] = draw(padded_batches("masking", mask_value=0.0, min_length=1,
                                              batch_size=first.batch_size), label=name)
        elif name == "vector":
            found[name] = np.asarray(draw(st.lists(st.lists(st.floats(-1, 1, width=32, allow_subnormal=False),
                                                            min_size=FEATURES, max_size=FEATURES),
                                                   min_size=first.batch_size, max_size=first.batch_size),
                                          label=name), np.float32)
    return found


def _row_inputs(wiring: Wiring, data: dict, rows) -> list:
    """The model's inputs for ``rows`` (all rows, or one row alone without its padding)."""
    out = []
    for name in wiring.inputs:
        value = data[name]
        if isinstance(value, PaddedBatch):
            values = value.values if rows is None else value.row(rows)
            out.append(values.reshape(values.shape[:2] + (CONV_ROWS, FEATURES)) if wiring.kind == "conv_lstm"
                       else values)
        else:
            out.append(value if rows is None else value[rows:rows + 1])
    return out


def check_rows_alone(wiring: Wiring, data: dict) -> None:
    """Every output of the padded batch, row by row, equals that row run alone: sequences at the
    real steps of ``seq``, final outputs and states in full (failing, it writes a script)."""
    with report.reproduced_by("recurrent_wiring", lambda: wiring_reproducer(wiring, data)):
        _check_rows_alone(wiring, data)


def _check_rows_alone(wiring: Wiring, data: dict) -> None:
    model = wiring_model(wiring)
    seq = data["seq"]
    padded = as_list(model(_row_inputs(wiring, data, None), training=False))
    tol = tolerance(3, seq.timesteps)
    for i in range(seq.batch_size):
        alone = as_list(model(_row_inputs(wiring, data, i), training=False))
        where = (f"{wiring}: {WIRING_VS_ALONE}, row {i} ({int(seq.lengths[i])} real of {seq.timesteps} "
                 f"steps, {seq.padding}-padded)")
        assert_same_length(padded, alone, f"{where}: outputs")
        for k, (p, a) in enumerate(zip(padded, alone)):
            sequence = k == 0 and wiring.return_sequences  # states and final outputs have no time axis
            got = p[i][np.flatnonzero(seq.mask[i])] if sequence else p[i]
            assert_close(got, a[0], tol, f"{where}, output {k}{' (real steps)' if sequence else ''}")


# --------------------------------------------------------------------------- stateful


def _stateful_pair(cell: str, batch_size: int):
    """A stateful ``Masking -> cell(return_sequences=True)`` for ``batch_size`` rows, and the same
    layers stateless, with the same weights."""
    def build(stateful: bool):
        inputs = keras.Input((None, FEATURES), batch_size=batch_size if stateful else None)
        rnn = _rnn(cell, return_sequences=True, stateful=stateful)
        model = keras.Model(inputs, rnn(layers.Masking(0.0)(inputs)))
        model.set_weights(uniform_weights(1, [w.shape for w in model.get_weights()]))
        return model, rnn

    return CACHE.get(("stateful", cell, batch_size), lambda: (build(True), build(False)[0]))


def check_stateful_chunks(cell: str, first: PaddedBatch, second: PaddedBatch) -> None:
    """After a reset, a stateful RNN fed ``first`` then ``second`` (padded chunks of the same rows)
    gives at the real steps of ``second`` what the stateless RNN gives there on each
    row's real steps of both chunks run as one sequence (failing, it writes a script)."""
    with report.reproduced_by("stateful", lambda: stateful_reproducer(cell, first, second)):
        _check_stateful_chunks(cell, first, second)


def _check_stateful_chunks(cell: str, first: PaddedBatch, second: PaddedBatch) -> None:
    (stateful, rnn), stateless = _stateful_pair(cell, first.batch_size)
    rnn.reset_states()
    stateful(first.values, training=False)
    continued = to_numpy(stateful(second.values, training=False))
    rnn.reset_states()
    tol = tolerance(2, first.timesteps + second.timesteps)
    for i in range(first.batch_size):
        n1, n2 = int(first.lengths[i]), int(second.lengths[i])
        whole = np.concatenate([first.row(i)[0], second.row(i)[0]])[None]
        expected = to_numpy(stateless(whole, training=False))[0, n1:]
        assert_close(
            continued[i][second.mask[i]], expected, tol,
            f"{cell}(stateful=True): {STATEFUL_VS_WHOLE}, row {i} ({n1} real of {first.timesteps} steps, "
            f"{first.padding}-padded, then {n2} of {second.timesteps}, {second.padding}-padded)",
        )
