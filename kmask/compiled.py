"""Compiled models for the loss and metric properties, reused across examples.

A :class:`CompiledModel` is one model of a spec compiled once for one loss and one
execution mode; each example only sets new weights and data, so the train and test
functions trace once per input shape. The optimizer is SGD with learning rate 0:
``train_on_batch`` and ``fit`` report the loss of their forward pass, and with no
weight update every batch of a ``fit`` epoch sees the weights the reference sees.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from packaging.version import Version

from strategies import LayerSpec, StackSpec

from .build import CACHE, build_with_policy, uniform_weights, weights_for
from .divergences import BY_ID
from .keras_compat import GENERATION, KERAS_VERSION, keras, tf
from .loss_reference import ACCURACY_FOR_TARGET, LOSSES
from .run import as_list

EXECUTIONS = ("eager", "graph", "jit")
"""``run_eagerly=True``, the default ``tf.function``, and ``jit_compile=True`` (XLA)."""

METHODS = ("evaluate", "test_on_batch", "train_on_batch", "fit")
BATCHED_METHODS = ("evaluate", "fit")
"""Methods that can split the data into several batches."""

FIRST_TEST_ON_BATCH_FAILS = BY_ID["first-test-on-batch-stopiteration"]

OUTPUT_LOSSES_REPORTED = GENERATION == 2 or KERAS_VERSION >= Version("3.5")
"""Whether a multi-output model reports each output's loss as ``<output>_loss``: Keras 2 does;
Keras 3.0-3.4 report the total only; 3.5 brought them back (keras-team/keras#20023)."""


def half_squared_error(y_true, y_pred):
    """A user-defined loss (and, wrapped, metric): half the mean squared error per step, written
    with the backend-neutral ops where Keras has them (keras.ops, Keras 3), tf on Keras 2."""
    if GENERATION == 3:
        return 0.5 * keras.ops.mean(keras.ops.square(keras.ops.subtract(y_pred, y_true)), axis=-1)
    return 0.5 * tf.reduce_mean(tf.square(y_pred - y_true), axis=-1)


def keras_loss(name: str):
    """The loss argument of ``compile`` for a name of :data:`kmask.loss_reference.LOSSES`."""
    if name == "half_squared_error":
        return half_squared_error
    if name.endswith("_from_logits"):
        cls = {"binary_crossentropy": keras.losses.BinaryCrossentropy,
               "categorical_crossentropy": keras.losses.CategoricalCrossentropy}
        return cls[name[: -len("_from_logits")]](from_logits=True)
    return name


def metric_names(loss: str) -> list[str]:
    """The ``metrics=`` every model of ``loss`` is compiled with (by their log names): the
    regression metrics and a MeanMetricWrapper around a Python function where the targets
    have the predictions' shape, and the accuracy that fits the targets."""
    kind = LOSSES[loss][1]
    accuracy = [ACCURACY_FOR_TARGET[kind]] if ACCURACY_FOR_TARGET[kind] else []
    if kind == "sparse":
        return accuracy
    return ["mae", "mse", "half_squared_error_metric"] + accuracy


def weighted_metric_names(loss: str) -> list[str]:
    """The ``weighted_metrics=`` (reported with the prefix ``weighted_``)."""
    return ["sparse_categorical_accuracy"] if LOSSES[loss][1] == "sparse" else ["mae"]


def with_head(spec: StackSpec, loss: str, policy: str = "float32") -> StackSpec:
    """``spec`` plus the Dense head whose activation ``loss`` expects (under a mixed policy a
    float32 head, as Keras's mixed-precision guide asks for the output layer)."""
    activation = LOSSES[loss][0]
    dtype = {} if policy == "float32" else {"dtype": "float32"}
    head = LayerSpec.make("Dense", units=3, activation=activation, **dtype)
    return dataclasses.replace(spec, layers=spec.layers + (head,))


class CompiledModel:
    """One model of ``spec`` compiled for ``loss`` in ``execution`` mode."""

    def __init__(self, spec: StackSpec, api: str, loss: str, execution: str, timesteps, policy: str = "float32"):
        if execution not in EXECUTIONS:
            raise ValueError(f"unknown execution {execution!r}; choose one of {EXECUTIONS}")
        self.spec = spec
        self.model = build_with_policy(spec, api, policy, timesteps)
        metrics = [
            keras.metrics.MeanMetricWrapper(half_squared_error, name=name)
            if name == "half_squared_error_metric" else name
            for name in metric_names(loss)
        ]
        self.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.0),
            loss=keras_loss(loss),
            metrics=metrics,
            weighted_metrics=weighted_metric_names(loss),
            run_eagerly=execution == "eager",
            jit_compile=execution == "jit",
        )

    def set_weights(self, seed: int) -> None:
        """Fresh deterministic weights (the compiled functions stay valid)."""
        spec = dataclasses.replace(self.spec, weight_seed=seed)
        self.model.set_weights(weights_for(spec, [w.shape for w in self.model.get_weights()]))

    def predict_eagerly(self, values) -> np.ndarray:
        """The reference's predictions: a plain eager inference call, no compiled function."""
        return as_list(self.model(values, training=False))[0]

    def report(self, method: str, x, y, sample_weight=None, batch_size=None) -> dict:
        """The logs ``method`` reports (loss and metrics) for one epoch over ``x, y``."""
        model = self.model
        if method == "evaluate":
            return model.evaluate(x, y, sample_weight=sample_weight, batch_size=batch_size,
                                  verbose=0, return_dict=True)
        if method == "fit":
            history = model.fit(x, y, sample_weight=sample_weight, batch_size=batch_size,
                                epochs=1, shuffle=False, verbose=0)
            return {k: v[-1] for k, v in history.history.items()}
        if method in ("test_on_batch", "train_on_batch"):
            if method == "test_on_batch" and FIRST_TEST_ON_BATCH_FAILS.active and model.test_function is None:
                # the recorded first-call failure (replayed by its witness): evaluate() traces first
                model.evaluate(x, y, sample_weight=sample_weight, verbose=0)
            call = getattr(model, method)
            model.reset_metrics()
            return {k: float(v) for k, v in call(x, y, sample_weight=sample_weight,
                                                   return_dict=True).items()}
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def compiled_for(spec: StackSpec, api: str, loss: str, execution: str, timesteps: int, policy: str = "float32"):
    """The cached :class:`CompiledModel` (a new one per timestep bucket only for unrolled RNNs),
    built under the dtype policy ``policy``."""
    timesteps = spec.build_timesteps(timesteps)
    key = ("compiled", spec, api, loss, execution, timesteps, policy)
    return CACHE.get(key, lambda: CompiledModel(spec, api, loss, execution, timesteps, policy))


OUTPUT_NAMES = ("first", "second")


class TwoMaskModel:
    """Two inputs with different masks, one output each, compiled with one loss per output:
    ``Masking(mask_value) -> Dense(3, name="first")`` and
    ``Embedding(mask_zero=True) -> Dense(3, name="second")``."""

    def __init__(self, losses: tuple[str, str], execution: str, mask_value: float):
        features = keras.Input((None, 2), name="features")
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        first = keras.layers.Dense(3, name="first")(keras.layers.Masking(mask_value)(features))
        embedded = keras.layers.Embedding(12, 2, mask_zero=True)(tokens)
        second = keras.layers.Dense(3, name="second")(embedded)
        self.model = keras.Model([features, tokens], [first, second])
        self.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.0),
            loss={name: keras_loss(loss) for name, loss in zip(OUTPUT_NAMES, losses)},
            run_eagerly=execution == "eager",
            jit_compile=execution == "jit",
        )

    def set_weights(self, seed: int) -> None:
        self.model.set_weights(uniform_weights(seed, [w.shape for w in self.model.get_weights()]))

    def predict_eagerly(self, inputs) -> list[np.ndarray]:
        return as_list(self.model(inputs, training=False))


def two_mask_model_for(losses: tuple[str, str], execution: str, mask_value: float) -> TwoMaskModel:
    key = ("two_masks", losses, execution, mask_value)
    return CACHE.get(key, lambda: TwoMaskModel(losses, execution, mask_value))
