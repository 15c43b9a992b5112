"""Random graphs of layers for the mask-propagation properties, as plain, printable data.

A :class:`GraphSpec` is a DAG: two model inputs (the masked sequence behind
``Masking``/``Embedding``, and an unmasked float sequence of the same shape) and
a tuple of :class:`Node`, each a :class:`~strategies.LayerSpec` applied to earlier
tensors. Every output of every node is appended to one flat tensor list, so a
node names its inputs by position in that list: 0 is the masked input, 1 the
unmasked one. Nothing here imports Keras; ``kmask.graph_build`` builds the models.

:data:`PROPAGATION_CATALOG` is larger than :data:`strategies.CATALOG` (which the
forward properties run over): it holds every layer kind whose mask rule
``kmask.mask_rules`` records.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .padded import PaddedBatch, check_choice, check_count, mask_values, padded_batches
from .stacks import LayerSpec, StackSpec, bidirectional_layers, recurrent_layers

FEATURES = 2
"""Width of both model inputs and of every per-step layer's output, so merges line up."""

MERGES = ("Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum")
ATTENTIONS = ("MultiHeadAttention", "Attention", "AdditiveAttention")
PER_STEP_KINDS = (
    "Dense", "Dropout", "Activation", "LayerNormalization", "BatchNormalization",
    "TimeDistributed", "Conv1D", "Lambda", "SpatialDropout1D", "GaussianNoise",
    "UnitNormalization", "Softmax",
)
REDUCING = ("GlobalAveragePooling1D", "GlobalMaxPooling1D", "Flatten", "Reshape")
RESHAPING = (
    "MaxPooling1D", "AveragePooling1D", "Cropping1D", "ZeroPadding1D", "UpSampling1D", "Permute",
    "RepeatVector",
)
"""Kinds whose output is a sequence whose steps are not the input's (pooled, cropped, padded,
repeated, or features and time swapped): nothing merges with it."""
RECURRENT_KINDS = ("LSTM", "GRU", "SimpleRNN", "Bidirectional")
OPS = ("Op", "OpAdd")
"""Operations that are not layers, applied to symbolic tensors in a Functional graph: ``Op`` one of
:data:`OP_FUNCTIONS` on one tensor, ``OpAdd`` the Python ``x + y`` of two."""
PROPAGATION_CATALOG = (
    ("Masking",) + RECURRENT_KINDS + PER_STEP_KINDS + REDUCING + RESHAPING + MERGES + ATTENTIONS + OPS
)
"""Every layer kind a graph node can be (``Embedding`` is the input layer of the embedding style)."""

VECTOR_KINDS = (
    "Dense", "Dropout", "Activation", "LayerNormalization", "BatchNormalization", "Lambda",
    "GaussianNoise", "UnitNormalization", "Softmax", "RepeatVector", "Op",
)
"""Kinds that may follow a tensor without a time axis."""

VECTOR_ONLY_KINDS = ("RepeatVector",)
"""Kinds that take only a tensor without a time axis."""

CHAIN_KINDS = (
    PER_STEP_KINDS + ("Masking", "LSTM", "GRU", "SimpleRNN", "Bidirectional") + REDUCING + RESHAPING
)
"""Kinds a Sequential chain can hold (one input, one output)."""

UNALIGNED = 0
"""The ``steps`` of a :class:`Tensor` whose time axis is not a multiple of the input's."""

LAMBDA_FUNCTIONS = ("double", "negate")
"""Lambda layers take one of these named functions (``kmask.graph_build`` defines them), with
``mask="keep"`` (a mask function returning the input mask) or no mask function."""

OP_FUNCTIONS = ("multiply", "add_self", "negate", "tanh")
"""What an ``Op`` node computes: ``x * 2.0``, ``x + x``, ``-x``, or ``tanh`` (``keras.ops.tanh`` on
Keras 3, ``tf.math.tanh`` on Keras 2); ``kmask.graph_build`` defines them."""

GRAPH_STYLES = ("masking", "embedding")

PAIRED_KINDS = MERGES + ATTENTIONS + ("OpAdd",)
"""Kinds whose node takes two tensors."""

SINGLE_INPUT_KINDS = tuple(k for k in PROPAGATION_CATALOG if k not in PAIRED_KINDS)
"""Kinds whose layer takes one tensor."""


@dataclasses.dataclass(frozen=True)
class Tensor:
    """What a strategy knows about a graph tensor: its width, whether it has a time axis, and
    its length in multiples of the input's timesteps (time-axis concatenation doubles it)."""

    features: int
    sequence: bool = True
    steps: int = 1

    @property
    def mergeable(self) -> bool:
        """Whether a merge or attention may take it: a sequence aligned with the input's steps."""
        return self.sequence and self.steps != UNALIGNED


@dataclasses.dataclass(frozen=True)
class Node:
    """One layer call: ``layer`` applied to the tensors at positions ``inputs``."""

    layer: LayerSpec
    inputs: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.layer}({', '.join(f't{i}' for i in self.inputs)})"


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """A model as a DAG of layers over a masked input (t0) and an unmasked one (t1).

    ``weight_seed`` seeds the weights exactly as for :class:`~strategies.StackSpec`.
    """

    style: str
    nodes: tuple[Node, ...]
    mask_value: float = 0.0
    features: int = FEATURES
    vocab_size: int = 12
    weight_seed: int = 0

    @property
    def input_layer(self) -> LayerSpec:
        if self.style == "masking":
            return LayerSpec.make("Masking", mask_value=self.mask_value)
        return LayerSpec.make(
            "Embedding", input_dim=self.vocab_size, output_dim=self.features, mask_zero=True
        )

    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        """The nodes' layers in order (as in :class:`~strategies.StackSpec`)."""
        return tuple(node.layer for node in self.nodes)

    @property
    def is_chain(self) -> bool:
        """Whether each node takes the previous tensor and has one output (a Sequential model)."""
        return all(
            node.inputs == ((0,) if i == 1 else (i,)) and output_count(node.layer) == 1
            for i, node in enumerate(self.nodes, start=1)
        )

    @property
    def depth(self) -> int:
        return len(self.nodes) + 1

    def __str__(self) -> str:
        head = f"t0 = {self.input_layer}(input), t1 = unmasked input"
        body, position = [], 2
        for node in self.nodes:
            count = output_count(node.layer)
            names = ", ".join(f"t{position + k}" for k in range(count))
            body.append(f"{names} = {node}")
            position += count
        return "; ".join([head] + body)


def output_count(layer: LayerSpec) -> int:
    """How many tensors a layer call returns (RNN states, Bidirectional with merge_mode=None)."""
    if layer.kind == "Bidirectional":
        return 2 if layer.option("merge_mode", "concat") is None else 1
    return layer.output_count


def output_tensors(layer: LayerSpec, inputs: list[Tensor]) -> list[Tensor]:
    """The tensors ``layer`` returns when applied to ``inputs``."""
    first = inputs[0]
    kind = layer.kind
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        units = layer.option("units")
        main = Tensor(units, bool(layer.option("return_sequences")), first.steps)
        return [main] + [Tensor(units, False)] * (output_count(layer) - 1)
    if kind == "Bidirectional":
        inner = layer.option("layer")
        units, mode = inner.option("units"), layer.option("merge_mode", "concat")
        seq = bool(inner.option("return_sequences"))
        if mode is None:
            return [Tensor(units, seq, first.steps), Tensor(units, seq, first.steps)]
        return [Tensor(2 * units if mode == "concat" else units, seq, first.steps)]
    if kind in ("Dense", "Conv1D"):
        return [Tensor(layer.option("units", layer.option("filters")), first.sequence, first.steps)]
    if kind == "TimeDistributed":
        return [Tensor(layer.option("layer").option("units", first.features), True, first.steps)]
    if kind == "Permute":
        return [Tensor(-1, True, UNALIGNED)]  # steps become features: the width depends on the length
    if kind in RESHAPING:
        return [Tensor(first.features, True, UNALIGNED)]
    if kind in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        return [Tensor(first.features, False)]
    if kind in ("Flatten", "Reshape"):
        return [Tensor(-1, False)]  # width depends on the sequence length: nothing merges with it
    if kind == "Concatenate":
        if layer.option("axis") == 1:
            return [Tensor(first.features, True, sum(t.steps for t in inputs))]
        return [Tensor(sum(t.features for t in inputs), True, first.steps)]
    if kind in ("Attention", "AdditiveAttention"):
        return [Tensor(inputs[1].features, True, first.steps)]
    return [first]  # MultiHeadAttention (query width), merges, per-step layers


def graph_tensors(spec: GraphSpec) -> list[Tensor]:
    """What the strategies know of every tensor of ``spec``: t0, t1, then each node's outputs."""
    tensors = [Tensor(spec.features), Tensor(spec.features)]
    for node in spec.nodes:
        tensors.extend(output_tensors(node.layer, [tensors[i] for i in node.inputs]))
    return tensors


# --------------------------------------------------------------------------- node strategies


def lambda_layer(function: str, keeps_mask: bool) -> LayerSpec:
    """``Lambda(function)``, with the mask function returning the input mask if ``keeps_mask``."""
    return LayerSpec.make("Lambda", function=function, **({"mask": "keep"} if keeps_mask else {}))


def single_input_layers(kind: str) -> st.SearchStrategy[LayerSpec]:
    """Layers of ``kind`` that take one tensor, with drawn options.

    ``kind``: one of :data:`SINGLE_INPUT_KINDS` (else :class:`InvalidArgument`, raised here).
    """
    kind = check_choice("kind", kind, SINGLE_INPUT_KINDS)
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        return recurrent_layers(kind)
    if kind == "Bidirectional":
        return bidirectional_layers()
    simple = {
        "Dense": LayerSpec.make("Dense", units=FEATURES),
        "LayerNormalization": LayerSpec.make("LayerNormalization"),
        "BatchNormalization": LayerSpec.make("BatchNormalization"),
        "GaussianNoise": LayerSpec.make("GaussianNoise", stddev=0.1),
        "UnitNormalization": LayerSpec.make("UnitNormalization"),
        "Softmax": LayerSpec.make("Softmax"),
        "MaxPooling1D": LayerSpec.make("MaxPooling1D", pool_size=2),
        "AveragePooling1D": LayerSpec.make("AveragePooling1D", pool_size=2),
        "Cropping1D": LayerSpec.make("Cropping1D", cropping=(1, 2)),
        "ZeroPadding1D": LayerSpec.make("ZeroPadding1D", padding=(1, 2)),
        "UpSampling1D": LayerSpec.make("UpSampling1D", size=2),
        "Permute": LayerSpec.make("Permute", dims=(2, 1)),
        "RepeatVector": LayerSpec.make("RepeatVector", n=3),
        "GlobalAveragePooling1D": LayerSpec.make("GlobalAveragePooling1D"),
        "GlobalMaxPooling1D": LayerSpec.make("GlobalMaxPooling1D"),
        "Flatten": LayerSpec.make("Flatten"),
        "Reshape": LayerSpec.make("Reshape", target_shape=(-1,)),
    }
    if kind in simple:
        return st.just(simple[kind])
    if kind in ("Dropout", "SpatialDropout1D"):
        return st.sampled_from([0.25, 0.5]).map(lambda r: LayerSpec.make(kind, rate=r))
    if kind == "TimeDistributed":
        return st.sampled_from([
            LayerSpec.make("Dense", units=FEATURES), LayerSpec.make("LayerNormalization"),
            LayerSpec.make("Dropout", rate=0.5),
        ]).map(lambda inner: LayerSpec.make("TimeDistributed", layer=inner))
    if kind == "Activation":
        return st.sampled_from(["tanh", "relu"]).map(
            lambda a: LayerSpec.make("Activation", activation=a)
        )
    if kind == "Conv1D":
        return st.sampled_from(["same", "causal"]).map(
            lambda p: LayerSpec.make("Conv1D", filters=FEATURES, kernel_size=2, padding=p)
        )
    if kind == "Lambda":
        return st.builds(lambda_layer, st.sampled_from(LAMBDA_FUNCTIONS), st.booleans())
    if kind == "Op":
        return st.sampled_from(OP_FUNCTIONS).map(lambda f: LayerSpec.make("Op", function=f))
    return st.just(LayerSpec.make("Masking", mask_value=0.0))  # the unmasked input is zero at its padding


def takes(kind: str, tensor: Tensor) -> bool:
    """Whether a single-input layer of ``kind`` can be applied to ``tensor``."""
    if kind in VECTOR_ONLY_KINDS:
        return not tensor.sequence
    if kind in RESHAPING:
        return tensor.mergeable  # one reshaping layer per path: no sequence gets cropped to nothing
    return tensor.sequence or kind in VECTOR_KINDS


def _pairing_key(kind: str, axis: int | None, tensor: Tensor):
    """Two tensors can be combined by ``kind`` when their keys are equal: Concatenate on the
    feature axis needs equal lengths, attention equal widths, the rest both."""
    if axis == -1:
        return tensor.steps
    if kind in ATTENTIONS:
        return tensor.features
    return (tensor.features, tensor.steps)


@st.composite
def _nodes_of(draw, kind: str, tensors: list[Tensor]) -> Node | None:
    """A node of ``kind`` over some of ``tensors``, or None when none of them fits."""
    sequences = [i for i, t in enumerate(tensors) if t.sequence]
    if kind in PAIRED_KINDS:
        axis = draw(st.sampled_from([-1, 1]), label="axis") if kind == "Concatenate" else None
        by_shape: dict = {}
        for i in (i for i, t in enumerate(tensors) if t.mergeable):
            by_shape.setdefault(_pairing_key(kind, axis, tensors[i]), []).append(i)
        key = draw(st.sampled_from(sorted(by_shape)), label="shape")
        first = draw(st.sampled_from(by_shape[key]))
        second = draw(st.sampled_from(by_shape[key]))
        inputs = (first, second)
        if kind == "MultiHeadAttention":
            layer = LayerSpec.make(
                "MultiHeadAttention", num_heads=2, key_dim=2, use_causal_mask=draw(st.booleans())
            )
            if draw(st.booleans(), label="self_attention"):
                inputs = (first, first)
        elif kind in ATTENTIONS:
            layer = LayerSpec.make(kind, use_causal_mask=draw(st.booleans()))
        else:
            layer = LayerSpec.make(kind, **({"axis": axis} if axis else {}))
        return Node(layer, inputs)
    candidates = [i for i, t in enumerate(tensors) if takes(kind, t)]
    if kind == "Masking":
        candidates = [i for i in sequences if i != 0]  # re-masking the masked input says nothing
    if not candidates:
        return None
    source = draw(st.sampled_from(candidates), label="input")
    layer = draw(single_input_layers(kind))
    return Node(layer, (source,))


def check_kinds(kinds, catalog: tuple[str, ...]) -> tuple[str, ...]:
    """``kinds`` as a tuple if it is a non-empty tuple or list of kinds from ``catalog``;
    otherwise :class:`InvalidArgument`."""
    if not isinstance(kinds, (tuple, list)) or not kinds:
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty tuple of layer kinds from {catalog}")
    for kind in kinds:
        check_choice("each of kinds", kind, catalog)
    return tuple(kinds)


def graphs(
    kinds: tuple[str, ...] = PROPAGATION_CATALOG, max_nodes: int = 4, avoid=None
) -> st.SearchStrategy[GraphSpec]:
    """Random DAGs of 1..``max_nodes`` nodes drawn from ``kinds``, branching and merging over
    both inputs and every earlier tensor (a single Dense node when no drawn kind fits, unless
    ``avoid`` holds for it too: then the draw is rejected).

    ``kinds``: a non-empty tuple of :data:`PROPAGATION_CATALOG` kinds.
    ``max_nodes``: an integer >= 1.
    ``avoid``: None, or a predicate on a :class:`GraphSpec`; a drawn node that would make the
    graph satisfy it is left out (so graphs steer around known divergences without rejection).
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    if avoid is not None and not callable(avoid):
        raise InvalidArgument(f"avoid={avoid!r} must be None or a predicate on a GraphSpec")
    return _graphs(check_kinds(kinds, PROPAGATION_CATALOG), check_count("max_nodes", max_nodes, 1),
                   avoid or (lambda spec: False))


@st.composite
def _graphs(draw, kinds: tuple[str, ...], max_nodes: int, avoid) -> GraphSpec:
    """:func:`graphs` with checked arguments."""
    style = draw(st.sampled_from(GRAPH_STYLES), label="style")
    tensors = [Tensor(FEATURES), Tensor(FEATURES)]
    nodes: list[Node] = []
    for _ in range(draw(st.integers(1, max_nodes), label="size")):
        kind = draw(st.sampled_from(kinds), label="kind")
        node = draw(_nodes_of(kind, tensors))
        if node is None or avoid(GraphSpec(style, tuple(nodes) + (node,))):
            continue
        nodes.append(node)
        tensors.extend(output_tensors(node.layer, [tensors[i] for i in node.inputs]))
    if not nodes:
        nodes.append(Node(LayerSpec.make("Dense", units=FEATURES), (0,)))
        assume(not avoid(GraphSpec(style, tuple(nodes))))
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return GraphSpec(style, tuple(nodes), mask_value=mask_value)


def chains(kinds: tuple[str, ...] = CHAIN_KINDS, max_nodes: int = 4) -> st.SearchStrategy[GraphSpec]:
    """Random chains (each layer takes the previous tensor, one output each): Sequential models
    of 1..``max_nodes`` layers; a chain ends early when no kind in ``kinds`` takes its last tensor.

    ``kinds``: a non-empty tuple of :data:`CHAIN_KINDS`.
    ``max_nodes``: an integer >= 1.
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    return _chains(check_kinds(kinds, CHAIN_KINDS), check_count("max_nodes", max_nodes, 1))


@st.composite
def _chains(draw, kinds: tuple[str, ...], max_nodes: int) -> GraphSpec:
    """:func:`chains` with checked arguments."""
    style = draw(st.sampled_from(GRAPH_STYLES), label="style")
    current = Tensor(FEATURES)
    nodes: list[Node] = []
    for position in range(draw(st.integers(1, max_nodes), label="size")):
        usable = [k for k in kinds if takes(k, current)]
        if not usable:
            break
        kind = draw(st.sampled_from(usable), label="kind")
        layer = draw(single_input_layers(kind).filter(lambda spec: output_count(spec) == 1))
        nodes.append(Node(layer, (position + 1 if position else 0,)))
        current = output_tensors(layer, [current])[0]
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return GraphSpec(style, tuple(nodes), mask_value=mask_value)


def graph_inputs(spec: GraphSpec) -> st.SearchStrategy[tuple[PaddedBatch, np.ndarray]]:
    """A padded batch for the masked input of ``spec`` and float values for its unmasked input:
    same batch size and timesteps, zero at steps of its own padding.

    ``spec``: a :class:`GraphSpec` (else :class:`InvalidArgument`, raised here).
    """
    if not isinstance(spec, GraphSpec):
        raise InvalidArgument(f"spec={spec!r} must be a GraphSpec, e.g. one drawn from graphs() or chains()")
    return _graph_inputs(spec)


@st.composite
def _graph_inputs(draw, spec: GraphSpec) -> tuple[PaddedBatch, np.ndarray]:
    """:func:`graph_inputs` for a checked ``spec``."""
    batch = draw(padded_batches(spec.style, features=spec.features, vocab_size=spec.vocab_size,
                                mask_value=spec.mask_value), label="batch")
    other = draw(padded_batches("masking", features=spec.features, mask_value=0.0,
                                batch_size=batch.batch_size, timesteps=batch.timesteps), label="unmasked_input")
    return batch, other.values


PROPAGATING = (
    "Dense", "Dropout", "Activation", "LayerNormalization", "TimeDistributed", "SpatialDropout1D",
    "GaussianNoise", "UnitNormalization",
)
"""Per-step layers that keep the mask and whose weights never make NaNs (BatchNormalization's
random moving variance can be negative)."""


def consumers() -> st.SearchStrategy[LayerSpec]:
    """Layers that use the mask and reduce the time axis: an RNN, Bidirectional or pooling."""
    return st.one_of(
        recurrent_layers(return_sequences=False, allow_state=False),
        bidirectional_layers(return_sequences=False, allow_split=False),
        st.just(LayerSpec.make("GlobalAveragePooling1D")),
    )


def consumer_stacks(max_chain: int = 3) -> st.SearchStrategy[StackSpec]:
    """``input layer -> up to max_chain mask-keeping layers -> consumer`` as a StackSpec.

    ``max_chain``: an integer >= 0 (else :class:`InvalidArgument`, raised here).
    """
    return _consumer_stacks(check_count("max_chain", max_chain, 0))


@st.composite
def _consumer_stacks(draw, max_chain: int) -> StackSpec:
    """:func:`consumer_stacks` with a checked ``max_chain``."""
    style = draw(st.sampled_from(GRAPH_STYLES), label="style")
    kinds = draw(st.lists(st.sampled_from(PROPAGATING), max_size=max_chain), label="chain")
    chain = [draw(single_input_layers(kind)) for kind in kinds]
    consumer = draw(consumers(), label="consumer")
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return StackSpec(style, tuple(chain) + (consumer,), mask_value=mask_value)
