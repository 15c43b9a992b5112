"""Run-wide wiring: Hypothesis profiles, the run header, and known Keras divergences."""
import os
from hypothesis import HealthCheck, settings, Phase

settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True, print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("KMASK_PROFILE", "dev"))
