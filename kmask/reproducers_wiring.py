"""Standalone reproducers of the recurrent-wiring properties (kmask/recurrent_wiring.py): the
model written out in plain Keras, the padded inputs, and each row against itself run alone, or a
stateful RNN's second chunk against both chunks' real steps run as one sequence."""

from __future__ import annotations

import inspect

from . import report
from .cells import MinimalCell
from .compare import tolerance

_SET_WEIGHTS = [
    "    rng = np.random.default_rng({seed})",
    "    model.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype('float32') for w in model.get_weights()])",
    "    return model",
]


def wiring_model_source(wiring) -> str:
    """``make_model()`` building ``wiring`` as kmask.recurrent_wiring does, with its weights."""
    rs, cell = wiring.return_sequences, wiring.cell
    states = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}[cell]
    lines = ["def make_model():"]
    for name in wiring.inputs:
        shape = "(2,)" if name == "vector" else ("(None, 4, 2)" if wiring.kind == "conv_lstm" else "(None, 2)")
        lines.append(f"    {name} = keras.Input({shape}, name={name!r})")
    lines.append("    seq_masked = layers.Masking(0.0)(seq)")
    if wiring.kind == "encoder_decoder":
        lines += [f"    _, *states = layers.{cell}(3, return_state=True)(layers.Masking(0.0)(context))",
                  f"    outputs = layers.{cell}(3, return_sequences={rs})(seq_masked, initial_state=states)"]
    elif wiring.kind == "dense_state":
        lines += [f"    states = [layers.Dense(3)(vector) for _ in range({states})]",
                  f"    outputs = layers.{cell}(3, return_sequences={rs})(seq_masked, initial_state=states)"]
    elif wiring.kind == "stacked_cells":
        lines += [f"    cells = [layers.{cell}Cell(3), layers.GRUCell(3)]",
                  f"    outputs = layers.RNN(layers.StackedRNNCells(cells), return_sequences={rs})(seq_masked)"]
    elif wiring.kind == "conv_lstm":
        lines.append(f"    outputs = layers.ConvLSTM1D(3, 2, padding='same', return_sequences={rs}, return_state=True)"
                     "(seq_masked)")
    elif wiring.kind == "custom_cell":
        lines.append(f"    outputs = layers.RNN(MinimalCell(3), return_sequences={rs}, return_state=True)(seq_masked)")
    else:
        backward = (f"layers.{cell}(3, return_sequences={rs}, return_state=True, go_backwards=True)"
                    if wiring.backward_layer else "None")
        lines.append(f"    outputs = layers.Bidirectional(layers.{cell}(3, return_sequences={rs}, return_state=True),"
                     f" backward_layer={backward})(seq_masked)")
    lines.append(f"    model = keras.Model([{', '.join(wiring.inputs)}], outputs)")
    return "\n".join(lines + [line.format(seed=0) for line in _SET_WEIGHTS])


_WIRING_SIDES = '''
def inputs(row=None):
    """Every input for all rows, or for one row alone without its padding."""
    found = []
    for name in INPUT_NAMES:
        value, mask = DATA[name]
        if row is None:
            found.append(value)
        else:
            found.append(value[row:row + 1] if mask is None else value[row][mask[row]][None])
    return found


def both_sides():
    """Row by row, every output of the padded batch (sequences at the real steps of seq) against
    the row run alone; the first that differ."""
    model = make_model()
    padded = model(inputs(), training=False)
    padded = [to_numpy(o) for o in (padded if isinstance(padded, (list, tuple)) else [padded])]
    seq_mask = DATA["seq"][1]
    for i in range(len(seq_mask)):
        alone = model(inputs(i), training=False)
        alone = [to_numpy(o) for o in (alone if isinstance(alone, (list, tuple)) else [alone])]
        if len(alone) != len(padded):
            return f"{len(padded)} outputs", f"{len(alone)} outputs"
        for k, (p, a) in enumerate(zip(padded, alone)):
            got = p[i][np.flatnonzero(seq_mask[i])] if k == 0 and FIRST_IS_SEQUENCE else p[i]
            if difference(a[0], got)[0]:
                print(f"row {i}, output {k}: padded batch (actual) vs the row alone (expected)")
                return a[0], got
    return a[0], got
'''


def wiring_reproducer(wiring, data) -> report.Reproducer:
    """The script of :func:`kmask.recurrent_wiring.check_rows_alone`."""
    title = f"Recurrent wiring {wiring}: a row of a padded batch gives other outputs than alone"
    expected = ("each row of the padded batch gives, at its real steps, in its final outputs and in every "
                "state, what it gives run alone without padding")
    entries = []
    for name in wiring.inputs:
        value = data[name]
        if hasattr(value, "mask"):
            values = value.values
            if wiring.kind == "conv_lstm":  # each step a 4 x 2 signal
                values = values.reshape(values.shape[:2] + (4, 2))
            entries.append(f"    {name!r}: ({report.literal(values)},\n        {report.literal(value.mask)}),")
        else:
            entries.append(f"    {name!r}: ({report.literal(value)}, None),")
    constants = "\n".join([f"INPUT_NAMES = {list(wiring.inputs)!r}",
                           f"FIRST_IS_SEQUENCE = {wiring.return_sequences}  # the first output has a time axis",
                           "DATA = {  # name: (values, mask of real steps; None for the vector)", *entries, "}"])
    parts = ["layers = keras.layers"] + ([inspect.getsource(MinimalCell).strip()] if wiring.kind == "custom_cell" else [])
    body = "\n\n\n".join(parts + [wiring_model_source(wiring), constants, _WIRING_SIDES.strip()])
    seq = data["seq"]
    script = report.script_source(title, expected, tolerance(3, seq.timesteps), body, "float32 RNN outputs")
    return report.Reproducer(title, expected, script)


_STATEFUL_SIDES = '''
def make_models():
    """A stateful Masking -> CELL(3, return_sequences=True) for len(FIRST) rows, and the same layers
    stateless, with the same weights."""
    models = []
    for stateful in (True, False):
        inputs = keras.Input((None, 2), batch_size=len(FIRST) if stateful else None)
        rnn = getattr(keras.layers, CELL)(3, return_sequences=True, stateful=stateful)
        model = keras.Model(inputs, rnn(keras.layers.Masking(0.0)(inputs)))
        rng = np.random.default_rng(1)
        model.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype("float32") for w in model.get_weights()])
        models.append((model, rnn))
    return models


def both_sides():
    """Row by row, the stateful model's output on SECOND (after FIRST) at its real steps against
    the stateless model on the row's real steps of FIRST then SECOND; the first that differ.
    The masks say which steps are real (Masking(0.0) finds the same)."""
    (stateful, rnn), (stateless, _) = make_models()
    rnn.reset_states()
    stateful(FIRST, training=False)
    continued = to_numpy(stateful(SECOND, training=False))
    for i in range(len(FIRST)):
        whole = np.concatenate([FIRST[i][FIRST_MASK[i]], SECOND[i][SECOND_MASK[i]]])[None]
        expected = to_numpy(stateless(whole, training=False))[0, FIRST_MASK[i].sum():]
        if difference(expected, continued[i][SECOND_MASK[i]])[0]:
            break
    print(f"row {i}: {FIRST_MASK[i].sum()} real steps, then {SECOND_MASK[i].sum()}")
    return expected, continued[i][SECOND_MASK[i]]
'''


def stateful_reproducer(cell: str, first, second) -> report.Reproducer:
    """The script of :func:`kmask.recurrent_wiring.check_stateful_chunks`."""
    title = f"A stateful {cell} does not carry each row's last real state into the next padded chunk"
    expected = ("after a post-padded chunk, a stateful RNN continues each row from its last real step: its "
                "output on the next chunk equals the row's real steps of both chunks run as one sequence")
    constants = "\n".join([
        f"CELL = {cell!r}",
        f"FIRST = {report.literal(first.values)}",
        f"FIRST_MASK = {report.literal(first.mask)}",
        f"SECOND = {report.literal(second.values)}",
        f"SECOND_MASK = {report.literal(second.mask)}",
    ])
    body = "\n\n\n".join([constants, _STATEFUL_SIDES.strip()])
    tol = tolerance(2, first.timesteps + second.timesteps)
    script = report.script_source(title, expected, tol, body, "float32 RNN outputs")
    return report.Reproducer(title, expected, script)
