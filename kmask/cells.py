"""A user-written recurrent cell, for the recurrent-wiring property and, as its own source, for
that property's standalone scripts (which define ``layers = keras.layers`` first)."""

from __future__ import annotations

from .keras_compat import keras, layers


class MinimalCell(layers.Layer):
    """The user-written cell of the Keras RNN guide: ``h = tanh(x W + h_prev U)``."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = keras.activations.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
        return h, [h]
