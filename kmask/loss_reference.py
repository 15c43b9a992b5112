"""NumPy references for compiled losses and metrics on masked sequence outputs.

Nothing here imports Keras: every value is recomputed in float64 from the targets,
the predictions, the true mask and the sample weights. The semantics are those
both Keras generations document and implement for TF 2.12+ (``Loss.__call__``
with ``reduction="sum_over_batch_size"``; ``keras.src.losses.loss.apply_mask`` in
Keras 3, ``losses_utils.apply_valid_mask`` in Keras 2):

* a loss is computed per timestep, reducing the last axis (``per_step_loss``);
* the batch loss is ``sum(mask * weight * loss) / sum(mask)``: padded steps count
  neither in the sum nor in the denominator, and sample weights scale terms but do
  not change the denominator (``masked_batch_loss``);
* the ``loss`` that ``evaluate()``/``fit()`` report over several batches is the mean
  of the batch losses weighted by batch size, not by real steps (``over_batches``);
* a compiled metric accumulates ``sum(mask * weight * value)`` and
  ``sum(mask * weight)`` over all batches and divides at the end (``masked_metric``);
  ``metrics=`` ignore sample weights, ``weighted_metrics=`` use them.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon(): probabilities are clipped to [eps, 1 - eps]

LOSSES = {
    # name: (head activation, target kind)
    "mean_squared_error": (None, "real"),
    "mean_absolute_error": (None, "real"),
    "huber": (None, "real"),
    "log_cosh": (None, "real"),
    "binary_crossentropy": ("sigmoid", "binary"),
    "binary_crossentropy_from_logits": (None, "binary"),
    "categorical_crossentropy": ("softmax", "one_hot"),
    "categorical_crossentropy_from_logits": (None, "one_hot"),
    "sparse_categorical_crossentropy": ("softmax", "sparse"),
    "kl_divergence": ("softmax", "distribution"),
    "half_squared_error": (None, "real"),
}
"""Every loss the properties compile, with the head activation its predictions need
and the kind of targets it takes. ``half_squared_error`` is a user-defined Python
function (``kmask.compiled.half_squared_error``)."""

ACCURACY_FOR_TARGET = {
    "real": None,
    "binary": "binary_accuracy",
    "one_hot": "categorical_accuracy",
    "distribution": "categorical_accuracy",
    "sparse": "sparse_categorical_accuracy",
}


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _clip(p):
    return np.clip(p, EPSILON, 1 - EPSILON)


def per_step_loss(name: str, y_true, y_pred) -> np.ndarray:
    """``(batch, timesteps)`` loss of every timestep."""
    yt, yp = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    err = yp - yt if name not in ("sparse_categorical_crossentropy",) else None
    if name == "mean_squared_error":
        return np.mean(err**2, axis=-1)
    if name == "half_squared_error":
        return 0.5 * np.mean(err**2, axis=-1)
    if name == "mean_absolute_error":
        return np.mean(np.abs(err), axis=-1)
    if name == "huber":  # delta = 1
        quadratic = np.minimum(np.abs(err), 1.0)
        return np.mean(0.5 * quadratic**2 + (np.abs(err) - quadratic), axis=-1)
    if name == "log_cosh":
        return np.mean(err + np.logaddexp(0.0, -2.0 * err) - np.log(2.0), axis=-1)
    if name == "binary_crossentropy":
        p = _clip(yp)
        return np.mean(-(yt * np.log(p) + (1 - yt) * np.log(1 - p)), axis=-1)
    if name == "binary_crossentropy_from_logits":
        return np.mean(np.maximum(yp, 0) - yp * yt + np.log1p(np.exp(-np.abs(yp))), axis=-1)
    if name == "categorical_crossentropy":
        p = _clip(yp / yp.sum(axis=-1, keepdims=True))
        return -np.sum(yt * np.log(p), axis=-1)
    if name == "categorical_crossentropy_from_logits":
        return -np.sum(yt * _log_softmax(yp), axis=-1)
    if name == "sparse_categorical_crossentropy":
        p = _clip(yp / yp.sum(axis=-1, keepdims=True))
        labels = np.asarray(y_true).astype(int)
        return -np.log(np.take_along_axis(p, labels[..., None], axis=-1)[..., 0])
    if name == "kl_divergence":
        t, p = np.clip(yt, EPSILON, 1), np.clip(yp, EPSILON, 1)
        return np.sum(t * np.log(t / p), axis=-1)
    raise ValueError(f"no reference for loss {name!r}; known: {sorted(LOSSES)}")


def per_step_metric(name: str, y_true, y_pred) -> np.ndarray:
    """``(batch, timesteps)`` value of a compiled metric at every timestep."""
    yt, yp = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    name = name.removeprefix("weighted_")
    if name == "mae":
        return np.mean(np.abs(yp - yt), axis=-1)
    if name == "mse":
        return np.mean((yp - yt) ** 2, axis=-1)
    if name == "half_squared_error_metric":
        return 0.5 * np.mean((yp - yt) ** 2, axis=-1)
    if name == "binary_accuracy":
        return np.mean(yt == (yp > 0.5), axis=-1)
    if name == "categorical_accuracy":
        return (np.argmax(yt, axis=-1) == np.argmax(yp, axis=-1)).astype(np.float64)
    if name == "sparse_categorical_accuracy":
        return (yt.astype(int) == np.argmax(yp, axis=-1)).astype(np.float64)
    raise ValueError(f"no reference for metric {name!r}")


def step_weights(mask, sample_weight) -> np.ndarray:
    """``(batch, timesteps)`` weight of every step: the mask times the sample weight (per
    sample or per timestep), or the mask alone."""
    mask = np.asarray(mask, np.float64)
    if sample_weight is None:
        return mask
    w = np.asarray(sample_weight, np.float64)
    return mask * (w[:, None] if w.ndim == 1 else w)


def weighted_real_sum(values, mask, sample_weight=None) -> float:
    """``sum(mask * weight * value)`` over real steps only: a padded step is left out, not
    multiplied by 0, so a NaN or inf there cannot reach the sum."""
    real_values = np.where(np.asarray(mask, bool), np.asarray(values, np.float64), 0.0)
    return float(np.sum(step_weights(mask, sample_weight) * real_values))


def masked_batch_loss(losses, mask, sample_weight=None) -> float:
    """One batch: ``sum(mask * weight * loss) / sum(mask)``, and 0 for a batch without real steps."""
    real = float(np.sum(mask))
    if real == 0:
        return 0.0
    return weighted_real_sum(losses, mask, sample_weight) / real


def over_batches(batch_losses, batch_sizes) -> float:
    """What ``evaluate()``/``fit()`` report for several batches: the batch-size-weighted mean."""
    return float(np.average(batch_losses, weights=batch_sizes))


def masked_metric(values, mask, sample_weight=None) -> float:
    """``sum(mask * weight * value) / sum(mask * weight)`` over all batches at once (0 if empty)."""
    total = float(np.sum(step_weights(mask, sample_weight)))
    return weighted_real_sum(values, mask, sample_weight) / total if total else 0.0
