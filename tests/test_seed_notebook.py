"""The seed notebook's question, answered as a regression test: does evaluate() equal my masked loss?

The notebook (``shared/seed``) built Masking(0) -> LSTM(3, return_sequences=True), compiled it
with loss 'mae', and found ``model.evaluate(X, y_true)`` = 0.7888 while its own masked loss
was 1.1268 and its unmasked loss 1.0888. Older tf.keras divided the masked sum by every
timestep, padded ones included: 1.1268 x 7 real / 10 steps = 0.7888, exactly what it saw.
Keras since TF 2.12 divides by the real timesteps only, so the two must now agree.
"""

import numpy as np

from kmask import report
from kmask.compare import assert_close
from kmask.keras_compat import describe
from kmask.seed_notebook import LOSS_TOLERANCE, REAL, X, Y_TRUE, seed_notebook_model, seed_notebook_script


def test_seed_notebook_evaluate_equals_masked_loss():
    """model.evaluate() on the notebook's data equals the mean absolute error over real
    timesteps only."""
    model = seed_notebook_model()
    y_pred = model.predict(X, verbose=0)
    per_step = np.abs(Y_TRUE - y_pred).mean(axis=-1)
    masked = per_step[REAL].mean()
    divided_by_all_steps = per_step[REAL].sum() / per_step.size
    evaluated = model.evaluate(X, Y_TRUE, verbose=0)
    with report.reproduced_by("seed_notebook", seed_notebook_script, fixed_example=True):
        assert_close(
            evaluated, masked, LOSS_TOLERANCE,
            f"On {describe()}, evaluate() reports {evaluated:.6f} but the masked mae over the "
            f"{int(REAL.sum())} real timesteps is {masked:.6f}. Older tf.keras reported the masked "
            f"sum divided by all {per_step.size} timesteps ({divided_by_all_steps:.6f}), which is "
            "what the seed notebook saw; see https://github.com/keras-team/keras/issues/15323",
        )
