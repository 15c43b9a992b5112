"""Build :class:`~strategies.graphs.GraphSpec` DAGs into Keras models, and read back the mask at
every tensor.

Functional models return every tensor of the graph, so one eager call shows the
value and the attached mask (``_keras_mask``) of each; chains also build as
Sequential models, subclassed models (passing ``mask=`` by hand, or relying on
Keras to pass it) and a Sequential model nested inside a Functional one. All get
the deterministic weights of :func:`set_layer_weights`. Models have a fixed
number of timesteps (``Flatten``/``Reshape`` need it) and are cached per
``(spec, api, timesteps)`` in :data:`kmask.build.CACHE`.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from strategies import LayerSpec
from strategies.graphs import ATTENTIONS, MERGES, OPS, GraphSpec

from .build import CACHE, WEIGHT_SCALE, make_layer
from .keras_compat import GENERATION, keras, layers, tf, to_numpy

LAMBDA_FUNCTIONS = {"double": lambda x: x * 2.0, "negate": lambda x: -x}

OP_FUNCTIONS = {
    "multiply": lambda x: x * 2.0,
    "add_self": lambda x: x + x,
    "negate": lambda x: -x,
    "tanh": keras.ops.tanh if GENERATION == 3 else tf.math.tanh,
    "add": lambda x, y: x + y,
}
"""What an ``Op``/``OpAdd`` node computes (strategies.graphs.OP_FUNCTIONS names the unary ones)."""


@dataclasses.dataclass
class Operation:
    """An ``Op``/``OpAdd`` node: a function applied straight to the tensors, no layer around it.
    It has no weights, and no ``compute_mask``: whatever mask its result carries is Keras's doing."""

    function: str

    def __call__(self, *tensors):
        return OP_FUNCTIONS[self.function](*tensors)


def _keep_mask(inputs, mask=None):
    return mask


def make_graph_layer(spec: LayerSpec):
    """The Keras layer of a graph node (``Lambda`` takes a named function)."""
    if spec.kind == "Lambda":
        mask = _keep_mask if spec.option("mask") == "keep" else None
        return layers.Lambda(LAMBDA_FUNCTIONS[spec.option("function")], mask=mask)
    if spec.kind == "Op":
        return Operation(spec.option("function"))
    if spec.kind == "OpAdd":
        return Operation("add")
    return make_layer(spec)


def call_layer(spec: LayerSpec, layer, inputs: list) -> list:
    """``layer`` applied to ``inputs`` the way users call that kind; its outputs as a list."""
    options = dict(spec.call_options)
    if spec.kind == "MultiHeadAttention":
        outputs = layer(inputs[0], inputs[1], **options)
    elif spec.kind in ATTENTIONS:
        outputs = layer(list(inputs), **options)
    elif spec.kind in MERGES:
        outputs = layer(list(inputs))
    elif spec.kind in OPS:
        outputs = layer(*inputs)
    else:
        outputs = layer(inputs[0], **options)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def input_specs(spec: GraphSpec, timesteps: int):
    """``(shape, dtype)`` of the masked input and of the unmasked input."""
    features = ((timesteps, spec.features), "float32")
    return (((timesteps,), "int32") if spec.style == "embedding" else features), features


def set_layer_weights(layers_in_order, spec) -> None:
    """Every weight of every layer, layer by layer, from ``numpy.random.default_rng(spec.weight_seed)``
    uniform in [-0.6, 0.6]; variances (BatchNormalization) take the absolute value plus 0.1.

    Going layer by layer makes the weights independent of how each API orders ``get_weights()``.
    """
    rng = np.random.default_rng(spec.weight_seed)
    for layer in layers_in_order:
        if isinstance(layer, Operation):
            continue
        values = []
        for weight in layer.weights:
            value = rng.uniform(-WEIGHT_SCALE, WEIGHT_SCALE, size=tuple(weight.shape)).astype(np.float32)
            values.append(np.abs(value) + 0.1 if "moving_variance" in weight.name else value)
        layer.set_weights(values)


def _with_weights(model, spec):
    set_layer_weights(chain_layers(model), spec)
    return model


@dataclasses.dataclass
class GraphModel:
    """A Functional model returning every tensor of a graph (t0, then each node's outputs; t1 is
    the unmasked input itself), its layers by node, and each tensor's symbolic mask.

    The unmasked input is a model input only when a node reads it: Keras 3.10 to 3.13 refuse to
    build a Functional model with an unused input ("`inputs` not connected to `outputs`", added
    in keras-team/keras#20705 and relaxed again in #22153, Keras 3.14)."""

    model: object
    layers: list
    symbolic_has_mask: list[bool]
    reads_raw: bool


def _functional_graph(spec: GraphSpec, timesteps: int) -> GraphModel:
    (main_shape, main_dtype), (raw_shape, raw_dtype) = input_specs(spec, timesteps)
    main = keras.Input(shape=main_shape, dtype=main_dtype)
    raw = keras.Input(shape=raw_shape, dtype=raw_dtype)
    input_layer = make_layer(spec.input_layer)
    tensors = [input_layer(main), raw]
    node_layers = []
    for node in spec.nodes:
        layer = make_graph_layer(node.layer)
        node_layers.append(layer)
        tensors.extend(call_layer(node.layer, layer, [tensors[i] for i in node.inputs]))
    reads_raw = any(1 in node.inputs for node in spec.nodes)
    model = keras.Model([main, raw] if reads_raw else main, [tensors[0]] + tensors[2:])
    set_layer_weights([input_layer] + node_layers, spec)
    has_mask = [attached_mask(t) is not None for t in tensors]
    return GraphModel(model, node_layers, has_mask, reads_raw)


def functional_graph(spec: GraphSpec, timesteps: int) -> GraphModel:
    return CACHE.get((spec, "graph", timesteps), lambda: _functional_graph(spec, timesteps))


def attached_mask(tensor):
    """The mask Keras attached to ``tensor`` (symbolic or eager), or None."""
    return getattr(tensor, "_keras_mask", None)


def as_mask(mask):
    return None if mask is None else to_numpy(mask).astype(bool)


def run_graph(graph: GraphModel, values: np.ndarray, raw: np.ndarray):
    """Eager call: ``(tensors, values, masks)`` for every graph tensor, in graph order."""
    outputs = graph.model([values, raw] if graph.reads_raw else values, training=False)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    tensors = [outputs[0], tf.constant(raw)] + outputs[1:]
    return tensors, [to_numpy(t) for t in tensors], [as_mask(attached_mask(t)) for t in tensors]


# --------------------------------------------------------------------------- chains, five ways


def _chain_layers(spec: GraphSpec):
    return [make_layer(spec.input_layer)] + [make_graph_layer(n.layer) for n in spec.nodes]


def _chain_input(spec: GraphSpec, timesteps: int):
    (shape, dtype), _ = input_specs(spec, timesteps)
    return keras.Input(shape=shape, dtype=dtype)


def _sequential(spec: GraphSpec, timesteps: int):
    return keras.Sequential([_chain_input(spec, timesteps)] + _chain_layers(spec))


def _functional(spec: GraphSpec, timesteps: int):
    inputs = x = _chain_input(spec, timesteps)
    for layer in _chain_layers(spec):
        x = layer(x)
    return keras.Model(inputs, x)


def _nested(spec: GraphSpec, timesteps: int):
    """The input layer in an outer Functional model, every other layer in a nested Sequential."""
    inputs = _chain_input(spec, timesteps)
    first, *rest = _chain_layers(spec)
    x = first(inputs)
    inner = keras.Sequential([keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype)] + rest)
    return keras.Model(inputs, inner(x))


class LayerOutputs:
    """The output of each layer of the last eager call (a plain object: Keras does not track it)."""

    def __init__(self):
        self.outputs: list = []


class ChainModel(keras.Model):
    """A subclassed model calling the chain's layers in order, as users write it.

    ``by_hand=True`` passes each layer that takes ``mask=`` the mask the previous
    layer's ``compute_mask`` returns (none after a layer without mask support), as the
    masking guide tells users to; otherwise the model relies on Keras to carry it.
    ``recorded.outputs`` holds each layer's output of the last call, masks attached.
    """

    def __init__(self, spec: GraphSpec, by_hand: bool, **kwargs):
        super().__init__(**kwargs)
        self.chain = _chain_layers(spec)
        self.by_hand = by_hand
        self.recorded = LayerOutputs()

    def call(self, inputs):
        x, mask = inputs, None
        self.recorded.outputs = []
        for layer in self.chain:
            if self.by_hand:
                takes_mask = mask is not None and "mask" in inspect.signature(layer.call).parameters
                output = layer(x, mask=mask) if takes_mask else layer(x)
                mask = layer.compute_mask(x, mask) if layer.supports_masking else None
                x = output
            else:
                x = layer(x)
            self.recorded.outputs.append(x)
        return x


def _subclassed(by_hand: bool):
    def builder(spec: GraphSpec, timesteps: int):
        model = ChainModel(spec, by_hand)
        (shape, dtype), _ = input_specs(spec, timesteps)
        model(np.ones((1,) + shape, dtype=dtype))  # create the weights
        return model

    return builder


CHAIN_BUILDERS = {
    "sequential": _sequential,
    "functional": _functional,
    "subclassed_by_hand": _subclassed(by_hand=True),
    "subclassed_relying": _subclassed(by_hand=False),
    "nested": _nested,
}
CHAIN_APIS = tuple(CHAIN_BUILDERS)


def chain_model(spec: GraphSpec, api: str, timesteps: int):
    """The cached ``api`` model of the chain ``spec`` with the spec's weights."""
    if not spec.is_chain:
        raise ValueError(f"{spec} is not a chain of one-output layers: it has no {api} form")
    return CACHE.get(
        (spec, api, timesteps), lambda: _with_weights(CHAIN_BUILDERS[api](spec, timesteps), spec)
    )


def chain_layers(model) -> list:
    """The chain's layers in order (input layer first), whichever API built ``model``."""
    if isinstance(model, ChainModel):
        return list(model.chain)
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(chain_layers(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            found.append(layer)
    return found


# --------------------------------------------------------------------------- a subclassed layer


class StackLayer(keras.layers.Layer):
    """A subclassed *layer* whose ``call`` runs a :class:`~strategies.StackSpec`'s input layer and
    layers in order without passing ``mask=``: the situation the claim "inside a subclassed
    layer, masks aren't automatically propagated" is about."""

    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.mask_layer = make_layer(spec.input_layer)
        self.stack = [make_layer(layer_spec) for layer_spec in spec.layers]

    def call(self, inputs, training=None):
        x = self.mask_layer(inputs)
        for layer in self.stack:
            x = layer(x)
        return x


def _stack_layer(spec, timesteps):
    layer = StackLayer(spec)
    shape = (timesteps or 2,) + (() if spec.style == "embedding" else (spec.features,))
    layer(np.ones((1,) + shape, "int32" if spec.style == "embedding" else "float32"))
    set_layer_weights([layer.mask_layer] + list(layer.stack), spec)
    return layer


def stack_layer(spec, timesteps: int | None = None):
    """The cached :class:`StackLayer` of ``spec`` (for ``timesteps`` if its RNNs are unrolled)."""
    timesteps = spec.build_timesteps(timesteps)
    return CACHE.get((spec, "subclassed_layer", timesteps), lambda: _stack_layer(spec, timesteps))
