"""Saving a model and loading it again, on a handful of fixed models, and the check that the
reloaded model keeps masking: same outputs on a padded batch, same output mask.

Formats: ``.keras`` everywhere; legacy ``.h5`` everywhere; SavedModel through
``model.save(dir)`` on Keras 2 and through ``model.export(dir)`` (an inference-only artifact, no
Keras masks to read back) on Keras 3.
"""

from __future__ import annotations

import inspect

import numpy as np

from strategies import LayerSpec, PaddedBatch
from strategies.graphs import GraphSpec, Node

from . import report
from .compare import assert_close, tolerance
from .divergences import BY_ID, Divergence
from .graph_build import as_mask, attached_mask, chain_model
from .keras_compat import BACKEND, GENERATION, keras, tf, to_numpy
from .mask_checks import assert_same_mask
from .reproducers_masks import CHAIN_BUILDER_SOURCE, chain_input, layer_source

TIMESTEPS = 6


def _chain(style, *layers, mask_value=0.0):
    nodes = tuple(Node(layer, (0 if i == 0 else i + 1,)) for i, layer in enumerate(layers))
    return GraphSpec(style, nodes, mask_value=mask_value)


def _rnn(kind, **options):
    defaults = dict(units=3, return_sequences=False, return_state=False, go_backwards=False, unroll=False)
    return LayerSpec.make(kind, **{**defaults, **options})


EMBED_LSTM = _chain("embedding", LayerSpec.make("Dense", units=2), _rnn("LSTM", return_sequences=True))
MASKING_BIGRU = _chain(
    "masking", LayerSpec.make("Bidirectional", layer=_rnn("GRU"), merge_mode="concat"), mask_value=0.5
)
EMBED_POOL = _chain(
    "embedding",
    LayerSpec.make("TimeDistributed", layer=LayerSpec.make("Dense", units=2)),
    LayerSpec.make("GlobalAveragePooling1D"),
)


def known_divergence(spec: GraphSpec, api: str, file_format: str) -> Divergence | None:
    """The divergence active on the installed Keras that reloading the ``api`` model of ``spec``
    from ``file_format`` hits, if any."""
    hits = {
        "functional-h5-mask-op-unloadable": (api, file_format) == ("functional", "h5"),
        "bidirectional-keras-format-unloadable": file_format == "keras"
        and any(layer.kind == "Bidirectional" for layer in spec.layers),
    }
    return next((BY_ID[key] for key, hit in hits.items() if hit and BY_ID[key].active), None)


def unsupported_here(file_format: str) -> str | None:
    """Why ``file_format`` cannot be checked on the installed backend, in one line, or None."""
    if file_format == "savedmodel" and BACKEND == "torch":
        return ("SavedModel export skips on the torch backend: Keras 3.15.1's model.export() stops "
                "there with ValueError 'Node type mismatch' (torch.export); checked on TensorFlow and JAX")
    return None


def fixed_batch(spec: GraphSpec) -> PaddedBatch:
    """Post- and pre-padded rows and a fully padded one."""
    mask = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], bool)
    if spec.style == "embedding":
        tokens = np.where(mask, np.arange(1, 7)[None, :] % (spec.vocab_size - 1) + 1, 0)
        return PaddedBatch("embedding", tokens.astype(np.int32), mask)
    values = np.linspace(-1.5, 1.5, mask.size * spec.features, dtype=np.float32)
    values = values.reshape(mask.shape + (spec.features,))
    values = np.where(mask[..., None], values, np.float32(spec.mask_value)).astype(np.float32)
    return PaddedBatch("masking", values, mask, spec.mask_value)


def _quiet_export_options() -> dict:
    """``verbose=False`` where the installed ``Model.export`` takes it (Keras 3.6 on), else nothing:
    older exports have no such argument."""
    accepts_verbose = "verbose" in inspect.signature(keras.Model.export).parameters
    return {"verbose": False} if accepts_verbose else {}


def save_and_load(model, directory, file_format: str):
    """The model as reloaded from ``file_format`` (a Keras model, or on Keras 3 for SavedModel a
    TensorFlow object whose ``serve`` gives the outputs)."""
    if file_format in ("keras", "h5"):
        path = str(directory / f"model.{file_format}")
        model.save(path)
        return keras.models.load_model(path)
    path = str(directory / "saved_model")
    if GENERATION == 2:
        model.save(path, save_format="tf")
        return keras.models.load_model(path)
    model.export(path, **_quiet_export_options())
    return tf.saved_model.load(path)  # keep the object alive: .serve alone loses its variables


def check_reload_keeps_masking(spec: GraphSpec, api: str, file_format: str, directory) -> None:
    """The ``api`` model of ``spec``, saved to ``file_format`` in ``directory`` and loaded again,
    gives the same outputs and output mask (eager and symbolic) on :func:`fixed_batch` (failing,
    it writes a standalone script)."""
    batch = fixed_batch(spec)
    with report.reproduced_by("save_load", lambda: save_load_script(spec, api, file_format, batch),
                              fixed_example=True):
        model = chain_model(spec, api, TIMESTEPS)
        expected = model(batch.values, training=False)
        reloaded = save_and_load(model, directory, file_format)
        is_keras_model = isinstance(reloaded, keras.Model)
        actual = reloaded(batch.values, training=False) if is_keras_model else reloaded.serve(batch.values)
        what = f"{api} model of {spec} reloaded from {file_format}"
        assert_close(to_numpy(actual), to_numpy(expected), tolerance(spec.depth, TIMESTEPS), f"{what}: output")
        if is_keras_model:
            assert_same_mask(as_mask(attached_mask(actual)), as_mask(attached_mask(expected)),
                             f"{what}: eager output mask")
            if (attached_mask(reloaded.outputs[0]) is None) != (attached_mask(model.outputs[0]) is None):
                raise AssertionError(f"{what}: the symbolic output mask appeared or vanished")


_SAVED_MODEL_SOURCE = {
    2: '''    path = os.path.join(directory, "saved_model")
    model.save(path, save_format="tf")
    return keras.models.load_model(path)''',
    3: '''    path = os.path.join(directory, "saved_model")
    model.export(path{options})
    return tf.saved_model.load(path)  # an inference-only artifact: its serve() gives the outputs''',
}

_SAVE_LOAD_SIDES = '''
def mask_of(tensor):
    mask = getattr(tensor, "_keras_mask", None)
    return None if mask is None else to_numpy(mask).astype(bool)


def both_sides():
    """The reloaded model's output against the original's; where they agree, its eager output
    mask, then whether its symbolic output has a mask, against the original's."""
    model = make_model()
    expected = model(X, training=False)
    with tempfile.TemporaryDirectory() as directory:
        reloaded = save_and_load(model, directory)
        is_keras_model = isinstance(reloaded, keras.Model)
        actual = reloaded(X, training=False) if is_keras_model else reloaded.serve(X)
        if difference(to_numpy(expected), to_numpy(actual))[0] or not is_keras_model:
            print(f"output of the model reloaded from {FORMAT!r} vs the original's")
            return to_numpy(expected), to_numpy(actual)
        if difference(mask_of(expected), mask_of(actual))[0]:
            print(f"eager output mask of the model reloaded from {FORMAT!r} vs the original's")
            return mask_of(expected), mask_of(actual)
        print(f"symbolic output mask of the model reloaded from {FORMAT!r} vs the original's")
        has_mask = ["a mask" if getattr(m.outputs[0], "_keras_mask", None) is not None else "no mask"
                    for m in (model, reloaded)]
        return has_mask[0], has_mask[1]
'''


def save_load_script(spec: GraphSpec, api: str, file_format: str, batch: PaddedBatch) -> report.Reproducer:
    """The standalone script of :func:`check_reload_keeps_masking`."""
    title = f"A {api} model reloaded from {file_format} masks differently: {spec}"
    expected = (f"the model saved as {file_format} and loaded again gives the original's outputs on a padded "
                "batch, and (a Keras model) the original's eager output mask and symbolic output mask")
    chain, shape, dtype = chain_input(spec, batch)
    if file_format in ("keras", "h5"):
        save = (f'    path = os.path.join(directory, "model.{file_format}")\n    model.save(path)\n'
                "    return keras.models.load_model(path)")
    else:
        options = ", verbose=False" if GENERATION == 3 and _quiet_export_options() else ""
        save = _SAVED_MODEL_SOURCE[GENERATION].format(options=options)
    model = "\n".join([
        "def make_model():",
        f"    built = [{', '.join(layer_source(layer) for layer in chain)}]",
        *CHAIN_BUILDER_SOURCE[api].splitlines(),
        *report.set_weights_lines(spec.weight_seed, "built"),
        "    return model",
    ])
    body = "\n\n\n".join([
        "layers = keras.layers",
        f"FORMAT = {file_format!r}\nSHAPE = {shape}\nDTYPE = {dtype!r}",
        model,
        f"def save_and_load(model, directory):\n    \"\"\"The model saved as FORMAT in directory and loaded again.\"\"\"\n{save}",
        f"X = {report.literal(batch.values)}",
        _SAVE_LOAD_SIDES.strip(),
    ])
    source = report.script_source(title, expected, tolerance(spec.depth, TIMESTEPS), body,
                                  "float32 reordering tolerance (kmask/compare.py); masks compare exactly")
    return report.Reproducer(title, expected, source)
