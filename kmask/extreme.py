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
from .keras_compat import GENERATION, keras, layers, tf
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


def _pooling_probe(spec: StackSpec):
    """A model with the Functional model of ``spec``'s inputs and, as outputs, what its (first)
    GlobalAveragePooling1D reads and what it returns."""
    model = model_for(spec, "functional")
    pooling = next(layer for layer in model.layers if isinstance(layer, layers.GlobalAveragePooling1D))
    pooled_input = pooling.input  # Keras 3 lists the mask it was called with after the tensor
    if isinstance(pooled_input, (list, tuple)):
        pooled_input = pooled_input[0]
    return keras.Model(model.inputs, [pooled_input, pooling.output])


def check_pooling_gives_masked_mean(spec: StackSpec, batch) -> None:
    """The GlobalAveragePooling1D of ``spec`` gives, for every row of ``batch``, the mean of its
    input over the row's real steps (last first after a ``go_backwards`` RNN returning sequences),
    and zeros for a row without any."""
    probe = CACHE.get(("pooling probe", spec), lambda: _pooling_probe(spec))
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
    out = probe(X, training=False) if EXPLICIT_MASK is None else probe(X, mask=tf.constant(EXPLICIT_MASK), training=False)
    values, pooled = [np.asarray(o) for o in out]
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


def cross_attention(layer, query, value, query_mask, value_mask) -> np.ndarray:
    """``layer`` called eagerly with ``query`` attending to ``value``, both masks given the way
    the installed Keras reads them (Keras 2's MultiHeadAttention reads masks attached to its
    inputs)."""
    q, v = tf.constant(query), tf.constant(value)
    qm, vm = tf.constant(query_mask), tf.constant(value_mask)
    if isinstance(layer, layers.MultiHeadAttention):
        if GENERATION == 3:
            return np.asarray(layer(q, v, query_mask=qm, value_mask=vm))
        q, v = tf.identity(q), tf.identity(v)
        q._keras_mask, v._keras_mask = qm, vm
        return np.asarray(layer(q, v))
    return as_list(layer([q, v], mask=[qm, vm]))[0]


def empty_attention(layer, features: int) -> np.ndarray:
    """What a query with no real key must get from ``layer``: zeros, after MultiHeadAttention's
    output projection (its bias)."""
    if isinstance(layer, layers.MultiHeadAttention):
        return np.asarray(layer._output_dense.bias, np.float64)
    return np.zeros(features)


def attention_spec(kind: str) -> LayerSpec:
    """The layer :func:`attention_layer` builds, for messages."""
    return LayerSpec.make(kind, num_heads=2, key_dim=2) if kind == "MultiHeadAttention" else LayerSpec.make(kind)


def check_attention_reads_only_real_keys(layer, kind, query, value, value_mask, other_content) -> None:
    """Every query of ``layer`` gets the same output whatever the padded keys hold (``value``
    vs ``value`` with ``other_content`` at padded steps), and a query of a row without any real
    key gets :func:`empty_attention`."""
    other = np.where(value_mask[..., None], value, other_content).astype(np.float32)
    features = query.shape[-1]
    query_mask = np.ones(query.shape[:2], bool)
    original = cross_attention(layer, query, value, query_mask, value_mask)
    changed = cross_attention(layer, query, other, query_mask, value_mask)
    tol = tolerance(3, value.shape[1])  # three projections and a softmax-weighted sum
    where = f"{attention_spec(kind)} over {value.shape[1]} keys; real keys per row {value_mask.sum(axis=1).tolist()}"
    with report.reproduced_by("attention_keys",
                              lambda: attention_script(kind, query, value, value_mask, other, tol)):
        assert_close(changed, original, tol, f"{where}: original vs other padded keys")
        empty = ~value_mask.any(axis=1)
        expected = np.broadcast_to(empty_attention(layer, features), original[empty].shape)
        assert_close(original[empty], expected, tol, f"{where}: a query without any real key vs empty attention")


_ATTEND = {
    "MultiHeadAttention": {
        3: "    return np.asarray(layer(q, v, query_mask=qm, value_mask=vm))",
        2: "    q, v = tf.identity(q), tf.identity(v)\n"
           "    q._keras_mask, v._keras_mask = qm, vm  # Keras 2's MultiHeadAttention reads attached masks\n"
           "    return np.asarray(layer(q, v))",
    },
    "score": "    out = layer([q, v], mask=[qm, vm])\n"
             "    return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)",
}

_ATTENTION_SIDES = '''
def make_layer():
    layer = LAYER()
    probe = np.zeros((1, 2, QUERY.shape[-1]), "float32")
    attend(layer, probe, probe, np.ones((1, 2), bool))  # build it
    rng = np.random.default_rng(0)
    layer.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def both_sides():
    """Every query's output with other content at padded keys, and the output of a query
    without any real key (actual), against the original output and the empty attention:
    zeros, after MultiHeadAttention's output projection its bias (expected)."""
    layer = make_layer()
    original = attend(layer, QUERY, VALUE, VALUE_MASK)
    changed = attend(layer, QUERY, OTHER, VALUE_MASK)
    empty = ~VALUE_MASK.any(axis=1)
    nothing = layer.get_weights()[-1] if MULTI_HEAD else np.zeros(QUERY.shape[-1])
    expected = np.concatenate([original.ravel(), np.broadcast_to(nothing, original[empty].shape).ravel()])
    return expected, np.concatenate([changed.ravel(), original[empty].ravel()])
'''


def attention_script(kind: str, query, value, value_mask, other, tol: float) -> report.Reproducer:
    """The standalone script of :func:`check_attention_reads_only_real_keys`."""
    title = f"{attention_spec(kind)} reads padded keys"
    expected = ("a query's attention output does not depend on what padded keys hold, and a query without "
                "any real key gets the empty attention (zeros; MultiHeadAttention's output bias)")
    attend = _ATTEND["MultiHeadAttention"][GENERATION] if kind == "MultiHeadAttention" else _ATTEND["score"]
    body = "\n\n\n".join([
        "layers = keras.layers",
        f"def LAYER():\n    return layers.{attention_spec(kind).source('')}\n\n\nMULTI_HEAD = {kind == 'MultiHeadAttention'}",
        "def attend(layer, query, value, value_mask):\n"
        "    q, v = tf.constant(query), tf.constant(value)\n"
        "    qm, vm = tf.constant(np.ones(query.shape[:2], bool)), tf.constant(value_mask)  # every query is real\n"
        + attend,
        f"QUERY = {report.literal(query)}\nVALUE = {report.literal(value)}\n"
        f"VALUE_MASK = {report.literal(value_mask)}  # the real keys\n"
        f"OTHER = {report.literal(other)}  # VALUE with other content at padded keys",
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
