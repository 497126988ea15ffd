"""to_numpy shares exactly when no copy is needed, never touches autograd, and explains failures.

The oracle is NumPy itself (``np.shares_memory`` on ``Tensor.numpy()`` of the same tensor) and
PyTorch's own ``Tensor.numpy(force=True)``, which ``to_numpy`` must agree with value for value.
"""
import numpy as np
import pytest
import torch

from kernels.tensor_numpy import (CONVERSIONS, ConversionTimes, conversion_times, shares_memory,
                                  to_numpy)


def test_values_and_dtype_match_numpy_force(device):
    for dtype in (torch.float16, torch.float32, torch.float64, torch.int64, torch.bool,
                  torch.complex64):
        t = torch.arange(6, device=device).reshape(2, 3).to(dtype)
        out = to_numpy(t)
        want = t.numpy(force=True)
        assert out.dtype == want.dtype and out.shape == (2, 3)
        np.testing.assert_array_equal(out, want)


def test_a_cpu_tensor_is_shared_other_devices_are_copied(device):
    t = torch.zeros(4, device=device, requires_grad=True)
    out = to_numpy(t)
    assert shares_memory(out, t) == (device == "cpu")
    out[0] = 5.0  # through the array: visible in the tensor only when shared
    assert t[0].item() == (5.0 if device == "cpu" else 0.0)


def test_sharing_agrees_with_numpy_on_the_same_bytes():
    t = torch.arange(12.0).reshape(3, 4)
    out = to_numpy(t)
    assert np.shares_memory(out, t.numpy()) and out.ctypes.data == t.data_ptr()
    assert shares_memory(t[0], t[:, 0])  # element (0, 0) is in both
    assert not shares_memory(t[0], t[1])
    assert shares_memory(torch.from_numpy(out), out)
    assert not shares_memory(torch.tensor(out), out)


def test_copy_true_owns_its_memory_and_copies_once(device):
    t = torch.arange(5.0, device=device)
    out = to_numpy(t, copy=True)
    assert not shares_memory(out, t) and out.flags.owndata and out.flags.writeable
    out[:] = -1
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_gradients_left_intact():
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.sigmoid()  # sigmoid saves its output for backward
    out = to_numpy(y)
    assert y.requires_grad and y.grad_fn is not None and y._version == 0
    assert x.requires_grad and x.grad is None
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    s = torch.tensor([0.5, -1.0, 2.0]).sigmoid()
    torch.testing.assert_close(x.grad, s * (1 - s) * torch.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out, s.numpy())


def test_a_leaf_stays_a_leaf_that_requires_grad():
    w = torch.randn(3, requires_grad=True)
    to_numpy(w, copy=True)
    to_numpy(w, dtype=torch.float64)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_non_contiguous_tensors_keep_their_strides_and_share():
    t = torch.arange(12.0).reshape(3, 4)
    for view in (t.T, t[:, ::2], t[1:, 1:3]):
        out = to_numpy(view)
        assert not out.flags.c_contiguous
        assert shares_memory(out, t)
        np.testing.assert_array_equal(out, np.array(view.tolist()))
        assert [s // out.itemsize for s in out.strides] == list(view.stride())


def test_conjugate_and_negative_bits_are_resolved_by_a_copy():
    z = torch.tensor([1 + 2j, 3 - 1j])
    out = to_numpy(z.conj())
    np.testing.assert_array_equal(out, np.array([1 - 2j, 3 + 1j]))
    assert not shares_memory(out, z)  # resolve_conj had to write new values
    assert shares_memory(z.conj(), z)  # the lazy conjugate itself is a view


def test_bfloat16_raises_unless_converted():
    t = torch.tensor([1.0, 2.5, -3.0], dtype=torch.bfloat16, requires_grad=True)
    with pytest.raises(TypeError, match=r"bfloat16.*dtype=torch.float32"):
        to_numpy(t)
    out = to_numpy(t, dtype=torch.float32)  # exact: a bfloat16 is a truncated float32
    assert out.dtype == np.float32 and out.tolist() == [1.0, 2.5, -3.0]
    assert not shares_memory(out, t)
    assert shares_memory(t, t[1:])  # bfloat16 bytes can still be compared


def test_dtype_conversion_copies_only_when_it_changes_something():
    t = torch.arange(3.0)
    assert shares_memory(to_numpy(t, dtype=torch.float32), t)
    out = to_numpy(t, dtype=torch.float64)
    assert out.dtype == np.float64 and not shares_memory(out, t)


@pytest.mark.parametrize("bad", [[1.0, 2.0], np.zeros(3), 3.0, None])
def test_not_a_tensor_raises_naming_the_argument(bad):
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor"):
        to_numpy(bad)


def test_other_bad_input_is_named():
    with pytest.raises(TypeError, match="dtype must be a torch.dtype"):
        to_numpy(torch.zeros(2), dtype=np.float32)
    with pytest.raises(ValueError, match="meta device"):
        to_numpy(torch.zeros(2, device="meta"))
    with pytest.raises(TypeError, match="dense"):
        to_numpy(torch.zeros(2, 2).to_sparse())
    with pytest.raises(TypeError, match="b must be a torch.Tensor or a numpy.ndarray"):
        shares_memory(np.zeros(2), [0.0, 0.0])


def test_cuda_memory_is_never_host_memory(device):
    t = torch.zeros(3, device=device)
    assert shares_memory(t, t) == (device == "cpu")


def test_conversion_times_reports_what_shares_and_positive_times():
    r = conversion_times(1000, torch.float64, repeats=2)
    assert isinstance(r, ConversionTimes) and r.nbytes == 8000
    assert set(r.seconds) == set(r.shares) == set(CONVERSIONS)
    assert all(s > 0 for s in r.seconds.values())  # never a particular timing
    before = torch.get_num_threads()
    conversion_times(10, threads=1, repeats=1)
    assert torch.get_num_threads() == before  # the thread setting is restored
    assert r.shares == {"tensor.numpy()": True, "torch.from_numpy(array)": True,
                        "to_numpy(tensor, copy=True)": False, "torch.tensor(array)": False}


@pytest.mark.parametrize("kwargs, error", [
    (dict(numel=0), ValueError), (dict(numel=2.0), ValueError),
    (dict(numel=4, repeats=0), ValueError), (dict(numel=4, dtype=torch.bfloat16), TypeError),
    (dict(numel=4, dtype="float32"), TypeError), (dict(numel=4, threads=0), ValueError)])
def test_conversion_times_bad_input(kwargs, error):
    with pytest.raises(error, match=next(iter(k for k in ("threads", "repeats", "dtype", "numel")
                                              if k in kwargs))):
        conversion_times(**kwargs)
