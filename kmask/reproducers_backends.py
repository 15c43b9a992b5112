"""The standalone script of the cross-backend property (kmask.differential): the same model, weights
and batch run in two fresh interpreters, one per Keras backend, and one compared quantity of the
two (real outputs, output masks, masked-loss gradients, or the loss ``evaluate`` reports)."""

from __future__ import annotations

import numpy as np

from strategies import PaddedBatch, StackSpec

from .report import Reproducer, literal, model_source, script_source
from .training import projection

QUANTITIES = ("outputs", "output masks", "gradients", "loss")
"""What a script compares; each failing stage of kmask.differential.check_backends_agree has one."""

_GRADIENTS = '''
def masked_loss(outputs):
    """The sum, over real positions (every row of a final output), of each output projected on
    its fixed vector: a loss whose gradients only real steps may move."""
    ops = keras.ops
    total = 0.0
    for out, projection in zip(outputs, PROJECTIONS):
        projected = ops.sum(ops.multiply(ops.cast(out, "float32"), projection), axis=-1)
        if len(projected.shape) == 2:
            projected = ops.where(REAL, projected, ops.zeros_like(projected))
        total = total + ops.sum(projected)
    return total


def gradients(model, kwargs):
    """Gradients of masked_loss with respect to the trainable weights and, with an explicit mask,
    the input (otherwise it may be token ids), with this backend's own differentiation."""
    backend, with_input = keras.backend.backend(), MASK is not None
    if backend == "tensorflow":
        x = tf.constant(X)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = masked_loss(as_list(model(x, training=False, **kwargs)))
        grads = tape.gradient(loss, model.trainable_variables + ([x] if with_input else []),
                              unconnected_gradients="zero")
        return [np.asarray(tf.convert_to_tensor(g)) for g in grads]  # Embedding's are IndexedSlices
    if backend == "jax":
        import jax

        fixed = [v.value for v in model.non_trainable_variables]

        def loss(weights, x):
            return masked_loss(as_list(model.stateless_call(weights, fixed, x, training=False, **kwargs)[0]))

        weights, x = [v.value for v in model.trainable_variables], jax.numpy.asarray(X)
        if not with_input:
            return [np.asarray(g) for g in jax.grad(loss)(weights, x)]
        weight_grads, input_grad = jax.grad(loss, argnums=(0, 1))(weights, x)
        return [np.asarray(g) for g in weight_grads] + [np.asarray(input_grad)]
    import torch

    x = keras.ops.convert_to_tensor(X)
    if with_input:
        x.requires_grad_(True)
    targets = [v.value for v in model.trainable_variables] + ([x] if with_input else [])
    loss = masked_loss(as_list(model(x, training=False, **kwargs)))
    grads = torch.autograd.grad(loss, targets, allow_unused=True) if targets else []
    return [np.zeros(tuple(t.shape), "float32") if g is None else to_numpy(g) for g, t in zip(grads, targets)]
'''

_HELPERS = '''
def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]

'''

_RESULTS = {
    "outputs": '''
    for k, out in enumerate(as_list(model(X, training=False, **kwargs))):
        out = to_numpy(out)
        found[f"outputs {k}"] = out[REAL] if out.ndim == 3 else out  # real steps; final outputs whole''',
    "output masks": '''
    masks = model.compute_mask(keras.ops.convert_to_tensor(X), kwargs.get("mask"))
    for k, mask in enumerate(as_list(masks)):
        if mask is not None:  # a missing key is "no mask"
            found[f"output masks {k}"] = to_numpy(mask).astype(bool)''',
    "gradients": '''
    found.update({f"gradients {k}": g for k, g in enumerate(gradients(model, kwargs))})''',
    "loss": '''
    model = make_head_model(X.shape[1] if FIXED_TIMESTEPS else None)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mean_squared_error")
    found["loss"] = np.float32(model.evaluate(X, LOSS_TARGETS, batch_size=len(X), verbose=0))''',
}
"""The part of ``results()`` that computes each quantity."""

_RESULTS_HEAD = '''
def results():
    """What COMPARED is on the backend this interpreter runs (KERAS_BACKEND)."""
    model = make_model(X.shape[1] if FIXED_TIMESTEPS else None)
    kwargs = {} if MASK is None else {"mask": keras.ops.convert_to_tensor(MASK)}
    found = {}'''

_COMPARE = '''
def on(backend):
    """results() computed in a fresh interpreter with KERAS_BACKEND=backend (or its error)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "results.npz")
        done = subprocess.run([sys.executable, os.path.abspath(__file__)], capture_output=True, text=True,
                              env={**os.environ, "KERAS_BACKEND": backend, "RESULTS_FILE": path})
        if done.returncode != 0:
            print(f"on {backend}:", (done.stderr.strip().splitlines() or ["no output"])[-1])
            return "fails"
        with np.load(path) as saved:
            return {k: saved[k] for k in saved.files}


def both_sides():
    """What COMPARED is on BACKENDS[1] (expected) and on BACKENDS[0] (actual), flattened."""
    actual, expected = on(BACKENDS[0]), on(BACKENDS[1])
    if isinstance(actual, str) and isinstance(expected, str):
        raise RuntimeError(f"the model fails on both {BACKENDS[0]} and {BACKENDS[1]}")
    if isinstance(actual, str) or isinstance(expected, str):
        return (f"{'fails' if isinstance(expected, str) else 'runs'} on {BACKENDS[1]}",
                f"{'fails' if isinstance(actual, str) else 'runs'} on {BACKENDS[0]}")
    if sorted(actual) != sorted(expected) or any(actual[k].shape != expected[k].shape for k in actual):
        shapes = lambda found: ", ".join(f"{k} {found[k].shape}" for k in sorted(found)) or "none"
        return f"{COMPARED}: {shapes(expected)}", f"{COMPARED}: {shapes(actual)}"
    for k in sorted(actual):
        if not np.allclose(actual[k], expected[k], rtol=TOL, atol=TOL, equal_nan=True):
            print(f"{k} differs")
    keys = sorted(actual)
    return (np.concatenate([np.ravel(expected[k]).astype("float64") for k in keys] or [np.zeros(0)]),
            np.concatenate([np.ravel(actual[k]).astype("float64") for k in keys] or [np.zeros(0)]))


if __name__ == "__main__" and os.environ.get("RESULTS_FILE"):  # a child: one backend's results
    np.savez(os.environ["RESULTS_FILE"], **results())
    raise SystemExit(0)
'''


def backends_script(spec: StackSpec, batch: PaddedBatch, loss_targets: np.ndarray, real: np.ndarray,
                    widths: list[int], other: str, backend: str, compared: str, tol: float,
                    head: StackSpec) -> Reproducer:
    """The script comparing ``compared`` (one of :data:`QUANTITIES`) of ``spec`` on ``batch``
    between ``other`` (actual) and ``backend`` (expected), within ``tol``: ``real`` is the
    ``(batch, timesteps)`` mask of real output positions, ``widths`` the last-axis width of each
    output, ``head`` the spec whose ``evaluate`` loss is compared."""
    if compared not in QUANTITIES:
        raise ValueError(f"unknown quantity {compared!r}; choose one of {QUANTITIES}")
    title = f"Keras on {other} and on {backend} give other masked {compared}: {spec}"
    expectation = (f"the same functional model, weights and padded batch give the same {compared} on "
                   f"{other} (run in a fresh interpreter) as on {backend}")
    constants = [
        f"BACKENDS = ({other!r}, {backend!r})  # (actual, expected)",
        f"COMPARED = {compared!r}",
        f"X = {literal(batch.values)}",
        f"MASK = {literal(batch.mask if batch.style == 'explicit' else None)}  # passed as mask= (None: the model makes it)",
        f"FIXED_TIMESTEPS = {spec.needs_fixed_timesteps}",
    ]
    models = [model_source(spec, "functional")]
    functions = [_HELPERS]
    if compared in ("outputs", "gradients"):
        constants.append(f"REAL = {literal(real)}  # real output positions")
    if compared == "gradients":
        projections = [projection(spec, k, width) for k, width in enumerate(widths)]
        constants.append(f"PROJECTIONS = [{', '.join(literal(p) for p in projections)}]  # one per output")
        functions.insert(0, _GRADIENTS)
    if compared == "loss":
        models.append(model_source(head, "functional", "make_head_model"))
        constants.append(f"LOSS_TARGETS = {literal(loss_targets)}")
    functions += [_RESULTS_HEAD + _RESULTS[compared] + "\n    return found", _COMPARE]
    body = "\n\n\n".join(["layers = keras.layers", *models, "\n".join(constants),
                             *(f.strip() for f in functions)])
    source = script_source(title, expectation, tol, body, "float32 tolerance of the property (kmask/compare.py)")
    return Reproducer(title, expectation, source)
