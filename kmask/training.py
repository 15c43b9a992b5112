"""Training on padded batches: a masked loss, its gradients, optimizer steps, ``fit`` and
training-mode calls, with models (and their optimizers) cached per spec and shape bucket.

The loss is defined here, not taken from Keras: the sum, over every real output position, of a
fixed random projection of the outputs (:func:`masked_loss`). Its gradients come from the
backend's own differentiation (kmask/backend_gradients.py: ``tf.GradientTape``, ``jax.grad``,
``torch.autograd``). Runners reset a model to the spec's deterministic weights with ``set_weights`` instead
of rebuilding it, and run eagerly: each example draws a new stack, and tracing a gradient
function costs 1.4-2.2 s per model against 20-70 ms for an eager call (measured on Keras 3.15
and 2.15); the traced forward pass is what ``test_execution_modes`` checks.
"""

from __future__ import annotations

import types

import numpy as np

from strategies import PaddedBatch, StackSpec

from .build import CACHE, build, weights_for
from .backend_gradients import loss_gradients
from .keras_compat import BACKEND, GENERATION, keras, tensor, tf, to_numpy
from .oracle import real_outputs
from .run import as_tensors

SGD_LEARNING_RATE = 0.1
ADAM_LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-3
"""Adam's first step is ``lr * g / (|g| + epsilon)``: its sensitivity to ``g`` is at most
``lr / epsilon``, 1 here, so weights after a step differ no more than the gradients do. With
Keras's default epsilon (1e-7) a gradient that is zero up to rounding would move a weight by up
to ``lr``."""
FIT_EPOCHS = 2


def projection(spec: StackSpec, index: int, width: int) -> np.ndarray:
    """The fixed random projection of output ``index``: ``width`` values in [-1, 1]."""
    rng = np.random.default_rng([spec.weight_seed, 7919, index])
    return rng.uniform(-1.0, 1.0, size=width).astype(np.float32)


OPS = keras.ops if GENERATION == 3 else types.SimpleNamespace(
    cast=tf.cast, multiply=tf.multiply, sum=tf.reduce_sum, where=tf.where, zeros_like=tf.zeros_like
)
"""The tensor operations the losses here use: ``keras.ops`` on Keras 3 (any backend), their
TensorFlow namesakes on Keras 2 (which has no ``keras.ops``)."""


def masked_loss(spec: StackSpec, outputs, real, rows):
    """Sum over the rows where ``rows`` is True, and over their real positions ``real``, of each
    output projected on :func:`projection` (final outputs count once per row). Written in
    ``keras.ops`` on Keras 3 (any backend) and in TensorFlow on Keras 2."""
    total = 0.0
    for k, out in enumerate(outputs):
        out = OPS.cast(out, "float32")
        projected = OPS.sum(OPS.multiply(out, projection(spec, k, out.shape[-1])), axis=-1)
        if len(out.shape) == 3:
            projected = OPS.sum(OPS.where(real, projected, OPS.zeros_like(projected)), axis=1)
        total = total + OPS.sum(OPS.where(rows, projected, OPS.zeros_like(projected)))
    return total


def _call(model, values, mask, training):
    if mask is None:
        return as_tensors(model(values, training=training))
    return as_tensors(model(values, mask=mask, training=training))


class GradientRunner:
    """One model of a spec and its optimizers, reused across examples."""

    def __init__(self, spec: StackSpec, api: str, timesteps: int | None):
        self.spec = spec
        self.model = build(spec, api, timesteps)
        self.initial = weights_for(spec, [w.shape for w in self.model.get_weights()])
        self.optimizers = {}

    def reset(self):
        """Back to the spec's deterministic weights."""
        self.model.set_weights(self.initial)

    def gradients(self, batch: PaddedBatch, first_rows: int | None = None):
        """``(input gradient, weight gradients of rows [:first_rows], of rows [first_rows:])``
        of :func:`masked_loss`, as NumPy; ``first_rows`` defaults to the whole batch."""
        first_rows = batch.batch_size if first_rows is None else first_rows
        first_part = np.arange(batch.batch_size) < first_rows
        explicit = batch.style == "explicit"
        real = tensor(real_outputs(self.spec, batch))
        parts = [tensor(first_part), tensor(~first_part)]
        losses = [lambda outputs, rows=rows: masked_loss(self.spec, outputs, real, rows) for rows in parts]
        inputs, (grads_a, grads_b) = loss_gradients(
            self.model, batch.values, batch.mask if explicit else None, losses, watch_input=explicit
        )
        return (inputs[0] + inputs[1] if explicit else None), grads_a, grads_b

    def step(self, batch: PaddedBatch, optimizer: str) -> list[np.ndarray]:
        """The weights after one ``optimizer`` step on ``batch`` from the spec's weights."""
        self.reset()
        opt, fresh = self._optimizer(optimizer)
        for variable, value in zip(opt.variables, fresh):
            variable.assign(value)
        _, grads, _ = self.gradients(batch)
        if grads:  # a stack of Masking and pooling alone has no weights to train
            variables = self.model.trainable_variables
            opt.apply_gradients(zip([tensor(g) for g in grads], variables))
        return self.model.get_weights()

    def _optimizer(self, name: str):
        """The runner's optimizer ``name`` and the values its variables start from."""
        if name not in self.optimizers:
            if name == "SGD":
                opt = keras.optimizers.SGD(learning_rate=SGD_LEARNING_RATE)
            elif name == "Adam":
                opt = keras.optimizers.Adam(learning_rate=ADAM_LEARNING_RATE, epsilon=ADAM_EPSILON)
            else:
                raise ValueError(f"unknown optimizer {name!r}; choose SGD or Adam")
            opt.build(self.model.trainable_variables)
            self.optimizers[name] = (opt, [to_numpy(v) for v in opt.variables])
        return self.optimizers[name]


def gradient_runner(spec: StackSpec, api: str, timesteps: int) -> GradientRunner:
    """The cached runner of ``(spec, api)`` (per timestep bucket only for unrolled RNNs)."""
    timesteps = spec.build_timesteps(timesteps)
    key = ("gradients", spec, api, timesteps)
    return CACHE.get(key, lambda: GradientRunner(spec, api, timesteps))


# --------------------------------------------------------------------------- fit


def fit_loss(spec: StackSpec):
    """The per-position loss ``fit`` minimises: the projected output (``y_true`` is unused).

    Keras masks it with the output's mask and averages it over the real positions."""
    def loss(y_true, y_pred):
        y_pred = OPS.cast(y_pred, "float32")
        return OPS.sum(OPS.multiply(y_pred, projection(spec, 0, y_pred.shape[-1])), axis=-1)

    return loss


class FitRunner:
    """One single-output model of a spec, reset and re-compiled for every ``fit``.

    ``fit`` runs eagerly (``run_eagerly=True``): the padding semantics of the training loop
    (loss masking and averaging) are those of the compiled loop, and a trace per example and
    shape would cost more than the whole fit."""

    def __init__(self, spec: StackSpec, api: str, timesteps: int | None):
        self.spec = spec
        self.model = build(spec, api, timesteps)
        self.initial = weights_for(spec, [w.shape for w in self.model.get_weights()])

    def fit(self, batch: PaddedBatch) -> list[np.ndarray]:
        """The weights after :data:`FIT_EPOCHS` epochs of SGD on ``batch``, unshuffled, from
        the spec's weights."""
        if batch.style == "explicit":
            raise ValueError("fit() cannot take an explicit mask")
        self.model.set_weights(self.initial)
        self.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=SGD_LEARNING_RATE),
            loss=fit_loss(self.spec),
            run_eagerly=True,
        )
        shape = self.model.output_shape  # y_true is unused; it only has to match y_pred
        steps = (batch.timesteps,) if len(shape) == 3 else ()
        targets = np.zeros((batch.batch_size,) + steps + shape[-1:], np.float32)
        self.model.fit(
            batch.values, targets, batch_size=batch.batch_size, epochs=FIT_EPOCHS,
            shuffle=False, verbose=0,
        )
        return self.model.get_weights()


def fit_runner(spec: StackSpec, api: str, timesteps: int) -> FitRunner:
    """The cached fit runner of ``(spec, api)`` (per timestep bucket only for unrolled RNNs)."""
    timesteps = spec.build_timesteps(timesteps)
    return CACHE.get(("fit", spec, api, timesteps), lambda: FitRunner(spec, api, timesteps))


# --------------------------------------------------------------------------- training mode


KERAS2_GLOBAL_SEED = 1234
"""Set before every Keras 2 training-mode call (Keras 3 needs no global seed)."""

TORCH_GLOBAL_SEED = 1234
"""Set before every training-mode call on the PyTorch backend: Keras's torch dropout draws from
PyTorch's global generator when the layer's seed generator has no seed (keras/src/backend/torch/
random.py, "torch doesn't support seeding dropout"), as inside Bidirectional (see below)."""

KERAS3_RANDOM_SEED = 11
"""Keras 3 seed generator number ``k`` of a model (in ``model.variables`` order) starts every
training-mode call from the state ``(KERAS3_RANDOM_SEED + k, 0)``."""


def _keras2_random_states(model) -> list:
    """``(generator, seed, state)`` of every Keras 2 layer that draws random numbers."""
    found = []
    for layer in model._flatten_layers(include_self=False):
        rng = getattr(layer, "_random_generator", None)
        if rng is not None:
            rng._maybe_init()
            generator = getattr(rng, "_generator", None)
            state = None if generator is None else np.asarray(generator.state)
            found.append((rng, rng._seed, state))
    return found


def _start_values(model) -> list[np.ndarray]:
    """What every variable of ``model`` is reset to before a training-mode call: weights as
    built, and on Keras 3 each seed generator's state as :data:`KERAS3_RANDOM_SEED` says.

    The state a Keras 3 model is built with is not a function of the spec: a layer's ``seed=``
    does not always reach its seed generator (``SimpleRNN.get_config`` leaves ``seed`` out, so
    ``Bidirectional(SimpleRNN(seed=...))`` builds two unseeded copies, keras-team/keras#23657),
    and an unseeded generator starts from Python's global ``random``. Two models of one spec
    (one per timestep bucket) then drew different dropout noise: a false alarm."""
    weights = {id(w) for w in model.weights}
    values, k = [], 0
    for variable in model.variables:
        value = to_numpy(variable)
        if GENERATION == 3 and id(variable) not in weights:  # a seed generator's state
            value = np.array([KERAS3_RANDOM_SEED + k, 0], dtype=value.dtype)
            k += 1
        values.append(value)
    return values


class TrainingModeRunner:
    """A model called with ``training=True`` whose random state is reset before each call, so
    two calls, or two models of the same spec, draw the same dropout noise for batches of the
    same number of rows.

    Keras 3 keeps each layer's ``SeedGenerator`` state in ``model.variables``, and its random
    ops are stateless given that state: the runner sets every state to a value fixed by its
    position in the model (:func:`_start_values`). Keras 2.15 by default draws with legacy
    stateful ops, ``tf.nn.dropout(seed=layer seed + number of calls so far)``, and RNN cells
    take no seed; an eager stateful op repeats its numbers only after ``tf.random.set_seed``
    resets it. So on Keras 2 each call restores every layer's seed counter (and
    ``tf.random.Generator`` state, where enabled) and sets the global seed.
    """

    def __init__(self, spec: StackSpec, api: str, timesteps: int | None):
        self.spec = spec
        self.model = build(spec, api, timesteps)
        self.variables = list(self.model.variables)
        self.start = _start_values(self.model)
        self.keras2_states = _keras2_random_states(self.model) if GENERATION == 2 else []

    def restore(self):
        """Back to the spec's weights and the fixed random state."""
        for variable, value in zip(self.variables, self.start):
            variable.assign(value)
        for rng, seed, state in self.keras2_states:
            rng._seed = seed
            if state is not None:
                rng._generator.state.assign(state)
        if GENERATION == 2:
            tf.random.set_seed(KERAS2_GLOBAL_SEED)
        if BACKEND == "torch":
            import torch

            torch.manual_seed(TORCH_GLOBAL_SEED)

    def __call__(self, batch: PaddedBatch) -> list[np.ndarray]:
        mask = tensor(batch.mask) if batch.style == "explicit" else None
        self.restore()
        return [to_numpy(o) for o in _call(self.model, batch.values, mask, training=True)]


def training_mode_runner(spec: StackSpec, api: str, timesteps: int) -> TrainingModeRunner:
    """The cached training-mode runner of ``(spec, api)`` (per bucket only when unrolled)."""
    timesteps = spec.build_timesteps(timesteps)
    key = ("training", spec, api, timesteps)
    return CACHE.get(key, lambda: TrainingModeRunner(spec, api, timesteps))
