"""The same model on two Keras backends: what each computes, and a worker process on the other.

:func:`results_for` runs in both processes: the test's own (the backend under test) and a
:mod:`kmask.backend_worker` started once per test process with ``KERAS_BACKEND`` set to the other
backend. Both build the spec with the same deterministic weights (kmask.build), so their outputs,
output masks, compiled loss and gradients must agree up to float32 rounding.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from hypothesis import strategies as st

from strategies import CATALOG, PaddedBatch, StackSpec, stacks, supported

from . import report
from .checks import assert_same_real_outputs
from .compare import assert_close, assert_same_length, tolerance
from .compiled import compiled_for, with_head
from .draw import targets, without_known_divergences
from .keras_compat import BACKEND, BACKEND_INSTALL, BACKENDS, GENERATION, tensor, to_numpy
from .mask_checks import assert_same_mask
from .oracle import real_outputs
from .reproducers_backends import backends_script
from .run import as_tensors, call_eagerly
from .training import gradient_runner
from .training_checks import gradient_tolerance

API = "functional"
LOSS = "mean_squared_error"
ROOT = Path(__file__).resolve().parent.parent


def results_for(spec: StackSpec, batch: PaddedBatch, loss_targets: np.ndarray) -> dict:
    """On this process's backend: the eager outputs, the output masks, the gradients of
    kmask.training.masked_loss (input and weights), and for a single-output stack fed without an
    explicit mask the mean squared error ``evaluate`` reports for ``spec`` plus a Dense head
    against ``loss_targets``."""
    runner = gradient_runner(spec, API, batch.timesteps)
    runner.reset()
    model = runner.model
    mask = tensor(batch.mask) if batch.style == "explicit" else None
    masks = model.compute_mask(tensor(batch.values), mask)
    found = {
        "outputs": call_eagerly(model, batch),
        "output masks": [None if m is None else to_numpy(m).astype(bool) for m in as_tensors(masks)],
    }
    found["input gradient"], found["weight gradients"], _ = runner.gradients(batch)
    if batch.style != "explicit" and spec.layers[-1].output_count == 1:  # what compile() takes
        compiled = compiled_for(with_head(spec, LOSS), API, LOSS, "eager", batch.timesteps)
        compiled.set_weights(spec.weight_seed)
        logs = compiled.report("evaluate", batch.values, evaluate_targets(spec, loss_targets),
                               batch_size=batch.batch_size)
        found["loss"] = np.float32(logs["loss"])
    return found


def evaluate_targets(spec: StackSpec, loss_targets: np.ndarray) -> np.ndarray:
    """The targets ``evaluate`` gets: per step for a sequence output, one per row (the first
    step's) for a final output."""
    return loss_targets if all(layer.returns_sequence for layer in spec.layers) else loss_targets[:, 0]


@st.composite
def examples(draw, other: str):
    """``(spec, batch, targets)``: a functional stack around any catalog layer that hits no
    divergence active on either backend, a padded batch, and real-valued loss targets."""
    focus = draw(st.sampled_from([k for k in CATALOG if supported(k, API)]), label="focus")
    specs = without_known_divergences(stacks(focus, api=API, max_context=1), API, backends=(BACKEND, other))
    spec = draw(specs, label="spec")
    batch = draw(spec.batches(), label="batch")
    return spec, batch, draw(targets("real", batch.mask), label="targets")


def installed_backends() -> list[str]:
    """The Keras 3 backends whose package is importable here (TensorFlow is always there)."""
    if GENERATION != 3:
        return []
    return [b for b in BACKENDS if b == "tensorflow" or importlib.util.find_spec(b) is not None]


def unavailable_reason(other: str) -> str | None:
    """Why the property cannot compare with ``other`` here, in one line, or None."""
    if GENERATION != 3:
        return "Keras 2 has one backend (TensorFlow): nothing to compare with"
    if other == BACKEND:
        return f"{other} is the backend under test"
    if other not in installed_backends():
        return (f"{other} is not installed beside {BACKEND}: `{BACKEND_INSTALL[other]}` in this "
                f"environment enables the comparison with it")
    return None


class OtherBackend:
    """A :mod:`kmask.backend_worker` process on ``backend``, started on first use."""

    def __init__(self, backend: str):
        self.backend = backend
        env = {**os.environ, "KERAS_BACKEND": backend}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kmask.backend_worker"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        atexit.register(self.close)
        status, _ = self._receive()
        if status != "ready":
            raise RuntimeError(f"the {backend} worker did not start")

    def _receive(self):
        from .backend_worker import receive

        reply = receive(self.process.stdout)
        if reply is None:
            raise RuntimeError(f"the {self.backend} worker exited (code {self.process.poll()})")
        return reply

    def results_for(self, spec: StackSpec, batch: PaddedBatch, loss_targets: np.ndarray):
        """``("ok", results)`` or ``("error", message)`` from the worker."""
        from .backend_worker import send

        send(self.process.stdin, (spec, batch, loss_targets))
        return self._receive()

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


_WORKERS: dict[str, OtherBackend] = {}


def other_backend(backend: str) -> OtherBackend:
    """The worker on ``backend``, shared by every example of this test process."""
    if backend not in _WORKERS or _WORKERS[backend].process.poll() is not None:
        _WORKERS[backend] = OtherBackend(backend)
    return _WORKERS[backend]


def check_backends_agree(spec: StackSpec, batch: PaddedBatch, loss_targets: np.ndarray, other: str) -> None:
    """The backend under test and ``other`` give the same real outputs, final outputs, output
    masks, masked-loss gradients and compiled loss for ``spec`` on ``batch`` (failing, it writes a
    script that runs both backends, kmask.reproducers_backends).

    Tolerances are those of two float32 runs of one model (kmask.compare.tolerance): the
    backends differ in how they group sums and in the last bits of tanh, sigmoid and exp,
    errors of a few ulp per operation that the same depth-and-length bound covers."""
    status, theirs = other_backend(other).results_for(spec, batch, loss_targets)
    where = f"{other} vs {BACKEND}; model {spec}"
    ours = results_for(spec, batch, loss_targets)
    grads = ours["weight gradients"] + ([ours["input gradient"]] if ours["input gradient"] is not None else [])
    tolerances = {"outputs": tolerance(spec.depth, batch.timesteps), "output masks": 0.0,
                  "gradients": gradient_tolerance(spec, batch.timesteps, grads),
                  "loss": tolerance(spec.depth + 1, batch.timesteps)}

    def script(compared):
        return backends_script(
            spec, batch, evaluate_targets(spec, loss_targets), real_outputs(spec, batch),
            [out.shape[-1] for out in ours["outputs"]], other, BACKEND, compared, tolerances[compared],
            with_head(spec, LOSS),
        )

    with report.reproduced_by("backends_outputs", lambda: script("outputs")):
        if status != "ok":
            raise AssertionError(f"the model that runs on {BACKEND} fails on {other}: {theirs}; model {spec}")
        rows = range(batch.batch_size)
        assert_same_real_outputs(spec, batch, theirs["outputs"], rows, batch, ours["outputs"], rows,
                                 f"{other} vs {BACKEND}")
    with report.reproduced_by("backends_masks", lambda: script("output masks")):
        assert_same_length(theirs["output masks"], ours["output masks"], f"output masks, {where}")
        for k, (a, b) in enumerate(zip(theirs["output masks"], ours["output masks"])):
            assert_same_mask(a, b, f"output mask {k} on {other}, {where}", f"{BACKEND} gives")
    with report.reproduced_by("backends_gradients", lambda: script("gradients")):
        tol = tolerances["gradients"]
        if ours["input gradient"] is not None:
            assert_close(theirs["input gradient"], ours["input gradient"], tol, f"input gradient, {where}")
        assert_same_length(theirs["weight gradients"], ours["weight gradients"], f"weight gradients, {where}")
        for k, (a, b) in enumerate(zip(theirs["weight gradients"], ours["weight gradients"])):
            assert_close(a, b, tol, f"gradient of weight {k} {b.shape}, {where}")
    if "loss" in ours:
        with report.reproduced_by("backends_loss", lambda: script("loss")):
            assert_close(theirs["loss"], ours["loss"], tolerances["loss"], f"{LOSS} that evaluate() reports, {where}")
