"""Layer stacks as plain, printable, serialisable data, and strategies that draw them.

A :class:`StackSpec` is everything needed to rebuild a model: the masking style
and its input layer, and a tuple of :class:`LayerSpec` drawn from
:data:`CATALOG`. It holds no Keras object; ``kmask.build`` turns it into
Sequential, Functional and subclassed models, and :meth:`LayerSpec.source`
renders the exact constructor call for standalone bug-report scripts.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .padded import STYLES, PaddedBatch, check_choice, check_count, check_flag, mask_values, padded_batches

RECURRENT = ("LSTM", "GRU", "SimpleRNN")
PER_STEP = ("Dense", "TimeDistributed", "Dropout", "LayerNormalization")
CATALOG = RECURRENT + ("Bidirectional",) + PER_STEP + ("GlobalAveragePooling1D", "MultiHeadAttention")
"""Every layer kind a stack can hold (the input ``Masking``/``Embedding`` layer aside)."""

APIS = ("sequential", "functional", "subclassed")
CALL_OPTIONS = frozenset({"use_causal_mask"})
"""Options passed when the layer is called rather than constructed."""

UNITS = 3
VOCAB_SIZE = 12
UNROLL = st.sampled_from([False, False, False, True])
"""Unrolled RNNs fix the sequence length, so every unpadded length needs its own model:
draw them one time in four to keep builds cheap."""


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One Keras layer: its class name in ``keras.layers`` and its options.

    ``options`` is a sorted tuple of ``(name, value)`` pairs; a wrapper's inner
    layer is the option ``layer`` holding another :class:`LayerSpec`.
    """

    kind: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, kind: str, **options) -> LayerSpec:
        return cls(kind, tuple(sorted(options.items())))

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)

    @property
    def constructor_options(self) -> dict:
        return {k: v for k, v in self.options if k not in CALL_OPTIONS}

    @property
    def call_options(self) -> dict:
        return {k: v for k, v in self.options if k in CALL_OPTIONS}

    @property
    def recurrent(self) -> LayerSpec | None:
        """The recurrent layer inside (itself, or the one a Bidirectional wraps)."""
        if self.kind in RECURRENT:
            return self
        if self.kind == "Bidirectional":
            return self.option("layer")
        return None

    @property
    def returns_sequence(self) -> bool:
        """Whether the (first) output still has a time axis."""
        if self.kind == "GlobalAveragePooling1D":
            return False
        rnn = self.recurrent
        return rnn is None or bool(rnn.option("return_sequences", False))

    @property
    def reverses_time(self) -> bool:
        """A ``go_backwards`` RNN returning sequences emits its steps last-to-first."""
        return self.kind in RECURRENT and self.option("go_backwards", False) and self.returns_sequence

    @property
    def output_count(self) -> int:
        if self.kind in RECURRENT and self.option("return_state", False):
            return 3 if self.kind == "LSTM" else 2
        if self.kind == "Bidirectional" and self.option("merge_mode", "concat") is None:
            return 2
        return 1

    def source(self, prefix: str = "layers.") -> str:
        """The constructor call, e.g. ``layers.LSTM(units=3, return_sequences=True)``."""
        args = ", ".join(
            f"{k}={v.source(prefix) if isinstance(v, LayerSpec) else repr(v)}"
            for k, v in self.constructor_options.items()
        )
        return f"{prefix}{self.kind}({args})"

    def __str__(self) -> str:
        call = "".join(f".call({k}={v!r})" for k, v in self.call_options.items())
        return self.source("") + call

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "options": {k: v.to_dict() if isinstance(v, LayerSpec) else v for k, v in self.options},
        }

    @classmethod
    def from_dict(cls, data: dict) -> LayerSpec:
        options = {
            k: cls.from_dict(v) if isinstance(v, dict) else v for k, v in data["options"].items()
        }
        return cls.make(data["kind"], **options)


@dataclasses.dataclass(frozen=True)
class StackSpec:
    """A model: masking style, input layer, and the layers after it, in order.

    ``features`` is the input feature size (``masking``/``explicit``) or the
    embedding size (``embedding``); ``mask_value`` is the ``Masking`` value.
    """

    style: str
    layers: tuple[LayerSpec, ...]
    features: int = 2
    mask_value: float = 0.0
    vocab_size: int = VOCAB_SIZE
    weight_seed: int = 0

    @property
    def input_layer(self) -> LayerSpec | None:
        """The layer that makes the mask, or None when the mask is passed by hand."""
        if self.style == "masking":
            return LayerSpec.make("Masking", mask_value=self.mask_value)
        if self.style == "embedding":
            return LayerSpec.make(
                "Embedding", input_dim=self.vocab_size, output_dim=self.features, mask_zero=True
            )
        return None

    @property
    def needs_fixed_timesteps(self) -> bool:
        """Unrolled RNNs need the time dimension at build time."""
        return any(
            layer.recurrent is not None and layer.recurrent.option("unroll", False)
            for layer in self.layers
        )

    def build_timesteps(self, timesteps: int | None) -> int | None:
        """The time dimension a model of this stack is built (and cached) for: ``timesteps`` if
        its RNNs are unrolled, else ``None``, so one model serves every sequence length."""
        return timesteps if self.needs_fixed_timesteps else None

    @property
    def depth(self) -> int:
        return len(self.layers) + 1

    def batches(self, **kwargs) -> st.SearchStrategy[PaddedBatch]:
        """Padded batches this model accepts (same style, features and mask value)."""
        return padded_batches(
            self.style,
            features=self.features,
            vocab_size=self.vocab_size,
            mask_value=self.mask_value,
            **kwargs,
        )

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["layers"] = [layer.to_dict() for layer in self.layers]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> StackSpec:
        return cls(**{**data, "layers": tuple(LayerSpec.from_dict(d) for d in data["layers"])})

    def __str__(self) -> str:
        head = str(self.input_layer) if self.input_layer else "mask=<explicit>"
        return " -> ".join([head] + [str(layer) for layer in self.layers])


# --------------------------------------------------------------------------- layer strategies


def check_optional_flag(name: str, value) -> bool | None:
    """``value`` if it is None (the strategy draws it) or a bool; otherwise :class:`InvalidArgument`."""
    return None if value is None else check_flag(name, value)


def recurrent_layers(
    kind: str | None = None,
    *,
    return_sequences: bool | None = None,
    allow_state: bool = True,
    allow_backwards: bool = True,
) -> st.SearchStrategy[LayerSpec]:
    """LSTM, GRU or SimpleRNN with drawn return_sequences / return_state / go_backwards / unroll /
    zero_output_for_mask (and GRU's reset_after).

    ``kind``: one of :data:`RECURRENT`, or None to draw one.
    ``return_sequences``: True or False, or None to draw it.
    ``allow_state``, ``allow_backwards``: whether ``return_state`` / ``go_backwards`` may be drawn True.
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    kind = check_choice("kind", kind, RECURRENT, none_draws=True)
    return_sequences = check_optional_flag("return_sequences", return_sequences)
    kinds = st.just(kind) if kind else st.sampled_from(RECURRENT)
    return st.builds(
        lambda k, rs, state, back, unroll, zeros, reset_after: LayerSpec.make(
            k, units=UNITS, return_sequences=rs, return_state=state, go_backwards=back, unroll=unroll,
            zero_output_for_mask=zeros, **({"reset_after": reset_after} if k == "GRU" else {}),
        ),
        kinds,
        st.just(return_sequences) if return_sequences is not None else st.booleans(),
        st.booleans() if check_flag("allow_state", allow_state) else st.just(False),
        st.booleans() if check_flag("allow_backwards", allow_backwards) else st.just(False),
        UNROLL,
        st.booleans(),
        st.booleans(),
    )


def bidirectional_layers(
    *, return_sequences: bool | None = None, allow_split: bool = True
) -> st.SearchStrategy[LayerSpec]:
    """Bidirectional around a recurrent layer, every merge_mode.

    ``return_sequences``: True or False for the inner layer, or None to draw it.
    ``allow_split``: whether ``merge_mode=None`` (two outputs) may be drawn.
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    modes = ["concat", "sum", "ave", "mul"] + ([None] if check_flag("allow_split", allow_split) else [])
    inner = recurrent_layers(return_sequences=return_sequences, allow_state=False, allow_backwards=False)
    return st.builds(
        lambda layer, mode: LayerSpec.make("Bidirectional", layer=layer, merge_mode=mode),
        inner,
        st.sampled_from(modes),
    )


FIXED_LAYERS = {
    "TimeDistributed": LayerSpec.make("TimeDistributed", layer=LayerSpec.make("Dense", units=UNITS)),
    "Dense": LayerSpec.make("Dense", units=UNITS),
    "LayerNormalization": LayerSpec.make("LayerNormalization"),
    "GlobalAveragePooling1D": LayerSpec.make("GlobalAveragePooling1D"),
}
"""Catalog kinds drawn with no options to vary."""


def catalog_layers(
    kind: str, *, api: str = "functional", last: bool = True
) -> st.SearchStrategy[LayerSpec]:
    """Layers of one catalog ``kind`` with drawn options valid in that position.

    ``kind``: one of :data:`CATALOG` (MultiHeadAttention needs an ``api`` other than sequential).
    ``api``: one of :data:`APIS`, the model API the layer will be built with.
    ``last``: False forbids layers with several outputs.
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    kind = check_choice("kind", kind, CATALOG)
    api = check_choice("api", api, APIS)
    if not supported(kind, api):
        raise InvalidArgument(f"{kind} takes query and value: it has no {api} form; pass api='functional'")
    several_outputs_ok = check_flag("last", last) and api != "sequential"
    if kind in RECURRENT:
        return recurrent_layers(kind, allow_state=several_outputs_ok, allow_backwards=True)
    if kind == "Bidirectional":
        return bidirectional_layers(allow_split=several_outputs_ok)
    if kind == "Dropout":
        return st.sampled_from([0.25, 0.5]).map(lambda r: LayerSpec.make("Dropout", rate=r))
    if kind == "MultiHeadAttention":
        return st.booleans().map(
            lambda causal: LayerSpec.make(
                "MultiHeadAttention", num_heads=2, key_dim=2, use_causal_mask=causal
            )
        )
    return st.just(FIXED_LAYERS[kind])


def context_layers(api: str) -> st.SearchStrategy[LayerSpec]:
    """Sequence-to-sequence layers that keep the mask aligned: what sits before a focus layer.

    ``api``: one of :data:`APIS` (MultiHeadAttention is drawn only where it can be built).
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    api = check_choice("api", api, APIS)
    options = [
        catalog_layers("Dense"),
        catalog_layers("LayerNormalization"),
        catalog_layers("Dropout"),
        catalog_layers("TimeDistributed"),
        recurrent_layers(return_sequences=True, allow_state=False, allow_backwards=False),
        bidirectional_layers(return_sequences=True, allow_split=False),
    ]
    if api != "sequential":
        options.append(catalog_layers("MultiHeadAttention", api=api))
    return st.one_of(options)


def supported(kind: str, api: str) -> bool:
    """Whether a stack focused on ``kind`` can be built with ``api``."""
    return not (kind == "MultiHeadAttention" and api == "sequential")


def stacks(
    focus: str | None = None,
    *,
    api: str = "functional",
    style: str | None = None,
    max_context: int = 2,
) -> st.SearchStrategy[StackSpec]:
    """Stacks ``[context...] + [focus] + [tail?]`` buildable with ``api``.

    The focus layer gets every option it allows; context layers before it keep
    sequences aligned with their mask; an optional tail layer follows when the focus
    has a single output (after a sequence, a per-timestep layer or GlobalAveragePooling1D, which
    reads the mask: after a time-reversing focus, ``go_backwards`` with ``return_sequences``, it
    must read the mask reversed).
    The depth (:attr:`StackSpec.depth`) is at most ``max_context + 3``.

    ``focus``: one of :data:`CATALOG` that ``api`` can build (see :func:`supported`), or
    None to draw one.
    ``api``: one of :data:`APIS`.
    ``style``: one of :data:`STYLES`, or None to draw one.
    ``max_context``: an integer >= 0, the most context layers before the focus.
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    api = check_choice("api", api, APIS)
    focus = check_choice("focus", focus, CATALOG, none_draws=True)
    if focus is not None and not supported(focus, api):
        raise InvalidArgument(f"{focus} stacks cannot be built with the {api} API; pass api='functional'")
    style = check_choice("style", style, STYLES, none_draws=True)
    return _stacks(focus, api, style, check_count("max_context", max_context, 0))


@st.composite
def _stacks(draw, focus: str | None, api: str, style: str | None, max_context: int) -> StackSpec:
    """:func:`stacks` with checked arguments."""
    if focus is None:
        focus = draw(st.sampled_from([k for k in CATALOG if supported(k, api)]), label="focus")
    style = style or draw(st.sampled_from(STYLES), label="style")
    context = draw(st.lists(context_layers(api), max_size=max_context), label="context")
    layer = draw(catalog_layers(focus, api=api), label="focus_layer")
    tail = []
    if layer.output_count == 1 and draw(st.booleans(), label="has_tail"):
        if layer.returns_sequence:
            tail_kinds = list(PER_STEP) + ["GlobalAveragePooling1D"]
        else:
            tail_kinds = ["Dense", "Dropout", "LayerNormalization"]
        kind = draw(st.sampled_from(tail_kinds), label="tail")
        tail.append(draw(catalog_layers(kind, api=api, last=False)))
    mask_value = draw(mask_values(), label="mask_value") if style == "masking" else 0.0
    return StackSpec(style=style, layers=tuple(context) + (layer,) + tuple(tail), mask_value=mask_value)
