"""Standalone bug-report scripts: what a failing property leaves behind.

A script holds everything needed to see the failure with plain TensorFlow/Keras and
NumPy (no kmask import): the model written out layer by layer, the weight recipe, the
inputs as literals, and the comparison that failed. Paste it into a Keras issue as
it is. Scripts go to ``$KMASK_REPORT_DIR`` (default ``kmask-reports/``), one file per
distinct failure, and the failure message names the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument

from strategies import LayerSpec, StackSpec

from .keras_compat import GENERATION, PACKAGE, describe

REPORT_DIR_VARIABLE = "KMASK_REPORT_DIR"


def report_dir() -> Path:
    return Path(os.environ.get(REPORT_DIR_VARIABLE, "kmask-reports"))


def _keras_import() -> str:
    if PACKAGE == "tf_keras":
        return "import tf_keras as keras  # run with TF_USE_LEGACY_KERAS=1"
    return "import keras" if GENERATION == 3 else "from tensorflow import keras"


def _literal(array: np.ndarray) -> str:
    with np.printoptions(precision=9, threshold=1_000_000, linewidth=100, floatmode="maxprec"):
        return f"np.array({np.array2string(array, separator=', ')}, dtype=np.{array.dtype})"


def _call(layer: LayerSpec, target: str, arg: str, mask: str | None = None) -> str:
    """Source calling ``target`` (a layer expression) the way kmask.build.apply_layer does."""
    options = [f"{k}={v!r}" for k, v in layer.call_options.items()]
    if layer.kind == "MultiHeadAttention":
        if mask:
            options += (
                [f"query_mask={mask}", f"value_mask={mask}"] if GENERATION == 3
                else [f"attention_mask={mask}[:, :, None] & {mask}[:, None, :]"]
            )
        return f"{target}({arg}, {arg}{''.join(', ' + o for o in options)})"
    if mask:
        options.append(f"mask={mask}")
    return f"{target}({arg}{''.join(', ' + o for o in options)})"


def model_source(spec: StackSpec, api: str, name: str = "make_model") -> str:
    """A function ``name(timesteps=None)`` that builds ``spec`` with ``api`` and its weights."""
    if spec.style == "embedding":
        shape, dtype = "(timesteps,)", "int32"
    else:
        shape, dtype = f"(timesteps, {spec.features})", "float32"
    layers = ([spec.input_layer] if spec.input_layer else []) + list(spec.layers)
    lines = [f"def {name}(timesteps=None):"]
    if api == "functional":
        lines.append(f"    inputs = keras.Input(shape={shape}, dtype={dtype!r})")
        lines.append("    x = inputs")
        lines += [f"    x = {_call(layer, layer.source(), 'x')}" for layer in layers]
        lines.append("    model = keras.Model(inputs, x)")
    elif api == "sequential":
        lines.append(f"    model = keras.Sequential([keras.Input(shape={shape}, dtype={dtype!r}),")
        lines += [f"        {layer.source()}," for layer in layers]
        lines.append("    ])")
    else:
        lines += [
            "    class StackModel(keras.Model):",
            "        def __init__(self):",
            "            super().__init__()",
            f"            self.stack = [{', '.join(layer.source() for layer in layers)}]",
            "",
            "        def call(self, x, mask=None):",
        ]
        first = 1 if spec.input_layer else 0
        if first:
            lines.append("            x = self.stack[0](x)")
        for i, layer in enumerate(spec.layers, start=first):
            target = f"self.stack[{i}]"
            lines.append(
                f"            x = ({_call(layer, target, 'x', 'mask')} if mask is not None and "
                f"{_takes_mask_expr(layer, target)}\n                 else {_call(layer, target, 'x')})"
            )
            if not layer.returns_sequence or layer.reverses_time:
                lines.append("            mask = None  # the time axis no longer matches the mask")
        lines += [
            "            return x",
            "",
            "    model = StackModel()",
            f"    model(np.ones((1, timesteps or 2) + {shape}[1:], dtype={dtype!r}))  # create weights",
        ]
    lines += [
        f"    rng = np.random.default_rng({spec.weight_seed})",
        "    model.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype('float32')",
        "                       for w in model.get_weights()])",
        "    return model",
    ]
    return "\n".join(lines)


def _takes_mask_expr(layer: LayerSpec, target: str) -> str:
    if layer.kind == "MultiHeadAttention":
        return "True"
    return f"'mask' in inspect.signature({target}.call).parameters"


@dataclasses.dataclass(frozen=True)
class Run:
    """One model call in a script: which model, for how many timesteps, on what."""

    model: str
    values: np.ndarray
    mask: np.ndarray | None = None
    fixed_timesteps: bool = False


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Every output of run ``a`` at ``(row_a, steps_a)`` must equal run ``b`` at
    ``(row_b, steps_b)``; the steps apply to sequence outputs, final outputs compare whole rows."""

    a: int
    row_a: int
    steps_a: list
    b: int
    row_b: int
    steps_b: list


_RUNNER = '''
def outputs(model, x, mask=None):
    out = model(x, training=False) if mask is None else model(x, mask=tf.constant(mask), training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def pick(output, row, steps):
    return output[row, steps] if output.ndim == 3 else output[row]


results = [outputs(model(x.shape[1] if fixed else None), x, mask) for model, x, mask, fixed in RUNS]
failed = False
for a, row_a, steps_a, b, row_b, steps_b in COMPARISONS:
    for k, (out_a, out_b) in enumerate(zip(results[a], results[b])):
        got, expected = pick(out_a, row_a, steps_a), pick(out_b, row_b, steps_b)
        if not np.allclose(got, expected, rtol=TOL, atol=TOL, equal_nan=True):
            failed = True
            print(f"output {k}: run {a} row {row_a} steps {steps_a} != run {b} row {row_b} steps {steps_b}")
            print("  got     ", np.array2string(got, precision=6).replace("\\n", "\\n           "))
            print("  expected", np.array2string(expected, precision=6).replace("\\n", "\\n           "))
versions = f"TensorFlow {tf.__version__}, Keras {getattr(keras, '__version__', '(bundled)')}"
print(versions, "FAILS:" if failed else "passes:", EXPECTATION)
raise SystemExit(1 if failed else 0)
'''


def script(title: str, expectation: str, models: dict[str, tuple[StackSpec, str]],
           runs: list[Run], comparisons: list[Comparison], tol: float) -> str:
    """The source of a standalone script that replays ``comparisons`` between ``runs``."""
    parts = [
        f'"""{title}\n\nExpected: {expectation}\nGenerated by kmask on {describe()}; needs only '
        "TensorFlow/Keras and NumPy.\nExit status 1 (and the mismatching values) where Keras "
        'disagrees.\n"""',
        "import inspect\n\nimport numpy as np\nimport tensorflow as tf\n" + _keras_import(),
        f"layers = keras.layers\nTOL = {tol!r}  # float32 reordering tolerance (kmask/compare.py)\n"
        f"EXPECTATION = {expectation!r}",
    ]
    parts += [model_source(spec, api, name) for name, (spec, api) in models.items()]
    run_lines = ["RUNS = ["]
    for run in runs:
        mask = _literal(run.mask) if run.mask is not None else "None"
        run_lines.append(f"    ({run.model}, {_literal(run.values)},\n     {mask}, {run.fixed_timesteps}),")
    run_lines.append("]")
    parts.append("\n".join(run_lines))
    parts.append(
        "COMPARISONS = [  # (run a, row, real steps, run b, row, real steps)\n"
        + "".join(f"    {dataclasses.astuple(c)!r},\n" for c in comparisons) + "]"
    )
    parts.append(_RUNNER.strip())
    return "\n\n\n".join(parts) + "\n"


def write(name: str, source: str) -> Path:
    """Save ``source`` under the report directory; the file name carries ``name`` and a hash."""
    directory = report_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{hashlib.sha1(source.encode()).hexdigest()[:8]}.py"
    path.write_text(source)
    return path


def _final_example() -> bool:
    """False while Hypothesis is still searching or shrinking (no script for those runs)."""
    try:
        return current_build_context().is_final
    except InvalidArgument:  # not inside a Hypothesis test: a plain call, e.g. a divergence witness
        return True


@contextlib.contextmanager
def reproduced_by(name: str, make_script):
    """On the final failing example, write ``make_script()`` and name it in the failure.

    The failure is re-raised as the same exception object, so Hypothesis sees the same
    failure it shrank to.
    """
    try:
        yield
    except AssertionError as failure:
        if _final_example():
            try:
                note = f"python {write(name, make_script())}"
            except Exception as error:  # a report must never hide the failure itself
                note = f"not written ({type(error).__name__}: {error})"
            failure.args = (f"{failure.args[0] if failure.args else ''}\n\n"
                            f"Standalone reproduction (plain Keras + NumPy): {note}",)
        raise


def row_comparisons(spec: StackSpec, batch_a, a: int, rows_a, batch_b, b: int, rows_b) -> list[Comparison]:
    """Row ``rows_a[k]`` of run ``a`` against row ``rows_b[k]`` of run ``b`` at their real steps."""
    from .checks import real_steps_in_order
    from .oracle import alone_positions

    pos_a, pos_b = alone_positions(spec, batch_a), alone_positions(spec, batch_b)
    return [
        Comparison(a, int(i), real_steps_in_order(pos_a[i]).tolist(),
                   b, int(j), real_steps_in_order(pos_b[j]).tolist())
        for i, j in zip(rows_a, rows_b)
    ]


def run_of(model: str, spec: StackSpec, batch) -> Run:
    """A script run of ``batch`` (with its mask for the explicit style)."""
    mask = batch.mask if batch.style == "explicit" else None
    return Run(model, batch.values, mask, spec.needs_fixed_timesteps)
