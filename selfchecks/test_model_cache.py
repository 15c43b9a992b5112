"""Releasing the model cache frees the graphs its models traced, so a long run does not grow."""

import gc
import weakref

import numpy as np
import pytest

from kmask.build import ModelCache
from kmask.keras_compat import BACKEND, custom_gradients_registered_since_startup, keras


def _func_graphs():
    from tensorflow.python.framework.func_graph import FuncGraph

    return [o for o in gc.get_objects() if isinstance(o, FuncGraph)]


def _trained_model():
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Masking(0.0),
                              keras.layers.LSTM(2, return_sequences=True), keras.layers.Dense(1)])
    model.compile(loss="mse")
    x = np.ones((2, 4, 3), "float32")
    model.train_on_batch(x, np.ones((2, 4, 1), "float32"))
    return model


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function graphs exist on the TensorFlow backend only")
def test_release_frees_the_training_graphs():
    """After a release, no graph traced to train a cached model is still alive, and no gradient
    function registered while tracing it is left in TensorFlow's global registry."""
    cache = ModelCache()
    gc.collect()
    before = {id(g) for g in _func_graphs()}
    cache.get("model", _trained_model)
    traced = [weakref.ref(g) for g in _func_graphs() if id(g) not in before]
    assert traced, "training traced no graph: the release below would prove nothing"
    assert custom_gradients_registered_since_startup(), "training registered no custom gradient"

    cache.release()
    gc.collect()

    assert custom_gradients_registered_since_startup() == []
    alive = sorted(g.name for g in (r() for r in traced) if g is not None)
    assert not alive, f"{len(alive)} of {len(traced)} training graphs outlive the release: {alive[:5]}"
