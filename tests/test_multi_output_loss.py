"""A multi-output model masks each output's loss with that output's own mask."""

import functools

from hypothesis import given
from hypothesis import strategies as st

from kmask import loss_reference as ref
from kmask import report
from kmask.compare import assert_close, assert_same_length, loss_tolerance
from kmask.compiled import EXECUTIONS, OUTPUT_LOSSES_REPORTED, OUTPUT_NAMES, two_mask_model_for
from kmask.draw import targets
from kmask.loss_checks import BATCH_SIZE, MIN_REAL_STEPS
from kmask.reproducers import two_output_reproducer
from strategies import mask_values, padded_batches

REAL_TARGET_LOSSES = [name for name, (_, kind) in ref.LOSSES.items() if kind == "real"]
DEPTH = 2  # input layer and Dense head


@given(data=st.data())
def test_each_output_masked_with_its_own_mask(data):
    """Each output's reported loss (where Keras reports one), and their sum as the total loss,
    equal the masked reference computed with that output's own mask (a Masking mask for one, an
    Embedding mask for the other)."""
    losses = tuple(data.draw(st.sampled_from(REAL_TARGET_LOSSES), label=n) for n in OUTPUT_NAMES)
    execution = data.draw(st.sampled_from(EXECUTIONS), label="execution")
    mask_value = data.draw(mask_values(), label="mask_value")
    timesteps = data.draw(st.sampled_from([6, 9]), label="timesteps")
    shape = dict(batch_size=st.just(BATCH_SIZE), timesteps=st.just(timesteps),
                 min_length=MIN_REAL_STEPS)
    features = data.draw(padded_batches("masking", mask_value=mask_value, **shape), label="features")
    tokens = data.draw(padded_batches("embedding", **shape), label="tokens")
    masks = (features.mask, tokens.mask)
    ys = [data.draw(targets("real", m), label=f"{n}_targets") for n, m in zip(OUTPUT_NAMES, masks)]

    seed = data.draw(st.integers(0, 2**16), label="weight_seed")
    inputs = [features.values, tokens.values]
    tol = loss_tolerance(DEPTH, timesteps)
    script = functools.partial(two_output_reproducer, losses, execution, mask_value, seed, inputs, ys, masks,
                               tol, OUTPUT_LOSSES_REPORTED)
    with report.reproduced_by("two_outputs", script):
        check_each_output_masked(losses, execution, mask_value, seed, inputs, ys, masks, tol)


def check_each_output_masked(losses, execution, mask_value, seed, inputs, ys, masks, tol):
    """Each reported output loss, and the total, against the reference with each output's own mask."""
    compiled = two_mask_model_for(losses, execution, mask_value)
    compiled.set_weights(seed)
    predictions = compiled.predict_eagerly(inputs)
    logs = compiled.model.evaluate(inputs, ys, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
    expected = {}
    assert_same_length(predictions, OUTPUT_NAMES, "outputs of the two-output model")
    for name, loss, y, prediction, mask in zip(OUTPUT_NAMES, losses, ys, predictions, masks):
        expected[name] = ref.masked_batch_loss(ref.per_step_loss(loss, y, prediction), mask)
        if not OUTPUT_LOSSES_REPORTED:
            continue
        assert_close(
            logs[f"{name}_loss"], expected[name], tol,
            f"'{loss}' loss of output '{name}' ({execution}) vs the reference with its own mask "
            f"(real steps per row: {mask.sum(axis=1).tolist()})",
        )
    assert_close(logs["loss"], sum(expected.values()), tol,
                 f"total loss ({execution}) vs the sum of the per-output references")
