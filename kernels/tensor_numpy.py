"""From a tensor to a NumPy array: detach, move to the CPU, convert, and say when memory is shared.

The idiom ``outputs.cpu().data.numpy()`` of older code does three things, and ``.data`` is the
wrong tool for one of them: it hides the tensor from autograd's version counter, so an in-place
change after the tensor was saved for backward gives a silently wrong gradient, where
``.detach()`` makes autograd raise (PyTorch docs, "Autograd mechanics: in-place correctness
checks"). Today's spelling is ``t.detach().cpu().numpy()``, or ``t.numpy(force=True)``, which
also resolves the conjugate and negative bits.

Sharing (PyTorch docs for ``Tensor.numpy`` and ``torch.from_numpy``): ``.numpy()`` of a CPU
tensor and ``torch.from_numpy(a)`` share memory, so a write through either shows in the other;
``.cpu()`` of a CPU tensor returns the tensor itself; ``.cpu()`` of a CUDA tensor and
``torch.tensor(a)`` copy. A write through NumPy does not bump autograd's version counter, so
copy before editing an array whose tensor autograd still needs (``to_numpy(t, copy=True)``).

:func:`to_numpy` does the right thing for any device and grad state; :func:`shares_memory`
answers "do these two views touch the same bytes?"; :func:`conversion_times` measures sharing
against copying. Chapter: ``book/tensor_numpy.md``.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

__all__ = ["to_numpy", "shares_memory", "conversion_times", "ConversionTimes",
           "CONVERSIONS"]


def _check_tensor(tensor, name: str = "tensor") -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {tensor.layout}; "
                        f"call .to_dense() first")
    if tensor.device.type == "meta":
        raise ValueError(f"{name} is on the meta device and holds no data to convert")
    return tensor


def to_numpy(tensor: torch.Tensor, *, copy: bool = False,
             dtype: torch.dtype | None = None) -> np.ndarray:
    """``tensor`` as a NumPy array, whatever its device and grad state.

    Equivalent to ``tensor.detach().cpu().resolve_conj().resolve_neg().numpy()``, i.e.
    ``tensor.numpy(force=True)``, plus two options.

    Sharing: the array shares memory with ``tensor`` when nothing forces a copy, that is when
    ``tensor`` is on the CPU, ``dtype`` is ``None`` or its own dtype, no conjugate or negative
    bit is set, and ``copy`` is False. Then writes through the array change the tensor (and
    bypass autograd's version counter). A tensor on any other device is copied to host memory
    (``.cpu()``, which waits for the device's queued work); ``copy=True`` always returns an
    array that owns its memory. ``tensor`` itself is left as it was: it still requires grad,
    its graph is untouched (``detach`` makes a view outside the graph; it copies nothing).

    dtypes: NumPy has no bfloat16 (nor the float8 types): such a tensor raises ``TypeError``
    unless ``dtype`` names one NumPy has; ``dtype=torch.float32`` is exact for bfloat16, whose
    values are float32 values with the low 16 bits of the mantissa cut.

    Args:
        tensor: any dense tensor, on any device, requiring grad or not.
        copy: return an array that owns its memory even when sharing was possible.
        dtype: a torch dtype to convert to before the transfer (a copy when it differs).
    """
    _check_tensor(tensor)
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None, got {type(dtype).__name__}")
    t = tensor.detach()  # a view outside the graph: same storage, no copy
    if dtype is not None:
        t = t.to(dtype)
    t = t.cpu().resolve_conj().resolve_neg()  # .cpu() is the identity on the CPU
    try:
        out = t.numpy()
    except TypeError as err:
        raise TypeError(f"tensor has dtype {t.dtype}, which NumPy does not have; pass e.g. "
                        f"dtype=torch.float32 to convert it first") from err
    if copy and shares_memory(out, tensor):
        out = out.copy()
    return out


def _as_array(x, name: str) -> np.ndarray | None:
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, torch.Tensor):
        _check_tensor(x, name)
        if x.device.type != "cpu":
            return None  # device memory is never host memory
        x = x.detach()
        if x.is_conj():  # flip the bit back: same bytes, no copy
            x = x.conj()
        if x.is_neg():
            x = torch._neg_view(x)
        if _numpy_lacks(x.dtype):  # bfloat16, float8: the same bytes seen as integers
            x = x.view({1: torch.uint8, 2: torch.int16}[x.element_size()])
        return x.numpy()
    raise TypeError(f"{name} must be a torch.Tensor or a numpy.ndarray, got {type(x).__name__}")


@lru_cache(maxsize=None)
def _numpy_lacks(dtype: torch.dtype) -> bool:
    try:
        torch.empty(0, dtype=dtype).numpy()
    except TypeError:
        return True
    return False


def shares_memory(a, b) -> bool:
    """Whether ``a`` and ``b`` (tensors or arrays, in any mix) have an element's bytes in common.

    ``np.shares_memory`` on the host views of both; a tensor off the CPU shares nothing with
    host memory. Neither argument is modified or copied.
    """
    x, y = _as_array(a, "a"), _as_array(b, "b")
    return x is not None and y is not None and bool(np.shares_memory(x, y))


# name -> (what it converts from, the conversion): the four ways the chapter times.
CONVERSIONS = {
    "tensor.numpy()": ("tensor", lambda t, a: t.numpy()),
    "torch.from_numpy(array)": ("array", lambda t, a: torch.from_numpy(a)),
    "to_numpy(tensor, copy=True)": ("tensor", lambda t, a: to_numpy(t, copy=True)),
    "torch.tensor(array)": ("array", lambda t, a: torch.tensor(a)),
}


@dataclass(frozen=True)
class ConversionTimes:
    """Median seconds per conversion of one CPU tensor/array, and whether each one shared."""

    numel: int
    dtype: torch.dtype
    seconds: dict  # name in CONVERSIONS -> median seconds per call
    shares: dict  # name in CONVERSIONS -> whether the result shares memory with its source

    @property
    def nbytes(self) -> int:
        return self.numel * torch.empty(0, dtype=self.dtype).element_size()


def _median_seconds(fn, repeats: int) -> float:
    """Median over ``repeats`` of the time per call, each repeat looping long enough (about a
    millisecond) that the clock's resolution does not matter."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    number = max(1, min(1000, int(1e-3 / max(first, 1e-9))))
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        per_call.append((time.perf_counter() - start) / number)
    return statistics.median(per_call)


def conversion_times(numel: int, dtype: torch.dtype = torch.float32, repeats: int = 5,
                     threads: int | None = 1) -> ConversionTimes:
    """Time each conversion of :data:`CONVERSIONS` on a CPU tensor of ``numel`` elements.

    The source is a fresh contiguous tensor and an array of the same ``dtype``; each time is the
    median of ``repeats`` (:func:`time.perf_counter`), per call. Sharing conversions cost a
    constant (a new header around the same buffer); copies grow with ``numel`` (allocation plus
    a memory copy), which is what the chapter's figure shows.
    """
    if isinstance(numel, bool) or not isinstance(numel, int) or numel < 1:
        raise ValueError(f"numel must be a positive int, got {numel!r}")
    if not isinstance(dtype, torch.dtype) or _numpy_lacks(dtype):
        raise TypeError(f"dtype must be a torch dtype NumPy has, got {dtype!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    t = torch.ones(numel, dtype=dtype)
    a = np.ones(numel, dtype=t.numpy().dtype)
    seconds, shares = {}, {}
    saved = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        for name, (source, convert) in CONVERSIONS.items():
            src = t if source == "tensor" else a
            shares[name] = shares_memory(convert(t, a), src)
            seconds[name] = _median_seconds(lambda: convert(t, a), repeats)
    finally:
        torch.set_num_threads(saved)
    return ConversionTimes(numel, dtype, seconds, shares)
