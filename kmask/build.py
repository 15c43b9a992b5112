"""Turn a :class:`~strategies.StackSpec` into Sequential, Functional or subclassed Keras models.

All three APIs get identical weights: every weight is drawn, in ``get_weights()``
order, from ``numpy.random.default_rng(spec.weight_seed)``, a recipe short enough
to restate in a standalone bug-report script. Built models are cached (:func:`model_for`) because
building costs 10-300 ms (1-2 s for each LSTM or GRU of a Keras 2 Functional or Sequential model)
and the properties reuse each model for many examples.
"""

from __future__ import annotations

import contextlib
import gc
import inspect

import numpy as np

from strategies import LayerSpec, StackSpec

from .keras_compat import GENERATION, clear_session, keras, layers

WEIGHT_SCALE = 0.6
"""Weights are uniform in [-0.6, 0.6]: large enough that padding leaks move outputs,
small enough that tanh/sigmoid units stay out of saturation."""


def make_layer(spec: LayerSpec):
    """The Keras layer a :class:`LayerSpec` describes."""
    options = {
        k: make_layer(v) if isinstance(v, LayerSpec) else v for k, v in spec.constructor_options.items()
    }
    return getattr(layers, spec.kind)(**options)


def apply_layer(spec: LayerSpec, layer, x, mask=None):
    """Call ``layer`` on ``x`` (self-attention for MultiHeadAttention); ``mask`` if given."""
    kwargs = dict(spec.call_options)
    if mask is not None:
        kwargs["mask"] = mask
    if spec.kind == "MultiHeadAttention":
        if mask is not None:
            del kwargs["mask"]
            if GENERATION == 3:
                kwargs.update(query_mask=mask, value_mask=mask)
            else:  # Keras 2 MHA takes a (batch, query, key) attention mask
                kwargs["attention_mask"] = mask[:, :, None] & mask[:, None, :]
        return layer(x, x, **kwargs)
    return layer(x, **kwargs)


def input_shape(spec: StackSpec, timesteps: int | None):
    if spec.style == "embedding":
        return (timesteps,), "int32"
    return (timesteps, spec.features), "float32"


def _functional(spec: StackSpec, timesteps):
    shape, dtype = input_shape(spec, timesteps)
    inputs = keras.Input(shape=shape, dtype=dtype)
    x = inputs
    if spec.input_layer is not None:
        x = make_layer(spec.input_layer)(x)
    for layer_spec in spec.layers:
        x = apply_layer(layer_spec, make_layer(layer_spec), x)
    return keras.Model(inputs, x)


def _sequential(spec: StackSpec, timesteps):
    shape, dtype = input_shape(spec, timesteps)
    stack = [keras.Input(shape=shape, dtype=dtype)]
    if spec.input_layer is not None:
        stack.append(make_layer(spec.input_layer))
    for layer_spec in spec.layers:
        if layer_spec.kind == "MultiHeadAttention" or layer_spec.output_count > 1:
            raise ValueError(f"{layer_spec} has no Sequential form")
        stack.append(make_layer(layer_spec))
    return keras.Sequential(stack)


class StackModel(keras.Model):
    """A subclassed model that calls its layers in order, as users write them.

    With an explicit mask, the model passes ``mask=`` by hand to every layer that
    takes one while the time axis is still aligned with it; otherwise it relies on
    Keras to carry the mask from ``Masking``/``Embedding`` onwards.
    """

    def __init__(self, spec: StackSpec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.mask_layer = make_layer(spec.input_layer) if spec.input_layer is not None else None
        self.stack = [make_layer(layer_spec) for layer_spec in spec.layers]

    def call(self, inputs, mask=None):
        x = self.mask_layer(inputs) if self.mask_layer is not None else inputs
        for layer_spec, layer in zip(self.spec.layers, self.stack):
            takes_mask = layer_spec.kind == "MultiHeadAttention" or _takes_mask(layer)
            x = apply_layer(layer_spec, layer, x, mask=mask if takes_mask else None)
            if not layer_spec.returns_sequence or layer_spec.reverses_time:
                mask = None  # the time axis no longer matches the mask
        return x


def _takes_mask(layer) -> bool:
    return "mask" in inspect.signature(layer.call).parameters


def _subclassed(spec: StackSpec, timesteps):
    model = StackModel(spec)
    shape, dtype = input_shape(spec, timesteps)
    if GENERATION == 3:
        # create the weights by calling each layer on a symbolic input, as a Functional model is
        # built (0.02 s against 0.2 s for an eager call of the model, which runs its RNN loops)
        model.call(keras.Input(shape=shape, dtype=dtype))
        model.built = True
    else:
        # a symbolic LSTM or GRU call on Keras 2 registers its cuDNN and standard implementations
        # with their gradient functions (1-2 s a layer); an eager call on one row of two steps
        # creates the same weights in about 0.15 s
        model(np.ones((1, timesteps or 2) + shape[1:], dtype=dtype))
    return model


BUILDERS = {"sequential": _sequential, "functional": _functional, "subclassed": _subclassed}


def uniform_weights(seed: int, shapes) -> list[np.ndarray]:
    """Weight arrays of ``shapes`` drawn uniformly in [-0.6, 0.6] from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-WEIGHT_SCALE, WEIGHT_SCALE, size=s).astype(np.float32) for s in shapes]


def weights_for(spec: StackSpec, shapes) -> list[np.ndarray]:
    """The deterministic weights of ``spec`` for weight arrays of ``shapes``."""
    return uniform_weights(spec.weight_seed, shapes)


def build(spec: StackSpec, api: str, timesteps: int | None = None):
    """A new ``api`` model for ``spec`` with the spec's deterministic weights."""
    if api not in BUILDERS:
        raise ValueError(f"unknown model API {api!r}; choose one of {tuple(BUILDERS)}")
    model = BUILDERS[api](spec, spec.build_timesteps(timesteps))
    model.set_weights(weights_for(spec, [w.shape for w in model.get_weights()]))
    return model


class ModelCache:
    """Built models (or anything holding one) by key, all released every ``release_every`` builds.

    Releasing calls ``clear_session``: Keras 2 keeps every graph it ever built in
    one global graph, and building slows down as it grows.
    """

    def __init__(self, release_every: int = 16):
        self.release_every = release_every
        self.entries: dict = {}
        self.builds = 0

    def get(self, key, factory):
        if key not in self.entries:
            if self.builds and self.builds % self.release_every == 0:
                self.release()
            self.entries[key] = factory()
            self.builds += 1
        return self.entries[key]

    def forget(self, entry):
        """Drop ``entry`` (a model whose compiled functions an exception left half-traced), so
        the next example builds a fresh one instead of failing for the previous example's reason."""
        self.entries = {k: v for k, v in self.entries.items() if v is not entry}

    def release(self):
        self.entries.clear()
        clear_session()


CACHE = ModelCache()


def freeze_startup_heap():
    """Exempt every object alive now (TensorFlow, Keras, the collected tests) from garbage
    collection: ``clear_session`` and Python's own full collections then scan only what the run
    creates (a full collection took 0.23 s with Keras 3 imported, 0.00001 s after this)."""
    gc.collect()
    gc.freeze()


def model_for(spec: StackSpec, api: str, timesteps: int | None = None):
    """The cached ``api`` model of ``spec`` (for ``timesteps`` if its RNNs are unrolled)."""
    timesteps = spec.build_timesteps(timesteps)
    return CACHE.get((spec, api, timesteps), lambda: build(spec, api, timesteps))


@contextlib.contextmanager
def global_policy(name: str):
    """Keras's global dtype policy set to ``name`` for the block, then restored."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_with_policy(spec: StackSpec, api: str, policy: str, timesteps: int | None = None):
    """A model of ``spec`` built under the dtype policy ``policy``, with the spec's weights
    (mixed policies keep float32 variables, so the weights are the same numbers)."""
    with global_policy(policy):
        return build(spec, api, timesteps)


def policy_model_for(spec: StackSpec, api: str, policy: str, timesteps: int):
    """The cached model of ``spec`` built under ``policy``."""
    timesteps = spec.build_timesteps(timesteps)
    return CACHE.get(
        ("policy", spec, api, policy, timesteps),
        lambda: build_with_policy(spec, api, policy, timesteps),
    )
