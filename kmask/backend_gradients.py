"""Gradients of scalar losses of a model's outputs, on whichever backend runs Keras.

TensorFlow (Keras 2, and Keras 3 on TensorFlow) uses ``tf.GradientTape``; Keras 3 on JAX uses
``jax.grad`` through ``model.stateless_call``; Keras 3 on PyTorch uses ``torch.autograd.grad``.
Each gives the same thing: for every loss, its gradient with respect to every trainable weight
(zero where the loss does not depend on the weight) and, when asked, with respect to the input.
"""

from __future__ import annotations

import numpy as np

from .keras_compat import BACKEND, tf, to_numpy
from .run import as_tensors


def loss_gradients(model, values: np.ndarray, mask, losses, watch_input: bool):
    """``(input gradients, weight gradients)``: for each function in ``losses`` (the model's
    outputs as a list -> a scalar), its gradient with respect to ``values`` (``None`` unless
    ``watch_input``) and the list of its gradients with respect to ``model.trainable_variables``,
    all NumPy. ``model`` is called with ``training=False`` and, unless ``mask`` is None, ``mask=``."""
    run = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[BACKEND]
    return run(model, values, mask, losses, watch_input)


def _tensorflow(model, values, mask, losses, watch_input):
    x = tf.constant(values)
    weights = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        if watch_input:
            tape.watch(x)
        kwargs = {} if mask is None else {"mask": tf.constant(mask)}
        outputs = as_tensors(model(x, training=False, **kwargs))
        scalars = [loss(outputs) for loss in losses]
    inputs, weight_grads = [], []
    for scalar in scalars:
        inputs.append(np.asarray(tape.gradient(scalar, x)) if watch_input else None)
        grads = tape.gradient(scalar, weights, unconnected_gradients="zero")
        weight_grads.append([np.asarray(tf.convert_to_tensor(g)) for g in grads])  # Embedding's are IndexedSlices
    del tape
    return inputs, weight_grads


def _jax(model, values, mask, losses, watch_input):
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    kwargs = {} if mask is None else {"mask": jnp.asarray(mask)}

    def loss_of(k):
        def scalar(weights, x):
            outputs, _ = model.stateless_call(weights, non_trainable, x, training=False, **kwargs)
            return losses[k](as_tensors(outputs))
        return scalar

    x = jnp.asarray(values)
    inputs, weight_grads = [], []
    for k in range(len(losses)):
        if watch_input:
            weights_grad, input_grad = jax.grad(loss_of(k), argnums=(0, 1))(trainable, x)
            inputs.append(np.asarray(input_grad))
        else:
            weights_grad = jax.grad(loss_of(k))(trainable, x)
            inputs.append(None)
        weight_grads.append([np.asarray(g) for g in weights_grad])
    return inputs, weight_grads


def _torch(model, values, mask, losses, watch_input):
    import torch

    from .keras_compat import tensor

    x = tensor(values)
    if watch_input:
        x.requires_grad_(True)
    weights = [v.value for v in model.trainable_variables]
    kwargs = {} if mask is None else {"mask": tensor(mask)}
    outputs = as_tensors(model(x, training=False, **kwargs))
    targets = weights + ([x] if watch_input else [])
    inputs, weight_grads = [], []
    for scalar in (loss(outputs) for loss in losses):
        grads = torch.autograd.grad(scalar, targets, retain_graph=True, allow_unused=True) if targets else []
        grads = [np.zeros(tuple(t.shape), np.float32) if g is None else to_numpy(g) for g, t in zip(grads, targets)]
        inputs.append(grads[-1] if watch_input else None)
        weight_grads.append(grads[: len(weights)])
    return inputs, weight_grads
