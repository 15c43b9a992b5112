"""The seed notebook's model and data (``shared/seed``): Masking(0) -> LSTM(3,
return_sequences=True), loss 'mae', two 5x2 sequences with 3 of 10 timesteps padded."""

import numpy as np

from .build import uniform_weights
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
