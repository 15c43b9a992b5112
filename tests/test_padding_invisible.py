"""Padding is invisible: real timesteps and final outputs never depend on padding."""

import dataclasses
import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kmask import report
from kmask.build import model_for
from kmask.checks import assert_eager_runs_agree, assert_same_real_outputs
from kmask.draw import stacks_without_known_divergences
from kmask.forward_checks import check_extra_padding_ignored, check_padded_equals_alone, two_runs_script
from kmask.run import call_eagerly
from strategies import APIS, CATALOG, supported

FOCUS_CASES = [
    pytest.param(kind, api, id=f"{kind}-{api}")
    for kind in CATALOG
    for api in APIS
    if supported(kind, api)
]


@pytest.mark.parametrize("focus, api", FOCUS_CASES)
@given(data=st.data())
def test_padded_batch_equals_each_sample_alone(focus, api, data):
    """At every real position and in every final output, a padded batch gives what each
    sample gives when run alone without any padding."""
    spec = data.draw(stacks_without_known_divergences(focus, api), label="spec")
    check_padded_equals_alone(spec, api, data.draw(spec.batches(), label="batch"))


def check_padding_content_ignored(spec, api, batch, content):
    other = batch.with_padding_content(content)
    both = batch.stacked(other)  # one call for both versions
    script = functools.partial(
        two_runs_script,
        f"What padded timesteps hold changes a {api} model's real outputs: {spec}",
        "with an explicit mask, changing only the padded timesteps (run 1) changes no real "
        "output and no final output of run 0",
        spec, {"make_model": (spec, api)},
        report.run_of("make_model", spec, batch), batch, report.run_of("make_model", spec, other), other,
    )
    with report.reproduced_by("padding_content", script):
        outputs = call_eagerly(model_for(spec, api, both.timesteps), both)
        n = batch.batch_size
        assert_same_real_outputs(
            spec, batch, [o[:n] for o in outputs], range(n), batch, [o[n:] for o in outputs], range(n),
            "original vs other padding content",
        )


@pytest.mark.parametrize("focus, api", FOCUS_CASES)
@given(data=st.data())
def test_real_outputs_ignore_padding_content(focus, api, data):
    """With an explicit mask, changing what padded timesteps hold changes no output at a real
    position and no final output."""
    spec = data.draw(stacks_without_known_divergences(focus, api, style="explicit"), label="spec")
    batch = data.draw(spec.batches(), label="batch")
    content = data.draw(
        hnp.arrays(np.float32, batch.values.shape, elements=st.floats(-10, 10, width=32, allow_subnormal=False)),
        label="new_padding_content",
    )
    check_padding_content_ignored(spec, api, batch, content)


@pytest.mark.parametrize("focus, api", FOCUS_CASES)
@given(data=st.data())
def test_real_outputs_ignore_extra_padding(focus, api, data):
    """Appending more padded timesteps changes no output at a real position and no final
    output, fully padded rows included."""
    spec = data.draw(stacks_without_known_divergences(focus, api), label="spec")
    check_extra_padding_ignored(spec, api, data.draw(spec.batches(), label="batch"))


def check_masking_layer_equals_true_mask(spec, api, batch):
    explicit = dataclasses.replace(spec, style="explicit")  # same layers, same weights
    explicit_batch = dataclasses.replace(batch, style="explicit")
    script = functools.partial(
        two_runs_script,
        f"Masking(mask_value={spec.mask_value}) does not mask exactly the padded timesteps: {spec}",
        "the model with a Masking layer (run 0) gives what the same layers give with the true "
        "mask passed explicitly (run 1), even where real timesteps hold the mask value in some "
        "features",
        spec, {"make_model": (spec, api), "make_explicit_model": (explicit, api)},
        report.run_of("make_model", spec, batch), batch,
        report.run_of("make_explicit_model", explicit, explicit_batch), explicit_batch,
    )
    with report.reproduced_by("masking_vs_true_mask", script):
        assert_eager_runs_agree(
            spec, model_for(spec, api, batch.timesteps), batch,
            model_for(explicit, api, batch.timesteps), explicit_batch,
            f"Masking(mask_value={spec.mask_value}) vs the true mask passed explicitly",
        )


@pytest.mark.parametrize("focus, api", FOCUS_CASES)
@given(data=st.data())
def test_masking_layer_equals_true_mask(focus, api, data):
    """A Masking layer masks exactly the timesteps whose every feature equals the mask value:
    the model gives what it gives with that true mask passed explicitly, even when real
    timesteps hold the mask value (or its nearest floats) in some features."""
    spec = data.draw(stacks_without_known_divergences(focus, api, style="masking"), label="spec")
    check_masking_layer_equals_true_mask(spec, api, data.draw(spec.batches(), label="batch"))
