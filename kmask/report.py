"""Standalone bug-report scripts: what a failing property leaves behind.

A script holds everything needed to see the failure with plain TensorFlow/Keras and NumPy
(no kmask import): the model written out in the Keras code a person would write, the weight
recipe, the data as literals, and both sides of the comparison that failed, computed the way
the property computes them. It prints the environment (Python, OS, NumPy, TensorFlow, Keras,
backend), what was expected, what happened and the largest difference, and exits with

* 1 where the problem reproduces,
* 0 where it does not (Keras agrees within the tolerance),
* 2 where the script itself fails (an exception: an API missing in that version, say).

Beside every script ``<name>-<hash>.py`` goes ``<name>-<hash>.md``, an issue body to paste
into a Keras issue as it is: title, environment, expected and actual in one sentence each,
the script and its output. Both go to ``$KMASK_REPORT_DIR`` (default ``kmask-reports/``,
``--kmask-report-dir``), one pair per distinct failure, and the failure message names them.
Writing costs nothing until a property's final failing example: then the script is written
and run once in a fresh interpreter (``KMASK_REPORT_RUN=0`` skips that run) to record its
output in the issue body.

This module is the core every family uses (``script_source``, :class:`Reproducer`,
``reproduced_by``) plus the forward family's runs and comparisons; the loss, propagation and
training families live in :mod:`kmask.reproducers`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument

from strategies import LayerSpec, StackSpec

from .compare import tolerance
from .keras_compat import BACKEND, GENERATION, PACKAGE, describe

REPORT_DIR_VARIABLE = "KMASK_REPORT_DIR"
RUN_VARIABLE = "KMASK_REPORT_RUN"
WITNESSES_VARIABLE = "KMASK_REPORT_WITNESSES"
REPRODUCES, AGREES, ERRORS = 1, 0, 2
"""A script's exit statuses: the problem reproduces, Keras agrees, the script itself failed."""
RUN_TIMEOUT = 600


def report_dir() -> Path:
    return Path(os.environ.get(REPORT_DIR_VARIABLE, "kmask-reports"))


@dataclasses.dataclass(frozen=True)
class Reproducer:
    """A standalone script and the sentences of its issue body."""

    title: str
    expected: str
    """What Keras should do, one sentence."""
    source: str


def _keras_import() -> str:
    quiet = 'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow start-up chatter\n'
    if PACKAGE == "tf_keras":
        return (quiet + 'os.environ["TF_USE_LEGACY_KERAS"] = "1"  # Keras 2 from the tf-keras package\n\n'
                "import numpy as np\nimport tensorflow as tf\nimport tf_keras as keras")
    keras = "import keras" if GENERATION == 3 else "from tensorflow import keras"
    return f"{quiet}\nimport numpy as np\nimport tensorflow as tf\n{keras}"


def literal(array) -> str:
    """Python source that rebuilds ``array`` exactly (dtype included), or ``None``."""
    if array is None:
        return "None"
    array = np.asarray(array)
    with np.printoptions(precision=9, threshold=1_000_000, linewidth=100, floatmode="maxprec"):
        text = np.array2string(array, separator=", ")
    text = re.sub(r"\b(nan|inf)\b", r"np.\1", text)
    return f"np.array({text}, dtype={array.dtype.name!r})"


_CONVERSIONS = {
    3: '''
def tensor(value):
    """An array as a tensor of the backend Keras runs on."""
    return keras.ops.convert_to_tensor(value)


def to_numpy(value):
    """A tensor of the backend Keras runs on as a NumPy array."""
    return keras.ops.convert_to_numpy(value)
''',
    2: '''
def tensor(value):
    return tf.constant(value)


def to_numpy(value):
    return np.asarray(value)
''',
}
"""``tensor`` and ``to_numpy`` of every script: through ``keras.ops`` on Keras 3, so a script
written on JAX or PyTorch runs there (their tensors are not TensorFlow's, and PyTorch's outputs
refuse ``np.asarray`` while they carry gradients)."""

_HEADER = '''
def environment():
    backend = keras.backend.backend() if hasattr(keras.backend, "backend") else "tensorflow"
    return (f"Python {platform.python_version()} on {platform.platform()}, NumPy {np.__version__}, "
            f"TensorFlow {tf.__version__}, Keras {KERAS_VERSION} (backend {backend})")
'''


def _keras_version() -> str:
    """Source of the installed Keras version (tf.keras of TF 2.12-2.15 has no __version__)."""
    if GENERATION == 2 and PACKAGE == "keras":
        return 'KERAS_VERSION = importlib.metadata.version("keras")  # tf.keras has no __version__'
    return "KERAS_VERSION = keras.__version__"

_FOOTER = '''
def difference(expected, actual):
    """Whether the two sides differ beyond TOL (NaN equals NaN; None is "no mask" and a string
    names an outcome: those differ unless equal), and by how much."""
    if expected is None or actual is None or isinstance(expected, str) or isinstance(actual, str):
        differs = not (expected is actual or (isinstance(expected, str) and expected == actual))
        return differs, float("inf") if differs else 0.0
    expected, actual = np.asarray(expected, np.float64), np.asarray(actual, np.float64)
    if expected.shape != actual.shape:
        return True, float("inf")
    gaps = np.where(np.isnan(actual) & np.isnan(expected), 0.0, np.abs(actual - expected))
    largest = float(np.nan_to_num(gaps, nan=np.inf).max(initial=0))
    return not np.allclose(actual, expected, rtol=TOL, atol=TOL, equal_nan=True), largest


def show(value):
    return "None" if value is None else np.array2string(np.asarray(value), precision=6, threshold=200)


def main():
    print(environment())
    expected, actual = both_sides()
    reproduced, largest = difference(expected, actual)
    print("expected:", EXPECTED)
    print("  expected value:", show(expected).replace("\\n", "\\n                  "))
    print("  actual value:  ", show(actual).replace("\\n", "\\n                  "))
    print(f"largest difference: {largest:.6g} (tolerance {TOL:.3g})")
    print("REPRODUCED: Keras disagrees" if reproduced else "not reproduced: Keras agrees here")
    return 1 if reproduced else 0


if __name__ == "__main__":
    try:
        status = main()
    except Exception:  # exit 2: the script could not run here (an API this version lacks, ...)
        traceback.print_exc()
        status = 2
    raise SystemExit(status)
'''


def script_source(title: str, expected: str, tol: float, body: str, tol_note: str) -> str:
    """A complete script: ``body`` must define ``both_sides()`` returning ``(expected, actual)``
    (floats, arrays, or None for "no mask"), compared within ``tol``."""
    docstring = (
        f'"""{title}\n\nExpected: {expected}\n\nGenerated by kmask on {describe()}; needs only '
        "TensorFlow/Keras and NumPy.\nExit status: 1 where the problem reproduces, 0 where it "
        'does not, 2 where the script itself fails.\n"""'
    )
    version = _keras_version()
    modules = (["importlib.metadata"] if "importlib." in version else []) + (
        ["inspect"] if "inspect." in body else []) + ["os", "platform"] + [
        m for m in ("subprocess", "sys", "tempfile") if f"{m}." in body] + ["traceback"]
    imports = "".join(f"import {m}\n" for m in modules) + "\n" + _keras_import()
    constants = f"{version}\nTOL = {tol!r}  # {tol_note}\nEXPECTED = {expected!r}"
    return "\n\n\n".join(
        [docstring, imports, constants, _HEADER.strip(), _CONVERSIONS[GENERATION].strip(), body.strip(),
         _FOOTER.strip()]
    ) + "\n"


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
    if api == "subclassed_layer":
        return _stack_layer_source(spec, name, shape, dtype)
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


def _stack_layer_source(spec: StackSpec, name: str, shape: str, dtype: str) -> str:
    """``name(timesteps=None)`` building a subclassed *layer* that calls the mask-making input
    layer and the others in order without passing ``mask=`` (kmask.graph_build.StackLayer), with
    every weight drawn layer by layer (kmask.graph_build.set_layer_weights)."""
    return "\n".join([
        "class StackLayer(keras.layers.Layer):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.mask_layer = {spec.input_layer.source()}",
        f"        self.stack = [{', '.join(layer.source() for layer in spec.layers)}]",
        "",
        "    def call(self, inputs, training=None):",
        "        x = self.mask_layer(inputs)",
        "        for layer in self.stack:",
        "            x = layer(x)  # no mask=: Keras is relied on to pass it",
        "        return x",
        "",
        "",
        f"def {name}(timesteps=None):",
        "    model = StackLayer()",
        f"    model(np.ones((1, timesteps or 2) + {shape}[1:], dtype={dtype!r}))  # create weights",
        *set_weights_lines(spec.weight_seed, "[model.mask_layer] + model.stack"),
        "    return model",
    ])


def set_weights_lines(seed: int, layers: str) -> list[str]:
    """Function-body lines giving every layer of the list ``layers`` its weights, drawn layer by
    layer from ``default_rng(seed)`` as kmask.graph_build.set_layer_weights draws them."""
    return [
        f"    rng = np.random.default_rng({seed})  # every weight, layer by layer",
        f"    for layer in {layers}:",
        "        weights = [rng.uniform(-0.6, 0.6, size=tuple(w.shape)).astype('float32') for w in layer.weights]",
        "        layer.set_weights([np.abs(v) + 0.1 if 'moving_variance' in w.name else v",
        "                           for w, v in zip(layer.weights, weights)])",
    ]


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
    mode: str = "eager"
    """How the model is called: eagerly, or one of kmask.modes.MODES (MODE_OUTPUTS)."""


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


_EAGER_OUTPUTS = '''
def outputs(model, x, mask=None):
    out = model(x, training=False) if mask is None else model(x, mask=tensor(mask), training=False)
    return [to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
'''

_CALL_OUTPUTS = '''
def outputs(model, x, mask=None, mode="eager"):
    """The model called eagerly, or in a tf.function (jit_compile=XLA)."""
    if mode == "eager":
        out = model(x, training=False) if mask is None else model(x, mask=tensor(mask), training=False)
    elif mask is None:
        out = tf.function(lambda x: model(x, training=False), jit_compile=XLA)(x)
    else:
        out = tf.function(lambda x, m: model(x, mask=m, training=False), jit_compile=XLA)(x, tensor(mask))
    return [to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
'''

_PREDICT_OUTPUTS = '''
def outputs(model, x, mask=None, mode="eager"):
    """The model called eagerly, or through compile(jit_compile=XLA) and predict() in batches of
    {batch_size}."""
    if mode == "eager":
        out = model(x, training=False)
    else:
        model.compile(jit_compile=XLA)
        out = model.predict(x, batch_size={batch_size}, verbose=0)
    return [to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
'''

_RANDOM_RESET = {
    3: """    weights = {id(w) for w in model.weights}  # the other variables are seed generators' states
    for k, state in enumerate(v for v in model.variables if id(v) not in weights):
        state.assign(np.array([11 + k, 0], dtype=state.dtype))""",
    2: "    tf.random.set_seed(1234)  # Keras 2 dropout ops are stateful: a fresh model and this global seed",
}

_TRAINING_OUTPUTS = f'''
def outputs(model, x, mask=None, mode="training"):
    """The model called with training=True from a fixed random state, so dropout noise repeats."""
{_RANDOM_RESET[GENERATION]}
    out = model(x, training=True) if mask is None else model(x, mask=tensor(mask), training=True)
    return [to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
'''

MODE_OUTPUTS = {"tf_function": (_CALL_OUTPUTS, False), "xla": (_CALL_OUTPUTS, True),
                "predict": (_PREDICT_OUTPUTS.replace("{batch_size}", "len(x)"), False),
                "predict_jit": (_PREDICT_OUTPUTS.replace("{batch_size}", "len(x)"), True),
                "predict_batches": (_PREDICT_OUTPUTS.replace("{batch_size}", "PREDICT_BATCH_SIZE"), False),
                "training": (_TRAINING_OUTPUTS, None)}
"""The ``outputs`` function and its XLA flag (None: no XLA choice) of a script that calls a
model in that mode (kmask.modes.MODES, training=True, or predict() in batches of
``PREDICT_BATCH_SIZE``, a constant the script defines)."""

_FORWARD = '''


def pick(output, row, steps):
    return output[row, steps] if output.ndim == 3 else output[row]


def both_sides():
    """Every compared value of run b (expected) and of run a (actual), flattened."""
    results = [outputs(model(x.shape[1] if fixed else None), x, mask, *mode) for model, x, mask, fixed, *mode in RUNS]
    expected, actual = [], []
    for a, row_a, steps_a, b, row_b, steps_b in COMPARISONS:
        for k, (out_a, out_b) in enumerate(zip(results[a], results[b])):
            got, want = pick(out_a, row_a, steps_a), pick(out_b, row_b, steps_b)
            if not np.allclose(got, want, rtol=TOL, atol=TOL, equal_nan=True):
                print(f"output {k}: run {a} row {row_a} steps {steps_a} != run {b} row {row_b} steps {steps_b}")
            expected.append(want.ravel())
            actual.append(got.ravel())
    return np.concatenate(expected), np.concatenate(actual)
'''


def script(title: str, expectation: str, models: dict[str, tuple[StackSpec, str]],
           runs: list[Run], comparisons: list[Comparison], tol: float, *,
           more_models: str = "", tol_note: str = "float32 reordering tolerance (kmask/compare.py)") -> Reproducer:
    """The reproducer that replays ``comparisons`` between ``runs`` (the forward family)."""
    modes = {run.mode for run in runs} - {"eager"}
    if len(modes) > 1:
        raise ValueError(f"a script calls models in one mode besides eager, not {sorted(modes)}")
    mode = modes.pop() if modes else None
    parts = ["layers = keras.layers"]
    if mode and MODE_OUTPUTS[mode][1] is not None:
        parts.append(f"XLA = {MODE_OUTPUTS[mode][1]}  # jit_compile")
    parts += [model_source(spec, api, name) for name, (spec, api) in models.items()]
    if more_models:
        parts.append(more_models.strip())
    run_lines = ["RUNS = [  # (model, inputs, explicit mask or None, build for fixed timesteps"
                 + (", how it is called)" if mode else ")")]
    for run in runs:
        how = f", {run.mode!r}" if mode else ""
        run_lines.append(f"    ({run.model}, {literal(run.values)},\n     {literal(run.mask)}, {run.fixed_timesteps}{how}),")
    run_lines.append("]")
    parts.append("\n".join(run_lines))
    parts.append(
        "COMPARISONS = [  # (run a, row, real steps, run b, row, real steps)\n"
        + "".join(f"    {dataclasses.astuple(c)!r},\n" for c in comparisons) + "]"
    )
    parts.append((MODE_OUTPUTS[mode][0] if mode else _EAGER_OUTPUTS).strip() + "\n\n\n" + _FORWARD.strip())
    source = script_source(title, expectation, tol, "\n\n\n".join(parts), tol_note)
    return Reproducer(title, expectation, source)


def _run(path: Path) -> tuple[int | None, str]:
    """Run the script at ``path`` in a fresh interpreter: its exit status and output."""
    try:
        done = subprocess.run([sys.executable, path.name], cwd=path.parent, capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"(did not finish within {RUN_TIMEOUT} s)"
    return done.returncode, (done.stdout + done.stderr).strip()


def issue_body(reproducer: Reproducer, actual: str, script_name: str, status, output: str | None) -> str:
    """The Markdown issue body: title, environment, expected and actual, the script, its output."""
    if output is None:
        ran = f"(not run: {RUN_VARIABLE}=0; run `python {script_name}`)"
    else:
        ran = f"{output}\n\n(exit status {status}: 1 reproduces, 0 does not, 2 the script failed)"
    return "\n".join([
        f"# {reproducer.title}",
        "",
        f"**Environment:** {describe()}, backend {BACKEND}; Python {platform.python_version()} on "
        f"{platform.platform()}, NumPy {np.__version__}.",
        "",
        f"**Expected:** {reproducer.expected[0].upper() + reproducer.expected[1:].rstrip('.')}.",
        "",
        f"**Actual:** {actual.rstrip('.')}.",
        "",
        f"## Reproduce (`python {script_name}`, needs only TensorFlow/Keras and NumPy)",
        "",
        "```python",
        reproducer.source.rstrip(),
        "```",
        "",
        "## Output",
        "",
        "```",
        ran,
        "```",
        "",
    ])


def write(name: str, reproducer: Reproducer, actual: str) -> tuple[Path, int | None]:
    """Save the script under the report directory (the file name carries ``name`` and a hash),
    run it once unless ``KMASK_REPORT_RUN=0``, and save its issue body beside it; the path and
    the run's exit status (None if not run)."""
    directory = report_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{hashlib.sha1(reproducer.source.encode()).hexdigest()[:8]}.py"
    path.write_text(reproducer.source)
    status, output = _run(path) if os.environ.get(RUN_VARIABLE, "1") != "0" else (None, None)
    path.with_suffix(".md").write_text(issue_body(reproducer, actual, path.name, status, output))
    return path, status


FRESH_RUN = {
    REPRODUCES: "; it reproduces in a fresh interpreter",
    AGREES: "; it does NOT reproduce in a fresh interpreter (the failure needs state of this run)",
    ERRORS: "; it fails to run in a fresh interpreter (see the issue body)",
}


def _wanted(fixed_example: bool) -> bool:
    """True on a property's final failing example (not while Hypothesis searches or shrinks) and
    in a test of ``fixed_example``s; in another plain call (a divergence witness) only on request,
    ``KMASK_REPORT_WITNESSES=1``, so the replays of known divergences cost nothing extra."""
    try:
        return current_build_context().is_final
    except InvalidArgument:
        return fixed_example or os.environ.get(WITNESSES_VARIABLE) == "1"


def first_line(failure: BaseException) -> str:
    lines = str(failure).strip().splitlines()
    return lines[0] if lines else type(failure).__name__


@contextlib.contextmanager
def reproduced_by(name: str, make_reproducer, fixed_example: bool = False):
    """On the final failing example, write ``make_reproducer()`` (a :class:`Reproducer`) and its
    issue body, and name the script in the failure; ``fixed_example``: the check runs a fixed
    example outside Hypothesis (save/load, the seed notebook), where every failure is final.

    The failure is re-raised as the same exception object, so Hypothesis sees the same
    failure it shrank to.
    """
    try:
        yield
    except AssertionError as failure:
        if _wanted(fixed_example):
            try:
                path, status = write(name, make_reproducer(), first_line(failure))
                note = f"python {path} (issue body: {path.with_suffix('.md')}){FRESH_RUN.get(status, '')}"
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


_HELD = '''
def held(sequence, mask):
    """Each step holds the output of the last real step so far (zeros before the first)."""
    expected, last = np.zeros_like(sequence), np.zeros_like(sequence[:, 0])
    for t in range(sequence.shape[1]):
        last = np.where(mask[:, t, None], sequence[:, t], last)
        expected[:, t] = last
    return expected


def both_sides():
    """Padded steps of every output against zeros (Bidirectional), or the sequence against it
    held at padded steps and the returned state h against the last real output."""
    x, explicit_mask = RUN
    model = make_model(x.shape[1] if FIXED_TIMESTEPS else None)
    out = model(x, training=False) if explicit_mask is None else model(x, mask=tensor(explicit_mask), training=False)
    outputs = [to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
    if BIDIRECTIONAL:
        at_padding = np.concatenate([o[~MASK].ravel() for o in outputs])
        return np.zeros_like(at_padding), at_padding
    sequence, states = outputs[0], outputs[1:]
    emitted = MASK[:, ::-1] if GO_BACKWARDS else MASK  # go_backwards emits last step first
    expected = held(sequence, emitted)
    expected_state = expected[:, -1]  # the state is the last real output either way
    if ZERO_OUTPUT:  # zero_output_for_mask: zeros at padded steps
        expected = np.where(emitted[..., None], sequence, 0.0)
    if not states:
        return expected, sequence
    return (np.concatenate([expected.ravel(), expected_state.ravel()]),
            np.concatenate([sequence.ravel(), states[0].ravel()]))
'''


def held_script(spec: StackSpec, api: str, batch) -> Reproducer:
    """The script of the recurrent property: padded steps hold the last real output."""
    layer = spec.layers[-1]
    title = f"A {layer.kind} layer's outputs move at padded steps: {spec}"
    expectation = ("with return_sequences, each padded step repeats the last real step's output (zeros "
                   "before the first real step; zeros throughout for Bidirectional and with "
                   "zero_output_for_mask, as documented), and "
                   "the returned state h is the last real output")
    run = run_of("make_model", spec, batch)
    body = "\n\n\n".join([
        "layers = keras.layers",
        model_source(spec, api),
        f"RUN = ({literal(run.values)},\n       {literal(run.mask)})  # (inputs, explicit mask or None)\n"
        f"MASK = {literal(batch.mask)}  # the real steps\nFIXED_TIMESTEPS = {spec.needs_fixed_timesteps}\n"
        f"BIDIRECTIONAL = {layer.kind == 'Bidirectional'}\nGO_BACKWARDS = {bool(layer.option('go_backwards'))}\n"
        f"ZERO_OUTPUT = {bool(layer.option('zero_output_for_mask'))}  # zero_output_for_mask=True",
        _HELD.strip(),
    ])
    source = script_source(title, expectation, tolerance(spec.depth, batch.timesteps), body,
                           "float32 reordering tolerance (kmask/compare.py)")
    return Reproducer(title, expectation, source)
