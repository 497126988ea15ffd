"""Shared fixtures: every kernel test runs on the CPU always and on CUDA when present.

Property-based tests (hypothesis, marked ``property``) run a fixed, modest number of examples in
``make test`` (profile ``default``) and many more in ``make fuzz`` (``--hypothesis-profile=fuzz``).
"""
import pytest
import torch
from hypothesis import HealthCheck, settings

# derandomize: the same examples every run, so `make test` is reproducible and cannot flake.
settings.register_profile("default", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_generate_tests(metafunc):
    # Any test that takes a ``device`` argument runs once per available device; CUDA shows up
    # as skipped (not silently absent) on machines without a GPU.
    if "device" in metafunc.fixturenames:
        params = [pytest.param("cpu", id="cpu"),
                  pytest.param("cuda", id="cuda",
                               marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                        reason="no CUDA device"))]
        metafunc.parametrize("device", params)
