"""Import the Keras under test, whichever generation it is, or explain in one line why not.

Three installations are supported:

* TF 2.12-2.15: Keras 2 as ``tf.keras`` (the ``keras`` 2.x package);
* TF 2.16+ with ``TF_USE_LEGACY_KERAS=1``: Keras 2 from the ``tf-keras`` package;
* TF 2.16+: Keras 3 (the ``keras`` package) on the TensorFlow, JAX or PyTorch backend
  (``KERAS_BACKEND``; TensorFlow stays installed for the data pipelines).

Everything else in the suite imports ``keras`` from here, never directly.
"""

import os
import warnings

from packaging.version import Version

from .errors import KerasUnavailable

SUPPORTED_TF = (Version("2.12"), Version("2.22"))  # [low, high)


BACKENDS = ("tensorflow", "jax", "torch")
"""The Keras 3 backends kmask runs on (TensorFlow stays installed on every one: the suite builds
its data with NumPy and tf.data)."""
BACKEND_INSTALL = {"jax": "pip install 'jax[cpu]'", "torch": "pip install torch==2.13.0"}


def _check_backend_name() -> str:
    """The backend KERAS_BACKEND names, checked before anything imports Keras."""
    requested = os.environ.get("KERAS_BACKEND", "tensorflow")
    if requested not in BACKENDS:
        raise KerasUnavailable(
            f"KERAS_BACKEND={requested!r} is not a backend kmask runs on: use one of {', '.join(BACKENDS)}"
        )
    return requested


def _keras3():
    """Keras 3 on the backend KERAS_BACKEND names, or a one-line reason why not."""
    requested = _check_backend_name()
    try:
        import keras
    except ImportError as exc:
        raise KerasUnavailable(
            f"KERAS_BACKEND={requested} but {requested} is not installed: run "
            f"`{BACKEND_INSTALL.get(requested, 'pip install ' + requested)}` or unset KERAS_BACKEND"
        ) from exc
    return keras


def _load():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of reports
    _check_backend_name()  # importing TensorFlow 2.16+ may import Keras, which fails on an unknown one
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise KerasUnavailable(
            "TensorFlow is not installed: run "
            "`pip install -c constraints/tf-2.21.txt -e '.[cpu]'` (see README Quick start)"
        ) from exc
    tf_version = Version(tf.__version__.split("-")[0])
    if not SUPPORTED_TF[0] <= Version(tf_version.base_version) < SUPPORTED_TF[1]:
        raise KerasUnavailable(
            f"TensorFlow {tf.__version__} is not supported: kmask tests TF 2.12 to 2.21; "
            "install one with `pip install -c constraints/tf-2.21.txt -e '.[cpu]'`"
        )
    legacy = os.environ.get("TF_USE_LEGACY_KERAS", "0").lower() in ("1", "true", "yes")
    if tf_version >= Version("2.16") and legacy:
        try:
            import tf_keras as keras
        except ImportError as exc:
            raise KerasUnavailable(
                "TF_USE_LEGACY_KERAS=1 but tf-keras is not installed: run "
                f"`pip install tf-keras=={tf_version.major}.{tf_version.minor}.*` or unset it"
            ) from exc
        package = "tf_keras"
    elif tf_version >= Version("2.16"):
        keras = _keras3()
        package = "keras"
    else:
        keras = tf.keras
        package = "keras"
    import importlib

    version = Version(importlib.import_module(package).__version__)
    return tf, keras, version


tf, keras, KERAS_VERSION = _load()
TF_VERSION = Version(tf.__version__.replace("-", "."))
GENERATION = KERAS_VERSION.major  # 2 or 3
BACKEND = keras.backend.backend() if GENERATION == 3 else "tensorflow"
layers = keras.layers


PACKAGE = "tf_keras" if keras.__name__.startswith("tf_keras") else "keras"
"""The distribution the Keras under test comes from (tf.keras on TF <= 2.15 is ``keras`` 2.x)."""

FLAVOUR = "tf-keras" if PACKAGE == "tf_keras" else ("keras" if GENERATION == 3 else "tf.keras")
"""Where the Keras under test comes from: ``keras`` (3), ``tf.keras`` or ``tf-keras`` (2)."""


def _onednn_enabled() -> bool:
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


ONEDNN = _onednn_enabled()
"""Whether TensorFlow runs its oneDNN CPU kernels in this process (fixed when TensorFlow starts).
Since TF 2.9 they are on by default on Linux x86 CPUs with AVX512_VNNI, AVX512_BF16 or AMX, and
off elsewhere; ``TF_ENABLE_ONEDNN_OPTS=0`` or ``1`` decides instead. They have kernels the plain
ones lack (bfloat16 FusedBatchNormV3 before TF 2.14)."""


def keras_internal(name: str):
    """The Keras-internal module ``name`` (e.g. ``"utils.losses_utils"``), for self-checks that
    patch Keras; Keras 2.13+ and 3 keep internals under ``src``, Keras 2.12 does not."""
    import importlib

    for path in (f"{PACKAGE}.src.{name}", f"{PACKAGE}.{name}"):
        try:
            return importlib.import_module(path)
        except ImportError:
            continue
    raise KerasUnavailable(f"cannot locate {PACKAGE}'s internal module {name!r} ({KERAS_VERSION})")


def _backend_impl():
    """The module whose ``rnn`` function runs every recurrent loop (patched by self-checks)."""
    module = keras_internal("backend")
    if not hasattr(module, "rnn"):
        raise KerasUnavailable(f"{module.__name__} has no rnn function ({KERAS_VERSION})")
    return module


backend_impl = _backend_impl()


def to_numpy(value):
    """A tensor of the backend under test as a NumPy array (PyTorch's carry gradients: np.asarray
    refuses them)."""
    import numpy as np

    return np.asarray(value) if BACKEND == "tensorflow" else keras.ops.convert_to_numpy(value)


def tensor(array):
    """``array`` as a tensor of the backend under test (a mask or input handed to Keras)."""
    return tf.constant(array) if BACKEND == "tensorflow" else keras.ops.convert_to_tensor(array)

# Keras 3 warns when a Functional/Sequential model is called with ``mask=``
# although it honours the mask; the warning is noise in every explicit-mask run.
warnings.filterwarnings("ignore", message=r".*does not support masking and will therefore destroy")


def describe():
    """One line naming the Keras under test, for run headers and reports."""
    return f"TensorFlow {tf.__version__}, Keras {KERAS_VERSION} ({FLAVOUR}, Keras {GENERATION})"


def _gradient_registry() -> dict:
    """TensorFlow's global table of gradient functions by op type (private API; empty if a
    TensorFlow moves it, and then nothing is purged)."""
    from tensorflow.python.framework import ops as tf_ops

    return getattr(getattr(tf_ops, "_gradient_registry", None), "_registry", {})


_STARTUP_GRADIENTS = frozenset(_gradient_registry())


def custom_gradients_registered_since_startup() -> list[str]:
    """The ``CustomGradient-N`` entries ``tf.custom_gradient`` added to the registry since import."""
    return [n for n in _gradient_registry() if n.startswith("CustomGradient-") and n not in _STARTUP_GRADIENTS]


def clear_session():
    """Release Keras global state (Keras 2 keeps every built graph alive otherwise), and the
    gradient functions ``tf.custom_gradient`` registered while tracing.

    Every traced train step registers such a function (Keras's all-reduce of the gradients uses
    ``tf.custom_gradient``: 2 per trained model on TF 2.15, 2-3 on Keras 3.15.1). TensorFlow keeps
    them in a global registry that nothing clears, and each holds the whole training graph, so a
    process grew by about 50 MiB per model trained under ``jit_compile`` on TF 2.15, against about
    20 MiB with this purge (tensorflow/tensorflow#27492; keras-team/tf-keras#898
    proposes the same purge in ``clear_session``). Call only when no model is being traced."""
    keras.backend.clear_session()
    registry = _gradient_registry()
    for name in custom_gradients_registered_since_startup():
        del registry[name]
