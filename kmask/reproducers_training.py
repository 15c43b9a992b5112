"""Standalone reproducers of the training family: gradients of a masked loss over real outputs
(kmask.training.masked_loss, written out in TensorFlow), and the weights after one optimizer
step, on a padded batch against the same batch with its padding changed (:mod:`kmask.report`
holds the core)."""

from __future__ import annotations

from . import report
from .oracle import real_outputs
from .training import ADAM_EPSILON, ADAM_LEARNING_RATE, FIT_EPOCHS, SGD_LEARNING_RATE

API = "functional"

OPTIMIZER_SOURCE = {
    "SGD": f"keras.optimizers.SGD(learning_rate={SGD_LEARNING_RATE})",
    "Adam": f"keras.optimizers.Adam(learning_rate={ADAM_LEARNING_RATE}, epsilon={ADAM_EPSILON})",
}

_LOSS = '''
def projection(index, width):
    """The fixed random projection of output ``index``."""
    return np.random.default_rng([SEED, 7919, index]).uniform(-1.0, 1.0, size=width).astype("float32")


def masked_loss(outputs, real):
    """Sum over every real output position of each output projected on a fixed random vector
    (final outputs count once per row)."""
    total = tf.constant(0.0)
    for k, out in enumerate(outputs):
        projected = tf.reduce_sum(tf.cast(out, tf.float32) * projection(k, out.shape[-1]), axis=-1)
        if len(out.shape) == 3:
            projected = tf.reduce_sum(tf.where(real, projected, tf.zeros_like(projected)), axis=1)
        total += tf.reduce_sum(projected)
    return total


def gradients(model, x, mask, real):
    """The gradient of masked_loss with respect to float inputs (None for tokens), and the
    gradients with respect to every trainable weight."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=False) if mask is None else model(x, mask=tf.constant(mask), training=False)
        loss = masked_loss(out if isinstance(out, (list, tuple)) else [out], tf.constant(real))
    inputs = [x] if x.dtype.is_floating else []
    grads = [np.asarray(g) for g in tape.gradient(loss, inputs + model.trainable_variables,
                                                   unconnected_gradients="zero")]
    return (grads[0] if inputs else None), grads[len(inputs):]


def new_model(x):
    return make_model(x.shape[1] if FIXED_TIMESTEPS else None)
'''

_INPUT_GRADIENT = '''
def both_sides():
    """The input gradient at padded steps (actual) against zeros (expected)."""
    _, x, mask, real = RUNS[0]
    at_padding = gradients(new_model(x), x, mask, real)[0][~mask]
    return np.zeros_like(at_padding), at_padding
'''

_WEIGHT_GRADIENTS = '''
def both_sides():
    """Every weight gradient of run 0 (expected) and of each other run (actual), flattened."""
    flat = [np.concatenate([g.ravel() for g in gradients(new_model(x), x, mask, real)[1]] or [np.zeros(0)])
            for _, x, mask, real in RUNS]
    return np.concatenate([flat[0]] * (len(RUNS) - 1)), np.concatenate(flat[1:])
'''

_STEP = '''
def weights_after_step(x, mask, real):
    model = new_model(x)
    grads = gradients(model, x, mask, real)[1]
    if grads:  # a stack without trainable weights has nothing to step
        OPTIMIZER().apply_gradients(zip([tf.constant(g) for g in grads], model.trainable_variables))
    return np.concatenate([w.ravel() for w in model.get_weights()] or [np.zeros(0)])


def both_sides():
    """The weights after one step on run 0 (expected) and on each other run (actual), flattened."""
    after = [weights_after_step(x, mask, real) for _, x, mask, real in RUNS]
    return np.concatenate([after[0]] * (len(RUNS) - 1)), np.concatenate(after[1:])
'''


def _runs_source(spec, runs) -> str:
    lines = ["RUNS = [  # (what, inputs, explicit mask, real positions of a sequence output)"]
    for what, batch in runs:
        lines.append(f"    ({what!r}, {report.literal(batch.values)},")
        lines.append(f"     {report.literal(batch.mask if batch.style == 'explicit' else None)},")
        lines.append(f"     {report.literal(real_outputs(spec, batch))}),")
    lines.append("]")
    return "\n".join(lines)


def _reproducer(title, expected, spec, runs, tol, tol_note, sides, extra="") -> report.Reproducer:
    body = "\n\n\n".join(filter(None, [
        "layers = keras.layers",
        f"SEED = {spec.weight_seed}\nFIXED_TIMESTEPS = {spec.needs_fixed_timesteps}",
        extra,
        report.model_source(spec, API),
        _runs_source(spec, runs),
        _LOSS.strip(),
        sides.strip(),
    ]))
    return report.Reproducer(title, expected, report.script_source(title, expected, tol, body, tol_note))


def input_gradient_reproducer(spec, batch) -> report.Reproducer:
    """The script of the input-gradient property: zero gradient at every padded step."""
    title = f"The gradient of a loss over real outputs reaches padded inputs: {spec}"
    expected = ("with an explicit mask, the gradient of a loss over real outputs with respect to the "
                "inputs is exactly zero at every padded timestep")
    return _reproducer(title, expected, spec, [("padded batch", batch)], 0.0, "exactly zero", _INPUT_GRADIENT)


def weight_gradients_reproducer(spec, runs, tol: float) -> report.Reproducer:
    """The script of the weight-gradient property: ``runs`` are ``(what, batch)``, the first the
    original padded batch, the others it with its padding changed."""
    title = f"Padding changes the weight gradients of a loss over real outputs: {spec}"
    expected = ("the gradient of a loss over real outputs with respect to every weight is the same "
                f"for the padded batch and for it with {' / '.join(what for what, _ in runs[1:])}")
    return _reproducer(title, expected, spec, runs, tol,
                       "float32 tolerance scaled by the largest gradient (kmask/training_checks.py)",
                       _WEIGHT_GRADIENTS)


def step_reproducer(spec, runs, optimizer: str, tol: float) -> report.Reproducer:
    """The script of the optimizer-step property on ``runs`` (as for the weight gradients)."""
    title = f"Padding changes the weights after one {optimizer} step: {spec}"
    expected = (f"one {optimizer} step on a loss over real outputs gives the same weights for the padded "
                f"batch and for it with {' / '.join(what for what, _ in runs[1:])}")
    return _reproducer(title, expected, spec, runs, tol,
                       f"gradient tolerance x how far one {optimizer} step moves a weight per unit of gradient",
                       _STEP, f"def OPTIMIZER():\n    return {OPTIMIZER_SOURCE[optimizer]}")


_FIT = '''
def projected_loss(y_true, y_pred):
    """The loss fit minimises at every position: the output projected on a fixed random vector
    (y_true is unused); Keras masks it with the output's mask and averages over real positions."""
    y_pred = tf.cast(y_pred, tf.float32)
    return tf.reduce_sum(y_pred * projection(0, y_pred.shape[-1]), axis=-1)


def weights_after_fit(x):
    model = new_model(x)
    targets = np.zeros_like(to_numpy(model(x, training=False)))  # unused; only its shape matters
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE), loss=projected_loss,
                  run_eagerly=True)
    model.fit(x, targets, batch_size=len(x), epochs=EPOCHS, shuffle=False, verbose=0)
    return np.concatenate([w.ravel() for w in model.get_weights()])


def both_sides():
    """The weights after fit on run 0 (expected) and on each other run (actual), flattened."""
    after = [weights_after_fit(x) for _, x, _, _ in RUNS]
    return np.concatenate([after[0]] * (len(RUNS) - 1)), np.concatenate(after[1:])
'''


def fit_reproducer(spec, runs, tol: float) -> report.Reproducer:
    """The script of the fit property on ``runs`` (the padded batch first, then its variants)."""
    title = f"Padding changes the weights fit() trains: {spec}"
    expected = (f"{FIT_EPOCHS} unshuffled epochs of fit() with a loss Keras masks itself give the same weights "
                f"for the padded batch and for it with {' / '.join(what for what, _ in runs[1:])}")
    projection = _LOSS[: _LOSS.index("def masked_loss")].strip()
    body = "\n\n\n".join([
        "layers = keras.layers",
        f"SEED = {spec.weight_seed}\nFIXED_TIMESTEPS = {spec.needs_fixed_timesteps}\n"
        f"LEARNING_RATE = {SGD_LEARNING_RATE}\nEPOCHS = {FIT_EPOCHS}",
        report.model_source(spec, "sequential"),
        _runs_source(spec, runs),
        projection,
        "def new_model(x):\n    return make_model(x.shape[1] if FIXED_TIMESTEPS else None)",
        _FIT.strip(),
    ])
    source = report.script_source(title, expected, tol, body,
                                  "float32 tolerance scaled by how far fit moves a weight (tests/test_optimizer_steps.py)")
    return report.Reproducer(title, expected, source)


_BATCHNORM = '''
def both_sides():
    """The moving mean and variance after one training call and the outputs at real steps
    (actual) against the mean and biased variance of the real steps only (expected)."""
    model = make_model()
    layer = next(l for l in model.layers if isinstance(l, layers.BatchNormalization))
    gamma, beta, moving_mean, moving_variance = [to_numpy(v).astype(np.float64) for v in
                                                  (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)]
    out = model(X, training=True) if EXPLICIT_MASK is None else model(X, mask=tensor(EXPLICIT_MASK), training=True)
    values = np.where(MASK[..., None], X, 0.0) if EXPLICIT_MASK is None else X  # Masking zeroes padded steps
    real = values[MASK].astype(np.float64)
    mean, variance = real.mean(axis=0), real.var(axis=0)
    m = layer.momentum
    expected = np.concatenate([m * moving_mean + (1 - m) * mean, m * moving_variance + (1 - m) * variance,
                               (gamma * (real - mean) / np.sqrt(variance + layer.epsilon) + beta).ravel()])
    actual = np.concatenate([to_numpy(layer.moving_mean), to_numpy(layer.moving_variance),
                             to_numpy(out)[MASK].ravel()])
    return expected, actual
'''


def batchnorm_reproducer(spec, batch, tol: float) -> report.Reproducer:
    """The script of the BatchNormalization property on ``batch``."""
    title = f"BatchNormalization in training mode uses padded timesteps in its statistics: {spec}"
    expected = ("in training mode a masked BatchNormalization normalizes with the mean and variance of the "
                "real timesteps only and moves its moving mean and variance towards those by momentum")
    body = "\n\n\n".join([
        "layers = keras.layers",
        report.model_source(spec, API),
        f"X = {report.literal(batch.values)}\n"
        f"MASK = {report.literal(batch.mask)}  # the real steps\n"
        f"EXPLICIT_MASK = {'MASK' if batch.style == 'explicit' else 'None'}  # passed as mask=, or made by Masking",
        _BATCHNORM.strip(),
    ])
    source = report.script_source(title, expected, tol, body,
                                  "the largest of the property's float32 tolerances (tests/test_batchnorm_mask.py)")
    return report.Reproducer(title, expected, source)
