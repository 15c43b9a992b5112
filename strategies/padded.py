"""Padded batches in the three masking styles, as plain NumPy data.

A :class:`PaddedBatch` knows which timesteps are real (``mask``) and how the
padding was written, so every property can ask for the same sample without its
padding (:meth:`PaddedBatch.row`), with other padding content
(:meth:`PaddedBatch.with_padding_content`) or with more padding
(:meth:`PaddedBatch.extended`). Nothing here imports Keras.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

STYLES = ("masking", "embedding", "explicit")
"""``masking``: float features behind ``Masking(mask_value)``; ``embedding``: int
tokens behind ``Embedding(mask_zero=True)``; ``explicit``: float features with a
boolean ``mask=`` passed to the model call."""

PADDINGS = ("post", "pre")
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
        """The same batch with ``extra`` more padded timesteps on its padding side."""
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


def _float32(x: float) -> float:
    return float(np.float32(x))


def near_values(mask_value: float) -> list[float]:
    """The mask value itself and its nearest float32 neighbours: real data that must not be
    masked unless a whole timestep equals the mask value.

    Neighbours are the nearest *normal* floats: TensorFlow flushes subnormals to zero
    on CPU, so next to 0 the neighbours are +-``float32.tiny``, not +-1e-45.
    """
    mv = np.float32(mask_value)
    neighbours = [np.nextafter(mv, np.float32(np.inf)), np.nextafter(mv, np.float32(-np.inf))]
    tiny = np.finfo(np.float32).tiny
    neighbours = [n if abs(n) >= tiny else np.copysign(tiny, n - mv) for n in neighbours]
    return [float(mv)] + [float(n) for n in neighbours]


def mask_values() -> st.SearchStrategy[float]:
    """Mask values for ``Masking``: 0 most often, also negative, fractional and large ones."""
    return st.sampled_from([0.0, -1.0, 0.5, 3.0])


@st.composite
def masks(
    draw,
    batch_size: int,
    timesteps: int,
    *,
    padding: str = "post",
    min_length: int = 0,
) -> np.ndarray:
    """Boolean ``(batch, timesteps)`` masks: contiguous real steps with ``"post"`` or ``"pre"``
    padding, or any pattern with ``"scattered"``. Rows may be fully padded when ``min_length=0``."""
    if padding == "scattered":
        mask = draw(hnp.arrays(bool, (batch_size, timesteps)))
        for i in range(batch_size):
            if mask[i].sum() < min_length:
                mask[i, :min_length] = True
        return mask
    lengths = draw(
        st.lists(st.integers(min_length, timesteps), min_size=batch_size, max_size=batch_size)
    )
    steps = np.arange(timesteps)
    if padding == "pre":
        return steps[None, :] >= (timesteps - np.asarray(lengths))[:, None]
    return steps[None, :] < np.asarray(lengths)[:, None]


@st.composite
def padded_batches(
    draw,
    style: str,
    *,
    features: int = 2,
    vocab_size: int = 12,
    mask_value: float | None = None,
    batch_size: st.SearchStrategy[int] = st.integers(1, 4),
    timesteps: st.SearchStrategy[int] = st.sampled_from(TIMESTEP_BUCKETS),
    paddings: tuple[str, ...] = PADDINGS,
    scattered: bool = True,
    min_length: int = 0,
) -> PaddedBatch:
    """Padded batches in ``style`` (one of :data:`STYLES`).

    Real float timesteps mix ordinary values with the mask value and its float32
    neighbours in some (never all) features, so a ``Masking`` layer that compares
    the wrong way is caught. ``scattered`` lets explicit masks have holes.
    ``mask_value`` fixes the value (it belongs to the model); ``None`` draws one.
    """
    if style not in STYLES:
        raise ValueError(f"unknown masking style {style!r}; choose one of {STYLES}")
    b = draw(batch_size, label="batch_size")
    t = draw(timesteps, label="timesteps")
    options = list(paddings) + (["scattered"] if scattered and style == "explicit" else [])
    padding = draw(st.sampled_from(options), label="padding")
    mask = draw(masks(b, t, padding=padding, min_length=min_length), label="mask")

    if style == "embedding":
        tokens = draw(hnp.arrays(np.int32, (b, t), elements=st.integers(1, vocab_size - 1)))
        return PaddedBatch("embedding", np.where(mask, tokens, 0).astype(np.int32), mask, 0.0, padding)

    if mask_value is None:
        mask_value = draw(mask_values(), label="mask_value")
    mask_value = _float32(mask_value)
    elements = st.one_of(
        st.floats(-2.0, 2.0, width=32, allow_subnormal=False),
        st.sampled_from(near_values(mask_value)),
    )
    values = draw(hnp.arrays(np.float32, (b, t, features), elements=elements), label="values")
    # A real timestep whose every feature equals the mask value would be padding by
    # definition; nudge one feature so that real steps stay real.
    all_equal = np.all(values == np.float32(mask_value), axis=-1)
    values[..., 0] = np.where(all_equal, np.float32(mask_value + 1.0), values[..., 0])
    if style == "masking":
        values = np.where(mask[..., None], values, np.float32(mask_value)).astype(np.float32)
    else:
        padded_content = draw(
            hnp.arrays(np.float32, (b, t, features), elements=st.floats(-3.0, 3.0, width=32, allow_subnormal=False)),
            label="padding_content",
        )
        values = np.where(mask[..., None], values, padded_content).astype(np.float32)
    return PaddedBatch(style, values, mask, mask_value, padding)
