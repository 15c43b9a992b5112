"""The seed notebook's model and data (``shared/seed``): Masking(0) -> LSTM(3,
return_sequences=True), loss 'mae', two 5x2 sequences with 3 of 10 timesteps padded."""

import numpy as np

from . import report
from .build import WEIGHT_SCALE, uniform_weights
from .compare import loss_tolerance
from .keras_compat import keras, layers

X = np.array(
    [
        [[0, 0], [0, 0], [1, 0], [0, 1], [0, 1]],
        [[0, 0], [0, 1], [1, 0], [0, 1], [0, 1]],
    ],
    dtype=np.float32,
)
Y_TRUE = np.ones((2, 5, 3), dtype=np.float32)
REAL = np.any(X != 0, axis=-1)  # 7 real timesteps of 10


def seed_notebook_model():
    """The notebook's model, with deterministic weights instead of a random initialisation."""
    inputs = keras.Input(shape=(5, 2))
    outputs = layers.LSTM(3, return_sequences=True)(layers.Masking(mask_value=0)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(loss="mae", optimizer="adam")
    model.set_weights(uniform_weights(0, [w.shape for w in model.get_weights()]))
    return model


LOSS_TOLERANCE = loss_tolerance(depth=2, timesteps=5)


def seed_notebook_script() -> report.Reproducer:
    """The seed notebook's question as a standalone script: evaluate() against the masked mae."""
    title = "evaluate() of Masking -> LSTM does not report the masked 'mae' (the kmask seed notebook)"
    expected = "model.evaluate() reports the mean absolute error over the real timesteps only"
    body = "\n\n\n".join([
        "\n".join([
            "def make_model():",
            "    inputs = keras.Input(shape=(5, 2))",
            "    outputs = keras.layers.LSTM(3, return_sequences=True)(keras.layers.Masking(mask_value=0)(inputs))",
            "    model = keras.Model(inputs, outputs)",
            '    model.compile(loss="mae", optimizer="adam")',
            "    rng = np.random.default_rng(0)",
            f"    model.set_weights([rng.uniform(-{WEIGHT_SCALE}, {WEIGHT_SCALE}, size=w.shape).astype('float32')",
            "                       for w in model.get_weights()])",
            "    return model",
        ]),
        f"X = {report.literal(X)}\nY_TRUE = {report.literal(Y_TRUE)}",
        "\n".join([
            "def both_sides():",
            '    """The mae over real timesteps (NumPy, from predict()) against what evaluate() reports."""',
            "    model = make_model()",
            "    per_step = np.abs(Y_TRUE - model.predict(X, verbose=0)).mean(axis=-1)",
            "    real = np.any(X != 0, axis=-1)  # Masking(0): a step is padding when every feature is 0",
            "    return float(per_step[real].mean()), float(model.evaluate(X, Y_TRUE, verbose=0))",
        ]),
    ])
    source = report.script_source(title, expected, LOSS_TOLERANCE, body,
                                  "float32 tolerance of a loss (kmask/compare.py: loss_tolerance)")
    return report.Reproducer(title, expected, source)
