"""Extreme padding: rows without any real step, queries without any real key, and padded steps
holding NaN, infinities or huge values.

The values a masked model should give there, as NumPy references or relations, and the calls
that reach them (pooling inside a drawn stack, attention over a drawn value batch).

**The rule.** A mean over no real step is 0, as Keras 3's masked loss defines it
(``divide_no_nan``): ``GlobalAveragePooling1D`` pools a row without any real step to zeros.
Attention over no real key is a weighted sum over nothing, 0: a query whose every key is
padded gets, from ``Attention`` and ``AdditiveAttention``, zeros, and from
``MultiHeadAttention`` its output projection of zeros, the output bias. Neither depends on
what the padded steps hold, and neither is NaN.

**Extreme padding content.** With an explicit mask, NaN, +-inf and huge finite values (up to
3e38) at padded steps change no real output and no final output, in every layer kind: a
masked layer selects real steps (``where``) rather than multiplying padded ones by 0 (NaN * 0 is
NaN) or adding a large negative number to their scores (a score of 1e30 stays on top).
"""

from __future__ import annotations

import numpy as np

from strategies import LayerSpec, StackSpec

from . import report
from .build import CACHE, model_for, uniform_weights
from .checks import assert_same_real_outputs
from .compare import assert_close, tolerance
from .divergences import BY_ID, active_matches
from .keras_compat import GENERATION, keras, layers, tensor, tf, to_numpy
from .oracle import real_outputs
from .run import as_list, call_eagerly

ATTENTIONS = ("MultiHeadAttention", "Attention", "AdditiveAttention")
"""Attention layers checked on a query whose every key is padded."""


def masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of ``values`` (batch, timesteps, features) over the real steps of each row, in
    float64; zeros for a row without any real step."""
    real = mask[..., None]
    total = np.where(real, values, 0).astype(np.float64).sum(axis=1)
    count = real.sum(axis=1).astype(np.float64)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def fewest_real_steps(divergence_id: str) -> int:
    """The fewest real steps a drawn row may have: 1 where the divergence ``divergence_id`` (a
    row or query without any real step goes wrong) is active on the installed Keras, else 0.
    Its witness replays what Keras does there."""
    return 1 if BY_ID[divergence_id].active else 0


# --------------------------------------------------------------------------- pooling


def _pooling_probe(spec: StackSpec, timesteps: int):
    """A model with the Functional model of ``spec``'s inputs (for ``timesteps`` if its RNNs are
    unrolled) and, as outputs, what its (first) GlobalAveragePooling1D reads and what it returns."""
    model = model_for(spec, "functional", timesteps)
    pooling = next(layer for layer in model.layers if isinstance(layer, layers.GlobalAveragePooling1D))
    pooled_input = pooling.input  # Keras 3 lists the mask it was called with after the tensor
    if isinstance(pooled_input, (list, tuple)):
        pooled_input = pooled_input[0]
    return keras.Model(model.inputs, [pooled_input, pooling.output])


def check_pooling_gives_masked_mean(spec: StackSpec, batch) -> None:
    """The GlobalAveragePooling1D of ``spec`` gives, for every row of ``batch``, the mean of its
    input over the row's real steps (last first after a ``go_backwards`` RNN returning sequences),
    and zeros for a row without any."""
    timesteps = spec.build_timesteps(batch.timesteps)
    probe = CACHE.get(("pooling probe", spec, timesteps), lambda: _pooling_probe(spec, timesteps))
    with report.reproduced_by("pooling_mean", lambda: pooling_script(spec, batch)):
        pooled_input, pooled = call_eagerly(probe, batch)
        assert_close(
            pooled, masked_mean(pooled_input, real_outputs(spec, batch)), tolerance(spec.depth, batch.timesteps),
            f"GlobalAveragePooling1D vs the mean over real steps (zeros for a row without any; "
            f"{int((batch.lengths == 0).sum())} such rows of {batch.batch_size}); model {spec}",
        )


_POOLING_SIDES = '''
def both_sides():
    """What GlobalAveragePooling1D returns (actual) against the mean of what it reads over each
    row's real steps, zeros for a row without any (expected)."""
    model = make_model(X.shape[1] if FIXED_TIMESTEPS else None)
    pooling = next(l for l in model.layers if isinstance(l, layers.GlobalAveragePooling1D))
    pooled_input = pooling.input[0] if isinstance(pooling.input, (list, tuple)) else pooling.input
    probe = keras.Model(model.inputs, [pooled_input, pooling.output])
    out = probe(X, training=False) if EXPLICIT_MASK is None else probe(X, mask=tensor(EXPLICIT_MASK), training=False)
    values, pooled = [to_numpy(o) for o in out]
    real = MASK[..., None]
    total = np.where(real, values, 0).astype(np.float64).sum(axis=1)
    count = real.sum(axis=1).astype(np.float64)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0), pooled
'''


def pooling_script(spec: StackSpec, batch) -> report.Reproducer:
    """The standalone script of :func:`check_pooling_gives_masked_mean` on ``batch``."""
    title = f"GlobalAveragePooling1D does not give the mean over real steps: {spec}"
    expected = ("GlobalAveragePooling1D gives each row's mean over its real steps, and zeros for a row "
                "without any")
    body = "\n\n\n".join([
        "layers = keras.layers",
        report.model_source(spec, "functional"),
        f"X = {report.literal(batch.values)}\nMASK = {report.literal(real_outputs(spec, batch))}  # the real steps "
        "of what GlobalAveragePooling1D reads (reversed after go_backwards)\n"
        f"EXPLICIT_MASK = {report.literal(batch.mask) if batch.style == 'explicit' else 'None'}  # passed as mask=\n"
        f"FIXED_TIMESTEPS = {spec.needs_fixed_timesteps}",
        _POOLING_SIDES.strip(),
    ])
    source = report.script_source(title, expected, tolerance(spec.depth, batch.timesteps), body,
                                  "float32 reordering tolerance (kmask/compare.py)")
    return report.Reproducer(title, expected, source)


# --------------------------------------------------------------------------- attention


def attention_layer(kind: str, features: int, seed: int = 0):
    """A built ``kind`` attention layer for queries and values of ``features`` features, its
    weights (biases included) drawn uniformly from ``seed`` like every model's."""
    if kind == "MultiHeadAttention":
        layer = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    else:
        layer = getattr(layers, kind)()
    probe = np.zeros((1, 2, features), np.float32)
    cross_attention(layer, probe, probe, np.ones((1, 2), bool), np.ones((1, 2), bool))
    layer.set_weights(uniform_weights(seed, [w.shape for w in layer.get_weights()]))
    return layer


def cross_attention(layer, query, value, query_mask, value_mask, causal: bool = False) -> np.ndarray:
    """``layer`` called eagerly with ``query`` attending to ``value`` (with ``use_causal_mask``
    when ``causal``), both masks given the way the installed Keras reads them (Keras 2's
    MultiHeadAttention reads masks attached to its inputs)."""
    q, v = tensor(query), tensor(value)
    qm, vm = tensor(query_mask), tensor(value_mask)
    if isinstance(layer, layers.MultiHeadAttention):
        if GENERATION == 3:
            return to_numpy(layer(q, v, query_mask=qm, value_mask=vm, use_causal_mask=causal))
        q, v = tf.identity(q), tf.identity(v)
        q._keras_mask, v._keras_mask = qm, vm
        return to_numpy(layer(q, v, use_causal_mask=causal))
    return as_list(layer([q, v], mask=[qm, vm], use_causal_mask=causal))[0]


def visible_real_keys(value_mask: np.ndarray, query_steps: int, causal: bool) -> np.ndarray:
    """``(batch, query_steps)``: whether each query sees at least one real key (with a causal
    mask, query ``i`` sees keys ``0..i``)."""
    if not causal:
        return np.repeat(value_mask.any(axis=1)[:, None], query_steps, axis=1)
    seen = np.logical_or.accumulate(value_mask, axis=1)
    steps = np.minimum(np.arange(query_steps), value_mask.shape[1] - 1)
    return seen[:, steps]


def empty_attention(layer, features: int) -> np.ndarray:
    """What a query with no real key must get from ``layer``: zeros, after MultiHeadAttention's
    output projection (its bias)."""
    if isinstance(layer, layers.MultiHeadAttention):
        return to_numpy(layer._output_dense.bias).astype(np.float64)
    return np.zeros(features)


def attention_spec(kind: str) -> LayerSpec:
    """The layer :func:`attention_layer` builds, for messages."""
    return LayerSpec.make(kind, num_heads=2, key_dim=2) if kind == "MultiHeadAttention" else LayerSpec.make(kind)


def check_attention_reads_only_real_keys(layer, kind, query, value, value_mask, other_content,
                                         causal: bool = False, self_attention: bool = False) -> None:
    """Every real query of ``layer`` gets the same output whatever the padded keys hold (``value``
    vs ``value`` with ``other_content`` at padded steps), and a real query that sees no real key
    gets :func:`empty_attention`. With ``self_attention`` the query is the value (its padded steps
    are padded queries); with ``causal``, query ``i`` sees keys ``0..i``."""
    other = np.where(value_mask[..., None], value, other_content).astype(np.float32)
    features = query.shape[-1]
    query_mask = value_mask if self_attention else np.ones(query.shape[:2], bool)
    original = cross_attention(layer, value if self_attention else query, value, query_mask, value_mask, causal)
    changed = cross_attention(layer, other if self_attention else query, other, query_mask, value_mask, causal)
    tol = tolerance(3, value.shape[1])  # three projections and a softmax-weighted sum
    where = (f"{attention_title(kind, causal, self_attention)} over {value.shape[1]} keys; "
             f"real keys per row {value_mask.sum(axis=1).tolist()}")
    seen = visible_real_keys(value_mask, query.shape[1], causal)
    cut = causal_cut(query.shape[1])
    future = with_future_keys(value, other_content, cut) if causal else None
    with report.reproduced_by("attention_keys", lambda: attention_script(
            kind, query, value, value_mask, other, tol, self_attention, future)):
        assert_close(changed[query_mask], original[query_mask], tol,
                     f"{where}: original vs other padded keys, at real queries")
        empty = query_mask & ~seen
        expected = np.broadcast_to(empty_attention(layer, features), original[empty].shape)
        assert_close(original[empty], expected, tol, f"{where}: a query without any real key vs empty attention")
        if causal:
            later = cross_attention(layer, future if self_attention else query, future, query_mask, value_mask, causal)
            early = query_mask[:, :cut]
            assert_close(later[:, :cut][early], original[:, :cut][early], tol,
                         f"{where}: queries before step {cut} vs the same with other keys from step {cut} on")


def attention_title(kind: str, causal: bool, self_attention: bool) -> str:
    """The layer :func:`attention_layer` builds and how it is called, for messages."""
    how = ", ".join(n for n, on in (("self-attention", self_attention), ("causal", causal)) if on)
    return f"{attention_spec(kind)}{f' ({how})' if how else ''}"


def causal_cut(query_steps: int) -> int:
    """The step from which a causal check changes every key: queries before it must not move."""
    return max(1, query_steps // 2)


def with_future_keys(value: np.ndarray, other_content: np.ndarray, cut: int) -> np.ndarray:
    """``value`` with ``other_content`` at every step from ``cut`` on, real or padded."""
    future = value.copy()
    future[:, cut:] = other_content[:, cut:]
    return future


_ATTEND = {
    "MultiHeadAttention": {
        3: "    return to_numpy(layer(q, v, query_mask=qm, value_mask=vm, use_causal_mask=CAUSAL))",
        2: "    q, v = tf.identity(q), tf.identity(v)\n"
           "    q._keras_mask, v._keras_mask = qm, vm  # Keras 2's MultiHeadAttention reads attached masks\n"
           "    return np.asarray(layer(q, v, use_causal_mask=CAUSAL))",
    },
    "score": "    out = layer([q, v], mask=[qm, vm], use_causal_mask=CAUSAL)\n"
             "    return to_numpy(out[0] if isinstance(out, (list, tuple)) else out)",
}

_ATTENTION_SIDES = '''
def make_layer():
    layer = LAYER()
    probe = np.zeros((1, 2, QUERY.shape[-1]), "float32")
    attend(layer, probe, probe, np.ones((1, 2), bool), np.ones((1, 2), bool))  # build it
    rng = np.random.default_rng(0)
    layer.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def sees_real_key():
    """Whether each query sees a real key (with CAUSAL, query i sees keys 0..i)."""
    steps = QUERY.shape[1]
    if not CAUSAL:
        return np.repeat(VALUE_MASK.any(axis=1)[:, None], steps, axis=1)
    seen = np.logical_or.accumulate(VALUE_MASK, axis=1)
    return seen[:, np.minimum(np.arange(steps), VALUE_MASK.shape[1] - 1)]


def both_sides():
    """Every real query's output with other content at padded keys, and the output of a real
    query that sees no real key (actual), against the original output and the empty attention:
    zeros, after MultiHeadAttention's output projection its bias (expected)."""
    layer = make_layer()
    query_mask = VALUE_MASK if SELF_ATTENTION else np.ones(QUERY.shape[:2], bool)
    original = attend(layer, VALUE if SELF_ATTENTION else QUERY, VALUE, query_mask, VALUE_MASK)
    changed = attend(layer, OTHER if SELF_ATTENTION else QUERY, OTHER, query_mask, VALUE_MASK)
    empty = query_mask & ~sees_real_key()
    nothing = layer.get_weights()[-1] if MULTI_HEAD else np.zeros(QUERY.shape[-1])
    expected = [original[query_mask].ravel(), np.broadcast_to(nothing, original[empty].shape).ravel()]
    actual = [changed[query_mask].ravel(), original[empty].ravel()]
    if CAUSAL:  # queries before CUT must not move when every key from CUT on changes
        later = attend(layer, FUTURE if SELF_ATTENTION else QUERY, FUTURE, query_mask, VALUE_MASK)
        early = query_mask[:, :CUT]
        expected.append(original[:, :CUT][early].ravel())
        actual.append(later[:, :CUT][early].ravel())
    return np.concatenate(expected), np.concatenate(actual)
'''


def attention_script(kind: str, query, value, value_mask, other, tol: float,
                     self_attention: bool = False, future=None) -> report.Reproducer:
    """The standalone script of :func:`check_attention_reads_only_real_keys`; ``future`` (causal
    runs only) is ``value`` with other content at every step from the causal cut on."""
    causal = future is not None
    title = f"{attention_title(kind, causal, self_attention)} reads padded keys"
    expected = ("a real query's attention output does not depend on what padded keys hold, and a real "
                "query that sees no real key gets the empty attention (zeros; MultiHeadAttention's "
                "output bias)")
    attend = _ATTEND["MultiHeadAttention"][GENERATION] if kind == "MultiHeadAttention" else _ATTEND["score"]
    body = "\n\n\n".join([
        "layers = keras.layers",
        f"def LAYER():\n    return layers.{attention_spec(kind).source('')}\n\n\nMULTI_HEAD = {kind == 'MultiHeadAttention'}",
        "def attend(layer, query, value, query_mask, value_mask):\n"
        "    q, v = tensor(query), tensor(value)\n"
        "    qm, vm = tensor(query_mask), tensor(value_mask)\n"
        + attend,
        f"QUERY = {report.literal(query)}\nVALUE = {report.literal(value)}\n"
        f"VALUE_MASK = {report.literal(value_mask)}  # the real keys\n"
        f"OTHER = {report.literal(other)}  # VALUE with other content at padded keys\n"
        f"CAUSAL = {causal}  # use_causal_mask: query i sees keys 0..i\n"
        f"SELF_ATTENTION = {self_attention}  # the query is the value, masked like it\n"
        f"CUT = {causal_cut(query.shape[1])}  # with CAUSAL, other keys from this step on move no earlier query\n"
        f"FUTURE = {report.literal(future if causal else value)}  # VALUE with other keys from CUT on",
        _ATTENTION_SIDES.strip(),
    ])
    source = report.script_source(title, expected, tol, body, "float32 reordering tolerance (kmask/compare.py)")
    return report.Reproducer(title, expected, source)


# --------------------------------------------------------------------------- extreme padding content

EXTREME_CONTENT = {
    family: tuple(float(np.float32(v)) for v in values)
    for family, values in {
        "nan": (np.nan,),
        "inf": (np.inf, -np.inf),
        "huge": (3e38, -3e38, 1e30, -1e30),
    }.items()
}
"""What padded steps may hold beyond ordinary floats, by family: NaN, infinities, and finite
values near the float32 limit (3.4e38) or far beyond any activation's range."""


def content_families(spec: StackSpec) -> tuple[str, ...]:
    """The families of :data:`EXTREME_CONTENT` a property may write into ``spec``'s padded steps:
    every family but those with which ``spec`` hits a divergence active on the installed Keras
    (the ``how`` of such a record is ``"padding content <family>"``)."""
    return tuple(f for f in EXTREME_CONTENT if not active_matches(spec, f"padding content {f}"))


def check_extreme_content_ignored(spec: StackSpec, api: str, batch, content: np.ndarray) -> None:
    """With an explicit mask, writing ``content`` (NaN, infinities, huge values among ordinary
    ones) into the padded steps of ``batch`` changes no real output and no final output."""
    other = batch.with_padding_content(content)
    families = [f for f, present in _families_in(content[~batch.mask]).items() if present]
    with report.reproduced_by("extreme_padding", lambda: extreme_content_script(spec, api, batch, other, families)):
        outputs = call_eagerly(model_for(spec, api, batch.timesteps), batch.stacked(other))
        n = batch.batch_size
        assert_same_real_outputs(
            spec, batch, [o[:n] for o in outputs], range(n), batch, [o[n:] for o in outputs], range(n),
            f"ordinary vs extreme padding content ({', '.join(families) or 'none drawn'})",
        )


def extreme_content_script(spec: StackSpec, api: str, batch, other, families) -> report.Reproducer:
    """The standalone script of :func:`check_extreme_content_ignored`: ``batch`` against ``other``."""
    rows = range(batch.batch_size)
    return report.script(
        f"{'/'.join(families) or 'Extreme'} values at padded steps change a {api} model's real outputs: {spec}",
        "with an explicit mask, the batch with NaN, infinite or huge values at padded steps (run 1) gives the "
        "real outputs and final outputs of the batch with ordinary padding (run 0)",
        {"make_model": (spec, api)},
        [report.run_of("make_model", spec, batch), report.run_of("make_model", spec, other)],
        report.row_comparisons(spec, batch, 1, rows, batch, 0, rows), tolerance(spec.depth, batch.timesteps),
    )


def _families_in(values: np.ndarray) -> dict[str, bool]:
    """Which families of :data:`EXTREME_CONTENT` occur in ``values``."""
    return {
        "nan": bool(np.isnan(values).any()),
        "inf": bool(np.isinf(values).any()),
        "huge": bool((np.isfinite(values) & (np.abs(values) >= 1e30)).any()),
    }
