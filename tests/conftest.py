"""Shared fixtures: every kernel test runs on the CPU always and on CUDA when present."""
import pytest
import torch

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
