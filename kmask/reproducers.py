"""Standalone reproducers of the compiled-loss family: the loss (or metric) that ``evaluate``,
``fit`` or ``*_on_batch`` report against the masked NumPy loss, spelled out in the script in a
few lines for the one loss the failing example used (:mod:`kmask.report` holds the core).

The per-step formulas below restate :mod:`kmask.loss_reference` for one loss each, so a script
carries only the lines it needs; ``selfchecks/test_reproducers.py`` checks each against it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import report
from .compare import MIXED_FACTOR, policy_loss_tolerance
from .compiled import FIRST_TEST_ON_BATCH_FAILS
from .loss_reference import EPSILON
from .keras_compat import GENERATION

PER_STEP_LOSS = {
    "mean_squared_error": "return np.mean((yp - yt) ** 2, axis=-1)",
    "half_squared_error": "return 0.5 * np.mean((yp - yt) ** 2, axis=-1)",
    "mean_absolute_error": "return np.mean(np.abs(yp - yt), axis=-1)",
    "huber": "err = np.abs(yp - yt)  # delta = 1\n"
             "return np.mean(np.where(err <= 1, 0.5 * err**2, err - 0.5), axis=-1)",
    "log_cosh": "err = yp - yt\nreturn np.mean(err + np.logaddexp(0.0, -2.0 * err) - np.log(2.0), axis=-1)",
    "binary_crossentropy": f"p = np.clip(yp, {EPSILON}, 1 - {EPSILON})\n"
                           "return np.mean(-(yt * np.log(p) + (1 - yt) * np.log(1 - p)), axis=-1)",
    "binary_crossentropy_from_logits":
        "return np.mean(np.maximum(yp, 0) - yp * yt + np.log1p(np.exp(-np.abs(yp))), axis=-1)",
    "categorical_crossentropy": f"p = np.clip(yp / yp.sum(axis=-1, keepdims=True), {EPSILON}, 1 - {EPSILON})\n"
                                "return -np.sum(yt * np.log(p), axis=-1)",
    "categorical_crossentropy_from_logits":
        "z = yp - yp.max(axis=-1, keepdims=True)\n"
        "return -np.sum(yt * (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))), axis=-1)",
    "sparse_categorical_crossentropy":
        f"p = np.clip(yp / yp.sum(axis=-1, keepdims=True), {EPSILON}, 1 - {EPSILON})\n"
        "return -np.log(np.take_along_axis(p, yt.astype(int)[..., None], axis=-1)[..., 0])",
    "kl_divergence": f"t, p = np.clip(yt, {EPSILON}, 1), np.clip(yp, {EPSILON}, 1)\n"
                     "return np.sum(t * np.log(t / p), axis=-1)",
}
"""NumPy source of each loss per timestep, from float64 targets ``yt`` and predictions ``yp``."""

PER_STEP_METRIC = {
    "mae": "return np.mean(np.abs(yp - yt), axis=-1)",
    "mse": "return np.mean((yp - yt) ** 2, axis=-1)",
    "half_squared_error_metric": "return 0.5 * np.mean((yp - yt) ** 2, axis=-1)",
    "binary_accuracy": "return np.mean(yt == (yp > 0.5), axis=-1)",
    "categorical_accuracy": "return (np.argmax(yt, axis=-1) == np.argmax(yp, axis=-1)).astype(np.float64)",
    "sparse_categorical_accuracy": "return (yt.astype(int) == np.argmax(yp, axis=-1)).astype(np.float64)",
}
"""NumPy source of each compiled metric per timestep (``weighted_<name>`` uses ``<name>``)."""

_HALF_SQUARED_ERROR = {
    3: '''
def half_squared_error(y_true, y_pred):
    """A user-defined loss: half the mean squared error per step (keras.ops: any backend)."""
    return 0.5 * keras.ops.mean(keras.ops.square(keras.ops.subtract(y_pred, y_true)), axis=-1)
''',
    2: '''
def half_squared_error(y_true, y_pred):
    """A user-defined loss: half the mean squared error per step."""
    return 0.5 * tf.reduce_mean(tf.square(y_pred - y_true), axis=-1)
''',
}[GENERATION]


def function_source(name: str, body: str, doc: str) -> str:
    lines = body.splitlines()
    return "\n".join([f"def {name}(yt, yp):", f'    """{doc}"""', *("    " + line for line in lines)])


def keras_loss_source(loss: str) -> str:
    """The ``loss=`` argument of ``compile`` for ``loss``, as source."""
    if loss == "half_squared_error":
        return "half_squared_error"
    if loss.endswith("_from_logits"):
        cls = {"binary_crossentropy": "BinaryCrossentropy", "categorical_crossentropy": "CategoricalCrossentropy"}
        return f"keras.losses.{cls[loss[: -len('_from_logits')]]}(from_logits=True)"
    return repr(loss)


def metric_source(name: str) -> str:
    """The entry of ``metrics=``/``weighted_metrics=`` that Keras logs as ``name``."""
    base = name.removeprefix("weighted_")
    if base == "half_squared_error_metric":
        return "keras.metrics.MeanMetricWrapper(half_squared_error, name='half_squared_error_metric')"
    return repr(base)


def reported_source(method: str) -> list[str]:
    """Lines that set ``logs`` to what ``method`` reports for X, Y, SAMPLE_WEIGHT."""
    if method == "evaluate":
        return ["logs = model.evaluate(X, Y, sample_weight=SAMPLE_WEIGHT, batch_size=BATCH_SIZE, "
                "verbose=0, return_dict=True)"]
    if method == "fit":  # learning rate 0: every batch sees the same weights
        return ["history = model.fit(X, Y, sample_weight=SAMPLE_WEIGHT, batch_size=BATCH_SIZE, epochs=1, "
                "shuffle=False, verbose=0)",
                "logs = {name: values[-1] for name, values in history.history.items()}"]
    lines = []
    if method == "test_on_batch" and FIRST_TEST_ON_BATCH_FAILS.active:
        lines.append("model.evaluate(X, Y, sample_weight=SAMPLE_WEIGHT, verbose=0)  # a fresh model's first "
                     "test_on_batch raises StopIteration on Keras 3.0-3.6")
    return lines + [f"logs = model.{method}(X, Y, sample_weight=SAMPLE_WEIGHT, return_dict=True)"]


_MASKED_LOSS = '''
def masked_loss(y_true, y_pred):
    """Per batch sum(mask * weight * loss) / sum(mask) (0 without real steps), then the mean of
    the batch losses weighted by batch size."""
    batch_losses, sizes = [], []
    for start in range(0, len(y_true), BATCH_SIZE):
        rows = slice(start, start + BATCH_SIZE)
        mask = MASK[rows]
        weight = step_weight(rows)
        loss = per_step_loss(y_true[rows].astype(np.float64), y_pred[rows].astype(np.float64))
        real_loss = np.where(mask, loss, 0.0)  # padded steps left out, not multiplied by 0
        batch_losses.append(np.sum(weight * real_loss) / np.sum(mask) if mask.any() else 0.0)
        sizes.append(len(mask))
    return float(np.average(batch_losses, weights=sizes))
'''

_MASKED_METRIC = '''
def masked_metric(y_true, y_pred, weighted):
    """sum(mask * weight * value) / sum(mask * weight) over all rows at once (0 if empty)."""
    weight = step_weight(slice(None)) if weighted else MASK.astype(np.float64)
    values = np.where(MASK, per_step_metric(y_true.astype(np.float64), y_pred.astype(np.float64)), 0.0)
    return float(np.sum(weight * values) / np.sum(weight)) if np.sum(weight) else 0.0
'''

_STEP_WEIGHT = '''
def step_weight(rows):
    """The weight of every step of ``rows``: mask x sample weight (per sample or per timestep)."""
    mask = MASK[rows].astype(np.float64)
    if SAMPLE_WEIGHT is None:
        return mask
    weight = SAMPLE_WEIGHT[rows].astype(np.float64)
    return mask * (weight[:, None] if weight.ndim == 1 else weight)
'''


def _case_source(case, metrics: list[str], targets_name: str = "Y") -> list[str]:
    """The model, the data literals and the compile call of a loss case."""
    fixed = case.spec.needs_fixed_timesteps
    parts = ["layers = keras.layers"]
    if case.loss == "half_squared_error" or "half_squared_error_metric" in metrics:
        parts.append(_HALF_SQUARED_ERROR.strip())
    parts.append(report.model_source(dataclasses.replace(case.spec, weight_seed=case.seed), case.api))
    parts.append("\n".join([
        f"X = {report.literal(case.values)}",
        f"{targets_name} = {report.literal(case.targets)}",
        f"MASK = {report.literal(case.mask)}  # True at real timesteps (what "
        f"{'Masking' if case.spec.style == 'masking' else 'Embedding(mask_zero=True)'} masks)",
        f"SAMPLE_WEIGHT = {report.literal(case.sample_weight)}",
        f"BATCH_SIZE = {case.batch_size}",
    ]))
    plain = [m for m in metrics if not m.startswith("weighted_")]
    weighted = [m for m in metrics if m.startswith("weighted_")]
    options = "".join([
        f", metrics=[{', '.join(map(metric_source, plain))}]" if plain else "",
        f", weighted_metrics=[{', '.join(map(metric_source, weighted))}]" if weighted else "",
    ])
    parts.append("\n".join([
        "def compiled_model():",
        *([f"    keras.mixed_precision.set_global_policy({case.policy!r})  # 16-bit compute, float32 variables; "
           "the head keeps dtype='float32'"] if case.policy != "float32" else []),
        f"    model = make_model({'X.shape[1]' if fixed else ''})",
        f"    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss={keras_loss_source(case.loss)}"
        f"{options},",
        f"                  run_eagerly={case.execution == 'eager'}, jit_compile={case.execution == 'jit'})",
        "    return model",
    ]))
    return parts


def _where(case) -> str:
    return f"{case.method}() ({case.execution}) of a {case.api} model"


def _reference_against_reported(case, reference: str, reported: str) -> str:
    """``both_sides()``: ``reference`` computed in NumPy from the model's eager predictions
    ``y_pred``, against ``reported`` from the logs ``case.method`` reports."""
    return "\n".join([
        "def both_sides():",
        "    model = compiled_model()",
        "    y_pred = to_numpy(model(X, training=False))  # eager predictions for the NumPy side",
        *("    " + line for line in reported_source(case.method)),
        f"    return {reference}, {reported}",
    ])


def loss_reproducer(case) -> report.Reproducer:
    """The script of :func:`kmask.loss_checks.check_loss` on ``case``."""
    title = f"{case.method}() reports a '{case.loss}' loss that is not the masked loss ({case.execution}, {case.api})"
    expected = (f"the '{case.loss}' loss reported by {_where(case)} equals, per batch, "
                "sum(mask * weight * loss) / sum(mask) over real timesteps, averaged over batches by batch size")
    parts = _case_source(case, [])
    parts += [function_source("per_step_loss", PER_STEP_LOSS[case.loss], f"'{case.loss}' at every timestep."),
              _STEP_WEIGHT.strip(), _MASKED_LOSS.strip()]
    parts.append(_reference_against_reported(case, "masked_loss(Y, y_pred)", "logs['loss']"))
    return _reproducer(title, expected, case, parts)


def metric_reproducer(case, name: str) -> report.Reproducer:
    """The script of the metric property on ``case`` for the metric Keras logs as ``name``."""
    weighted = name.startswith("weighted_") and case.sample_weight is not None
    title = f"{case.method}() reports metric '{name}' that is not its mean over real timesteps ({case.execution})"
    expected = (f"metric '{name}' reported by {_where(case)} equals sum(mask * {'weight * ' if weighted else ''}"
                f"value) / sum(mask{' * weight' if weighted else ''}) over all real timesteps")
    parts = _case_source(case, [name])
    parts += [function_source("per_step_metric", PER_STEP_METRIC[name.removeprefix("weighted_")],
                              f"'{name}' at every timestep."),
              _STEP_WEIGHT.strip(), _MASKED_METRIC.strip()]
    base = name.removeprefix("weighted_")  # the script compiles only this metric: no name clash
    reported = f"logs[{name!r}]" if base == name else f"logs.get({name!r}, logs.get({base!r}))"
    parts.append(_reference_against_reported(case, f"masked_metric(Y, y_pred, weighted={weighted})", reported))
    return _reproducer(title, expected, case, parts)


def padded_targets_reproducer(case, other_targets: np.ndarray) -> report.Reproducer:
    """The script of :func:`kmask.loss_checks.check_padded_targets_ignored`."""
    title = f"Targets at padded timesteps change the '{case.loss}' loss {case.method}() reports"
    expected = (f"the '{case.loss}' loss reported by {_where(case)} stays the same when only the targets at "
                "padded timesteps change (Y_OTHER)")
    parts = _case_source(case, [])
    parts.append(f"Y_OTHER = {report.literal(other_targets)}  # Y with other values at padded steps only")
    parts.append("\n".join([
        "def both_sides():",
        "    model = compiled_model()",
        *("    " + line for line in reported_source(case.method)),
        "    first = logs['loss']",
        *("    " + line.replace("(X, Y,", "(X, Y_OTHER,") for line in reported_source(case.method)),
        "    return first, logs['loss']",
    ]))
    return _reproducer(title, expected, case, parts)


def _reproducer(title: str, expected: str, case, parts: list[str]) -> report.Reproducer:
    policy = case.policy
    tol = policy_loss_tolerance(case.spec, case.values.shape[1], policy)
    note = ("float32 tolerance of a loss (kmask/compare.py: loss_tolerance)" if policy == "float32" else
            f"float32 tolerance of a loss plus {4 * MIXED_FACTOR} x eps of {policy} x depth (kmask/compare.py: "
            "policy_loss_tolerance)")
    source = report.script_source(title, expected, tol, "\n\n\n".join(parts), note)
    return report.Reproducer(title, expected, source)


_TWO_OUTPUT_MODEL = '''
def make_model():
    """Masking -> Dense "first" on the features, Embedding(mask_zero=True) -> Dense "second" on the tokens."""
    features = keras.Input((None, 2), name="features")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    first = layers.Dense(3, name="first")(layers.Masking(MASK_VALUE)(features))
    embedded = layers.Embedding(12, 2, mask_zero=True)(tokens)
    second = layers.Dense(3, name="second")(embedded)
    model = keras.Model([features, tokens], [first, second])
    rng = np.random.default_rng(SEED)
    model.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype("float32") for w in model.get_weights()])
    return model
'''


def two_output_reproducer(losses, execution: str, mask_value: float, seed: int, inputs, ys, masks,
                          tol: float, per_output: bool) -> report.Reproducer:
    """The script of the multi-output property: each output's loss (where Keras reports one) and
    the total against the masked loss computed with that output's own mask."""
    title = f"A two-output model's evaluate() does not mask each output's loss with its own mask ({execution})"
    expected = ("each output's loss (first: Masking mask, second: Embedding mask) equals "
                "sum(mask * loss) / sum(mask) with that output's own mask, and the total loss is their sum")
    data = "\n".join([
        f"MASK_VALUE = {mask_value!r}\nSEED = {seed}",
        f"FEATURES = {report.literal(inputs[0])}",
        f"TOKENS = {report.literal(inputs[1])}",
        *(f"Y_{name.upper()} = {report.literal(y)}" for name, y in zip(("first", "second"), ys)),
        *(f"MASK_{name.upper()} = {report.literal(m)}  # its real steps" for name, m in zip(("first", "second"), masks)),
    ])
    functions = [function_source(f"per_step_{name}", PER_STEP_LOSS[loss], f"'{loss}' at every timestep.")
                 for name, loss in zip(("first", "second"), losses)]
    reported = ("[logs['first_loss'], logs['second_loss'], logs['loss']]" if per_output
                else "[logs['loss']]  # this Keras reports the total only")
    expected_values = "[first, second, first + second]" if per_output else "[first + second]"
    sides = "\n".join([
        "def masked(per_step, y, y_pred, mask):",
        '    """sum(mask * loss) / sum(mask) (0 without real steps)."""',
        "    loss = np.where(mask, per_step(y.astype(np.float64), y_pred.astype(np.float64)), 0.0)",
        "    return float(np.sum(loss) / np.sum(mask)) if mask.any() else 0.0",
        "",
        "",
        "def both_sides():",
        "    model = make_model()",
        "    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),",
        f"                  loss={{'first': {keras_loss_source(losses[0])}, 'second': {keras_loss_source(losses[1])}}},",
        f"                  run_eagerly={execution == 'eager'}, jit_compile={execution == 'jit'})",
        "    inputs = [FEATURES, TOKENS]",
        "    pred_first, pred_second = [to_numpy(p) for p in model(inputs, training=False)]",
        "    logs = model.evaluate(inputs, [Y_FIRST, Y_SECOND], batch_size=len(FEATURES), verbose=0, return_dict=True)",
        "    first = masked(per_step_first, Y_FIRST, pred_first, MASK_FIRST)",
        "    second = masked(per_step_second, Y_SECOND, pred_second, MASK_SECOND)",
        f"    return {expected_values}, {reported}",
    ])
    parts = ["layers = keras.layers"]
    if "half_squared_error" in losses:
        parts.append(_HALF_SQUARED_ERROR.strip())
    parts += [data, _TWO_OUTPUT_MODEL.strip(), *functions, sides]
    source = report.script_source(title, expected, tol, "\n\n\n".join(parts),
                                  "float32 tolerance of a loss (kmask/compare.py: loss_tolerance)")
    return report.Reproducer(title, expected, source)
