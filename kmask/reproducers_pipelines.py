"""Standalone reproducers of the input-pipeline properties (kmask/pipelines.py,
kmask/text_tokens.py): the model, the rows and the ``tf.data`` pipeline written out in plain
TensorFlow/Keras, the NumPy reference spelled out, and the first comparison that differs."""

from __future__ import annotations

import dataclasses

from . import report
from .compare import loss_tolerance, tolerance
from .forward_checks import EXTRA_PADDING

_GENERATOR_DATASET = '''
def dataset(timesteps=None, with_targets=True):
    """The rows (and targets) from a generator, padded by padded_batch to each batch's longest
    row (timesteps None) or to timesteps."""
    def rows():
        for i, n in enumerate(LENGTHS):
            yield (X[i, :n], TARGETS[i, :n]) if with_targets else X[i, :n]

    x_spec = tf.TensorSpec((None,) + X.shape[2:], X.dtype)
    y_spec = tf.TensorSpec((None, TARGETS.shape[-1]), tf.float32)
    data = tf.data.Dataset.from_generator(rows, output_signature=(x_spec, y_spec) if with_targets else x_spec)
    pad = tf.constant(PAD, X.dtype)
    shapes = None  # each batch padded to its longest row
    if timesteps is not None:
        x_shape = (timesteps,) + X.shape[2:]
        shapes = (x_shape, (timesteps, TARGETS.shape[-1])) if with_targets else x_shape
    return data.padded_batch(BATCH_SIZE, padded_shapes=shapes,
                             padding_values=(pad, tf.constant(0.0)) if with_targets else pad)
'''

_RAGGED_DATASET = '''
def dataset(timesteps=None, with_targets=True):
    """The rows (and targets) as a RaggedTensor, sliced, ragged_batch-ed and padded by to_tensor()
    to each batch's longest row (timesteps None) or to timesteps."""
    ragged_x = tf.ragged.constant([X[i, :n].tolist() for i, n in enumerate(LENGTHS)], dtype=X.dtype, ragged_rank=1)
    ragged_y = tf.ragged.constant([TARGETS[i, :n].tolist() for i, n in enumerate(LENGTHS)], dtype=tf.float32,
                                  ragged_rank=1)
    x_to = None if timesteps is None else [None, timesteps] + list(X.shape[2:])
    y_to = None if timesteps is None else [None, timesteps, TARGETS.shape[-1]]

    def pad_rows(x):
        return x.to_tensor(tf.constant(PAD, X.dtype), shape=x_to)

    def pad_rows_and_targets(x, y):
        return pad_rows(x), y.to_tensor(0.0, shape=y_to)

    data = tf.data.Dataset.from_tensor_slices((ragged_x, ragged_y) if with_targets else ragged_x)
    return data.ragged_batch(BATCH_SIZE).map(pad_rows_and_targets if with_targets else pad_rows)
'''

_PIPELINE_SIDES = '''
def both_sides():
    """predict through the pipeline against one eager call at each row's real steps; then the
    loss evaluate/fit report against sum(mask*loss)/sum(mask) per batch, batch-size-weighted."""
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mean_squared_error")
    eager = to_numpy(model(X, training=False))
    predicted = to_numpy(model.predict(dataset(LONGER, with_targets=False), verbose=0))
    for i, n in enumerate(LENGTHS):
        if difference(eager[i, :n], predicted[i, :n])[0]:
            print(f"row {i}: predict through the pipeline (padded to {LONGER}) vs one eager call, real steps")
            return eager[i, :n], predicted[i, :n]
    per_step = ((eager.astype(np.float64) - TARGETS) ** 2).mean(axis=-1)
    real = np.arange(X.shape[1])[None, :] < np.asarray(LENGTHS)[:, None]
    losses, sizes = [], []
    for start in range(0, len(X), BATCH_SIZE):
        rows = slice(start, start + BATCH_SIZE)
        losses.append((per_step[rows] * real[rows]).sum() / real[rows].sum())
        sizes.append(len(real[rows]))
    expected = float(np.average(losses, weights=sizes))
    runs = {
        "evaluate, each batch padded to its longest row": lambda: model.evaluate(dataset(), verbose=0),
        "fit (learning rate 0), each batch padded to its longest row":
            lambda: model.fit(dataset(), epochs=1, shuffle=False, verbose=0).history["loss"][-1],
        f"evaluate, every batch padded to {LONGER} steps": lambda: model.evaluate(dataset(LONGER), verbose=0),
    }
    for what, run in runs.items():
        actual = float(run())
        if difference(expected, actual)[0]:
            break
    print(f"loss: {what}")
    return expected, actual
'''


def pipeline_reproducer(case) -> report.Reproducer:
    """The script of :func:`kmask.pipelines.check_pipeline_predict` and ``check_pipeline_loss``."""
    spec = dataclasses.replace(case.spec, weight_seed=case.seed)
    source = "a generator and padded_batch" if case.source == "generator" else "a RaggedTensor and to_tensor()"
    title = f"Padding through a tf.data pipeline ({source}) changes what a masked model gives: {spec}"
    expected = ("predict through the pipeline gives each row's real outputs as one eager call does, and "
                "evaluate/fit report the mean squared error over the real steps of each batch, "
                "batch-size-weighted, however far the pipeline pads")
    constants = "\n".join([
        f"X = {report.literal(case.batch.values)}  # every row, post-padded to the longest",
        f"LENGTHS = {[int(n) for n in case.batch.lengths]}",
        f"TARGETS = {report.literal(case.targets)}",
        f"PAD = {case.batch.padding_fill!r}",
        f"BATCH_SIZE = {case.batch_size}",
        f"LONGER = {case.batch.timesteps + EXTRA_PADDING}",
    ])
    body = "\n\n\n".join([
        "layers = keras.layers",
        report.model_source(spec, "functional"),
        constants,
        (_GENERATOR_DATASET if case.source == "generator" else _RAGGED_DATASET).strip(),
        _PIPELINE_SIDES.strip(),
    ])
    tol = loss_tolerance(case.spec.depth, case.batch.timesteps + EXTRA_PADDING)
    script = report.script_source(title, expected, tol, body, "float32 outputs and losses of a model this deep")
    return report.Reproducer(title, expected, script)


_TEXT_SIDES = '''
def make_tokenizer():
    if KIND == "TextVectorization":
        return keras.layers.TextVectorization(vocabulary=WORDS, output_sequence_length=TIMESTEPS,
                                              standardize=None, split="whitespace")
    if KIND == "StringLookup":
        return keras.layers.StringLookup(vocabulary=WORDS, mask_token="")
    return keras.layers.IntegerLookup(vocabulary=NUMBERS, mask_token=0)


def both_sides():
    """The tokens against the NumPy lookup (padding 0, unknown word 1, word k -> k + 2); then each
    sentence's output in the padded batch against the sentence alone."""
    data = tf.data.Dataset.from_tensor_slices(RAW).batch(BATCH_SIZE).map(make_tokenizer())
    tokens = np.concatenate([np.asarray(t) for t in data])
    if difference(EXPECTED_TOKENS, tokens)[0]:
        print(f"{KIND} tokens vs the NumPy lookup")
        return EXPECTED_TOKENS, tokens
    model = keras.Sequential([keras.Input((None,), dtype="int64"),
                              keras.layers.Embedding(len(WORDS) + 2, 2, mask_zero=True), keras.layers.LSTM(3)])
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype("float32") for w in model.get_weights()])
    predicted = to_numpy(model.predict(data, verbose=0))
    for i, n in enumerate(LENGTHS):
        alone = to_numpy(model(tokens[i:i + 1, :n], training=False))[0]
        if difference(alone, predicted[i])[0]:
            break
    print(f"sentence {i} in the padded batch vs alone")
    return alone, predicted[i]
'''


def text_reproducer(kind: str, sentences, batch_size: int) -> report.Reproducer:
    """The script of :func:`kmask.text_tokens.check_tokens_feed_the_mask`."""
    from .text_tokens import NUMBERS, TIMESTEPS, WORDS, raw_inputs

    title = f"{kind} tokens feeding Embedding(mask_zero=True) mask something other than padding"
    expected = ("the tokenizer gives padding token 0 and nothing else 0 (an unknown word is 1), and "
                "Embedding(mask_zero=True) -> LSTM gives each sentence of the padded batch what it gives alone")
    raw = raw_inputs(kind, sentences).numpy()
    if kind == "IntegerLookup":
        raw_source = report.literal(raw)
    else:
        raw_source = repr([r.decode() if isinstance(r, bytes) else [w.decode() for w in r] for r in raw.tolist()])
    constants = "\n".join([
        f"KIND = {kind!r}",
        f"WORDS = {list(WORDS)!r}",
        f"NUMBERS = {list(NUMBERS)!r}",
        f"TIMESTEPS = {TIMESTEPS}",
        f"RAW = {raw_source}",
        f"BATCH_SIZE = {batch_size}",
        f"LENGTHS = {[len(s) for s in sentences.words]}",
        f"EXPECTED_TOKENS = {report.literal(sentences.expected_tokens())}",
    ])
    body = "\n\n\n".join([constants, _TEXT_SIDES.strip()])
    script = report.script_source(title, expected, tolerance(2, TIMESTEPS), body, "float32 LSTM outputs")
    return report.Reproducer(title, expected, script)
