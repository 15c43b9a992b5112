"""Padded batches in the three masking styles, as plain NumPy data.

A :class:`PaddedBatch` knows which timesteps are real (``mask``) and how the
padding was written, so every property can ask for the same sample without its
padding (:meth:`PaddedBatch.row`), with other padding content
(:meth:`PaddedBatch.with_padding_content`) or with more padding
(:meth:`PaddedBatch.extended`). Nothing here imports Keras.

The argument checks the strategy functions of this package share live here too: every
strategy function checks its arguments when called and raises
:class:`hypothesis.errors.InvalidArgument` saying what to pass.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

STYLES = ("masking", "embedding", "explicit")
"""``masking``: float features behind ``Masking(mask_value)``; ``embedding``: int
tokens behind ``Embedding(mask_zero=True)``; ``explicit``: float features with a
boolean ``mask=`` passed to the model call."""

PADDINGS = ("post", "pre")
"""Contiguous paddings: ``post`` (real steps first) and ``pre`` (real steps last)."""
MASK_PADDINGS = PADDINGS + ("scattered",)
"""Every padding a mask can have: ``scattered`` explicit masks have holes anywhere."""
TIMESTEP_BUCKETS = (6, 9)
"""Few distinct sequence lengths keep traced functions reusable."""


@dataclasses.dataclass(frozen=True, eq=False)
class PaddedBatch:
    """A batch of padded sequences and the truth about which timesteps are real.

    ``values`` is ``(batch, timesteps, features)`` float32 for the ``masking`` and
    ``explicit`` styles and ``(batch, timesteps)`` int32 tokens for ``embedding``.
    ``mask`` is ``(batch, timesteps)`` bool, True at real timesteps. ``padding`` is
    ``"post"``, ``"pre"`` or ``"scattered"`` (explicit masks with holes).
    """

    style: str
    values: np.ndarray
    mask: np.ndarray
    mask_value: float = 0.0
    padding: str = "post"

    @property
    def batch_size(self) -> int:
        return self.values.shape[0]

    @property
    def timesteps(self) -> int:
        return self.values.shape[1]

    @property
    def lengths(self) -> np.ndarray:
        """Number of real timesteps in each row."""
        return self.mask.sum(axis=1)

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` without its padding, as a batch of one: ``(1, lengths[i], ...)``."""
        return self.values[i][self.mask[i]][None]

    def with_padding_content(self, content: np.ndarray) -> PaddedBatch:
        """The same batch with ``content`` written into every padded timestep.

        Only the explicit style allows it: the other styles define padding by its content.
        """
        if self.style != "explicit":
            raise ValueError(f"padding content is fixed by the {self.style!r} style")
        values = np.where(self.mask[..., None], self.values, content).astype(self.values.dtype)
        return dataclasses.replace(self, values=values)

    def extended(self, extra: int) -> PaddedBatch:
        """The same batch with ``extra`` more padded timesteps on its padding side: the start
        for ``"pre"`` padding, the end for ``"post"`` and ``"scattered"``."""
        if self.padding not in MASK_PADDINGS:
            raise ValueError(f"padding {self.padding!r} has no padding side; use one of {MASK_PADDINGS}")
        pad_shape = (self.batch_size, extra) + self.values.shape[2:]
        pad = np.full(pad_shape, self.padding_fill, dtype=self.values.dtype)
        no = np.zeros((self.batch_size, extra), dtype=bool)
        if self.padding == "pre":
            return dataclasses.replace(
                self, values=np.concatenate([pad, self.values], 1), mask=np.concatenate([no, self.mask], 1)
            )
        return dataclasses.replace(
            self, values=np.concatenate([self.values, pad], 1), mask=np.concatenate([self.mask, no], 1)
        )

    @property
    def padding_fill(self):
        """What a padded timestep holds in this style."""
        return 0 if self.style == "embedding" else self.mask_value

    def stacked(self, other: PaddedBatch) -> PaddedBatch:
        """This batch and ``other`` (same style and timesteps) as one batch, self first."""
        return dataclasses.replace(
            self,
            values=np.concatenate([self.values, other.values]),
            mask=np.concatenate([self.mask, other.mask]),
        )

    def __repr__(self) -> str:
        with np.printoptions(precision=9, threshold=100_000, linewidth=100):
            return (
                f"PaddedBatch(style={self.style!r}, padding={self.padding!r}, "
                f"mask_value={self.mask_value!r},\n  values={self.values!r},\n  mask={self.mask!r})"
            )


# --------------------------------------------------------------------------- argument checks


def check_choice(name: str, value, choices, *, none_draws: bool = False):
    """``value`` if it is one of the strings ``choices`` (or None when ``none_draws``: the
    strategy draws one); otherwise :class:`InvalidArgument` listing what to pass."""
    if value is None and none_draws:
        return None
    if not isinstance(value, str) or value not in choices:
        alternative = ", or None to draw one" if none_draws else ""
        raise InvalidArgument(f"{name}={value!r} is not one of {choices}{alternative}")
    return value


def check_flag(name: str, value) -> bool:
    """``value`` if it is a bool; otherwise :class:`InvalidArgument`."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(f"{name}={value!r} must be True or False")
    return bool(value)


def check_count(name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``; otherwise :class:`InvalidArgument`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def count_strategy(name: str, value, minimum: int) -> st.SearchStrategy[int]:
    """A size argument that takes a value or a strategy, as a strategy: an integer >= ``minimum``
    is checked now; a strategy's draws are checked when drawn."""
    if isinstance(value, st.SearchStrategy):

        def checked_count(drawn):
            return check_count(f"{name} (drawn from its strategy)", drawn, minimum)

        return value.map(checked_count)
    return st.just(check_count(name, value, minimum))


def check_mask_value(name: str, value) -> float:
    """``value`` rounded to float32, if it is a real number that float32 holds as a finite,
    normal (or zero) value; otherwise :class:`InvalidArgument`. TensorFlow flushes float32
    subnormals to zero on CPU, so a subnormal mask value would not be the value compared."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgument(f"{name} must be a real number, got {value!r}")
    with np.errstate(over="ignore"):
        v32 = np.float32(value)
    if not np.isfinite(v32):
        raise InvalidArgument(f"{name}={value!r} is not a finite float32; pass a finite number")
    if v32 != 0 and abs(v32) < np.finfo(np.float32).tiny:
        raise InvalidArgument(
            f"{name}={value!r} is subnormal in float32, which TensorFlow flushes to zero on CPU; "
            "pass 0.0 or a normal float"
        )
    return float(v32)


def mask_value_strategy(name: str, value) -> st.SearchStrategy[float]:
    """A mask value argument as a strategy: None draws from :func:`mask_values`, a number is
    checked now, a strategy's draws are checked when drawn."""
    if value is None:
        return mask_values()
    if isinstance(value, st.SearchStrategy):

        def checked_mask_value(drawn):
            return check_mask_value(f"{name} (drawn from its strategy)", drawn)

        return value.map(checked_mask_value)
    return st.just(check_mask_value(name, value))


def check_min_length(min_length, timesteps) -> int:
    """``min_length`` if it is an integer >= 0 and at most ``timesteps`` (when that is a value:
    drawn timesteps are checked when drawn); otherwise :class:`InvalidArgument`."""
    min_length = check_count("min_length", min_length, 0)
    if not isinstance(timesteps, st.SearchStrategy) and check_count("timesteps", timesteps, 1) < min_length:
        raise InvalidArgument(f"min_length={min_length} exceeds timesteps={timesteps}; pass min_length <= timesteps")
    return min_length


def check_paddings(paddings) -> tuple[str, ...]:
    """``paddings`` as a tuple if it is a non-empty tuple or list of :data:`PADDINGS`;
    otherwise :class:`InvalidArgument`."""
    known = isinstance(paddings, (tuple, list)) and all(isinstance(p, str) and p in PADDINGS for p in paddings)
    if not known or not paddings:
        raise InvalidArgument(
            f"paddings={paddings!r} must be a non-empty tuple of {PADDINGS}, e.g. ('post',) "
            "(scattered explicit masks are switched on by scattered=True)"
        )
    return tuple(paddings)


# --------------------------------------------------------------------------- strategies


def near_values(mask_value: float) -> list[float]:
    """The mask value itself and its nearest float32 neighbours: real data that must not be
    masked unless a whole timestep equals the mask value.

    ``mask_value``: a finite real number, not subnormal in float32 (else :class:`InvalidArgument`).
    Neighbours are the nearest *normal* floats: TensorFlow flushes subnormals to zero
    on CPU, so next to 0 the neighbours are +-``float32.tiny``, not +-1e-45.
    """
    mv = np.float32(check_mask_value("mask_value", mask_value))
    neighbours = [np.nextafter(mv, np.float32(np.inf)), np.nextafter(mv, np.float32(-np.inf))]
    tiny = np.finfo(np.float32).tiny
    neighbours = [n if abs(n) >= tiny else np.copysign(tiny, n - mv) for n in neighbours]
    return [float(mv)] + [float(n) for n in neighbours]


def mask_values() -> st.SearchStrategy[float]:
    """Mask values for ``Masking``: 0 most often, also negative, fractional and large ones."""
    return st.sampled_from([0.0, -1.0, 0.5, 3.0])


def masks(batch_size, timesteps, *, padding: str = "post", min_length: int = 0) -> st.SearchStrategy[np.ndarray]:
    """Boolean ``(batch_size, timesteps)`` masks, True at real steps.

    ``batch_size``, ``timesteps``: an integer >= 1 or a strategy of them.
    ``padding``: ``"post"`` (real steps first), ``"pre"`` (real steps last) or
    ``"scattered"`` (any pattern).
    ``min_length``: an integer from 0 to ``timesteps``, the fewest real steps per row
    (0 lets rows be fully padded).
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    padding = check_choice("padding", padding, MASK_PADDINGS)
    min_length = check_min_length(min_length, timesteps)
    return _masks(
        count_strategy("batch_size", batch_size, 1), count_strategy("timesteps", timesteps, 1), padding, min_length
    )


@st.composite
def _masks(draw, batch_size, timesteps, padding: str, min_length: int) -> np.ndarray:
    """:func:`masks` with checked arguments, sizes as strategies."""
    b, t = draw(batch_size), draw(timesteps)
    if min_length > t:
        raise InvalidArgument(f"min_length={min_length} exceeds the {t} timesteps drawn; draw timesteps >= min_length")
    if padding == "scattered":
        mask = draw(hnp.arrays(bool, (b, t)))
        for i in range(b):
            if mask[i].sum() < min_length:
                mask[i, :min_length] = True
        return mask
    lengths = np.asarray(draw(st.lists(st.integers(min_length, t), min_size=b, max_size=b)), dtype=int)
    steps = np.arange(t)
    if padding == "pre":
        return steps[None, :] >= (t - lengths)[:, None]
    return steps[None, :] < lengths[:, None]


def padded_batches(
    style: str,
    *,
    features: int = 2,
    vocab_size: int = 12,
    mask_value=None,
    batch_size=st.integers(1, 4),
    timesteps=st.sampled_from(TIMESTEP_BUCKETS),
    paddings=PADDINGS,
    scattered: bool = True,
    min_length: int = 0,
) -> st.SearchStrategy[PaddedBatch]:
    """Padded batches in ``style``.

    Real float timesteps mix ordinary values with the mask value and its float32
    neighbours in some (never all) features, so a ``Masking`` layer that compares
    the wrong way is caught. Floats are never subnormal.

    ``style``: one of :data:`STYLES`.
    ``features``: an integer >= 1, the feature size of float styles.
    ``vocab_size``: an integer >= 2; tokens are drawn from 1 .. vocab_size - 1 (0 is padding).
    ``mask_value``: the ``Masking`` value (it belongs to the model): a number, a strategy of
    numbers, or None to draw one from :func:`mask_values`; ignored by the embedding style.
    ``batch_size``, ``timesteps``: an integer >= 1 or a strategy of them.
    ``paddings``: a non-empty tuple of :data:`PADDINGS` to draw from.
    ``scattered``: whether explicit-style masks may also have holes (padding ``"scattered"``).
    ``min_length``: an integer >= 0 (at most ``timesteps``), the fewest real steps per row.
    Bad arguments raise :class:`InvalidArgument` here, not when drawing.
    """
    style = check_choice("style", style, STYLES)
    min_length = check_min_length(min_length, timesteps)
    options = list(check_paddings(paddings))
    if check_flag("scattered", scattered) and style == "explicit":
        options.append("scattered")
    return _padded_batches(
        style,
        check_count("features", features, 1),
        check_count("vocab_size", vocab_size, 2),
        mask_value_strategy("mask_value", mask_value),
        count_strategy("batch_size", batch_size, 1),
        count_strategy("timesteps", timesteps, 1),
        tuple(options),
        min_length,
    )


@st.composite
def _padded_batches(
    draw, style, features, vocab_size, mask_value, batch_size, timesteps, paddings, min_length
) -> PaddedBatch:
    """:func:`padded_batches` with checked arguments, ``mask_value`` and sizes as strategies."""
    b = draw(batch_size, label="batch_size")
    t = draw(timesteps, label="timesteps")
    padding = draw(st.sampled_from(paddings), label="padding")
    mask = draw(masks(b, t, padding=padding, min_length=min_length), label="mask")

    if style == "embedding":
        tokens = draw(hnp.arrays(np.int32, (b, t), elements=st.integers(1, vocab_size - 1)))
        return PaddedBatch("embedding", np.where(mask, tokens, 0).astype(np.int32), mask, 0.0, padding)

    mv = draw(mask_value, label="mask_value")
    elements = st.one_of(
        st.floats(-2.0, 2.0, width=32, allow_subnormal=False),
        st.sampled_from(near_values(mv)),
    )
    values = draw(hnp.arrays(np.float32, (b, t, features), elements=elements), label="values")
    # A real timestep whose every feature equals the mask value would be padding by
    # definition; nudge one feature so that real steps stay real.
    all_equal = np.all(values == np.float32(mv), axis=-1)
    values[..., 0] = np.where(all_equal, np.float32(mv + 1.0), values[..., 0])
    if style == "masking":
        values = np.where(mask[..., None], values, np.float32(mv)).astype(np.float32)
    else:
        padded_content = draw(
            hnp.arrays(np.float32, (b, t, features), elements=st.floats(-3.0, 3.0, width=32, allow_subnormal=False)),
            label="padding_content",
        )
        values = np.where(mask[..., None], values, padded_content).astype(np.float32)
    return PaddedBatch(style, values, mask, mv, padding)
