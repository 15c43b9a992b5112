"""Execution modes: the same model called eagerly, in a tf.function, with XLA, or via predict."""

from __future__ import annotations

import pytest

from strategies import PaddedBatch, StackSpec

from .build import CACHE, build
from .keras_compat import BACKEND, tensor, tf
from .run import as_list, call_eagerly

MODES = ("tf_function", "xla", "predict", "predict_jit")
"""``tf_function``/``xla``: ``tf.function(model.__call__)`` without and with
``jit_compile``; ``predict``/``predict_jit``: ``model.predict`` after
``compile()`` without and with ``jit_compile=True`` (Keras's own compiled path,
which cannot take an explicit mask)."""

PREDICT_MODES = ("predict", "predict_jit")

TENSORFLOW_MODES = ("tf_function", "xla")
"""Modes that wrap the model in ``tf.function``: they run on the TensorFlow backend only (on JAX
and PyTorch, ``predict_jit`` is the compiled path, through the backend's own jit)."""


def skip_off_tensorflow(mode: str) -> None:
    """Skip, in one line, a mode the installed backend cannot run."""
    if mode in TENSORFLOW_MODES and BACKEND != "tensorflow":
        pytest.skip(f"execution mode {mode!r} wraps the model in tf.function: TensorFlow backend only "
                    f"(this run: {BACKEND}; predict_jit covers the compiled path here)")


class CompiledRunner:
    """One model of a spec and its compiled call for one mode, reused across examples.

    Shapes come from a few buckets, so each runner traces at most once per bucket.
    """

    def __init__(self, spec: StackSpec, api: str, mode: str, timesteps: int | None):
        if mode not in MODES:
            raise ValueError(f"unknown execution mode {mode!r}; choose one of {MODES}")
        self.mode = mode
        self.model = build(spec, api, timesteps)
        if mode in PREDICT_MODES:
            self.model.compile(jit_compile=mode == "predict_jit")
        else:
            jit = mode == "xla"
            self.with_mask = tf.function(
                lambda x, m: self.model(x, mask=m, training=False), jit_compile=jit
            )
            self.without_mask = tf.function(
                lambda x: self.model(x, training=False), jit_compile=jit
            )

    def eager(self, batch: PaddedBatch):
        return call_eagerly(self.model, batch)

    def compiled(self, batch: PaddedBatch):
        if self.mode in PREDICT_MODES:
            if batch.style == "explicit":
                raise ValueError("predict() cannot take an explicit mask")
            return as_list(self.model.predict(batch.values, batch_size=batch.batch_size, verbose=0))
        if batch.style == "explicit":
            return as_list(self.with_mask(batch.values, tensor(batch.mask)))
        return as_list(self.without_mask(batch.values))


def runner_for(spec: StackSpec, api: str, mode: str, timesteps: int) -> CompiledRunner:
    """The cached runner of ``(spec, api, mode)``; a new one per timestep bucket only for
    unrolled RNNs, whose models fix the sequence length."""
    timesteps = spec.build_timesteps(timesteps)
    return CACHE.get((spec, api, mode, timesteps), lambda: CompiledRunner(spec, api, mode, timesteps))
