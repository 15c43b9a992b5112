"""Each recorded divergence reproduces exactly where it is recorded, and nowhere else."""

import numpy as np
import pytest

from kmask.divergences import DIVERGENCES
from strategies import LayerSpec, PaddedBatch, StackSpec

from .test_api_equivalence import nested_model_symbolic_mask_witness
from .test_compiled_loss import (
    all_padded_batch_witness,
    class_weight_witness,
    jit_timestep_sample_weight_witness,
    nonfinite_padded_targets_witness,
    sequence_sample_weight_witness,
)
from .test_execution_modes import check_modes_agree
from .test_mask_propagation import (
    concatenate_time_axis_unmasked_witness,
    multiheadattention_strips_input_masks_witness,
)
from .test_masking_claims import subclassed_masks_not_propagated_witness, unsupported_layer_raises_witness
from .test_mixed_precision import masking_rounds_in_compute_dtype_witness, rnn_bfloat16_witness
from .test_padding_invisible import check_padded_equals_alone
from .test_save_load import functional_h5_witness


def _tokens(rows, timesteps):
    values = np.zeros((len(rows), timesteps), np.int32)
    for i, row in enumerate(rows):
        values[i, : len(row)] = row
    return PaddedBatch("embedding", values, values != 0)


def bidirectional_unroll_witness():
    lstm = LayerSpec.make(
        "LSTM", units=3, return_sequences=True, return_state=False, go_backwards=False, unroll=True
    )
    spec = StackSpec("embedding", (LayerSpec.make("Bidirectional", layer=lstm, merge_mode="concat"),))
    check_padded_equals_alone(spec, "functional", _tokens([[3, 5]], 4))


def timedistributed_predict_witness():
    dense = LayerSpec.make("Dense", units=3)
    spec = StackSpec("embedding", (LayerSpec.make("TimeDistributed", layer=dense),))
    check_modes_agree(spec, "predict", _tokens([[1, 2], [3]], 6))
    check_modes_agree(spec, "predict", _tokens([[1, 2], [3]], 9))


WITNESSES = {
    "bidirectional-unroll-zeroes-backward": bidirectional_unroll_witness,
    "timedistributed-predict-second-length": timedistributed_predict_witness,
    "loss-all-padded-batch-nan": all_padded_batch_witness,
    "sample-weight-sequence-outputs-fail": sequence_sample_weight_witness,
    "jit-timestep-sample-weight-fails": jit_timestep_sample_weight_witness,
    "padded-nonfinite-targets-poison-loss": nonfinite_padded_targets_witness,
    "class-weight-misreads-sequence-targets": class_weight_witness,
    "masking-compares-in-compute-dtype": masking_rounds_in_compute_dtype_witness,
    "rnn-bfloat16-cudnn-type-error": rnn_bfloat16_witness,
    "concatenate-time-axis-unmasked-input": concatenate_time_axis_unmasked_witness,
    "multiheadattention-strips-input-masks": multiheadattention_strips_input_masks_witness,
    "nested-model-symbolic-mask-dropped": nested_model_symbolic_mask_witness,
    "claim-subclassed-masks-not-propagated": subclassed_masks_not_propagated_witness,
    "claim-unsupported-layer-raises": unsupported_layer_raises_witness,
    "functional-h5-mask-op-unloadable": functional_h5_witness,
}


def test_every_divergence_has_a_witness():
    """Every record in kmask/divergences.py can be replayed."""
    assert set(WITNESSES) == {d.id for d in DIVERGENCES}


@pytest.mark.parametrize("divergence", DIVERGENCES, ids=lambda d: d.id)
def test_known_divergence(divergence):
    """A recorded divergence fails its property on the versions it names (reported as xfail,
    with its explanation) and passes elsewhere; either surprise fails this test."""
    try:
        WITNESSES[divergence.id]()
    except AssertionError as failure:
        if not divergence.active:
            pytest.fail(
                f"{divergence.explain()}\nIt reproduces on this Keras too: widen its versions.\n{failure}"
            )
        pytest.xfail(divergence.explain())
    if divergence.active:
        pytest.fail(
            f"unexpected pass: {divergence.explain()}\nKeras no longer diverges here: "
            "narrow the versions in kmask/divergences.py."
        )
