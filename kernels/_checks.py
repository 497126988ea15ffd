"""Argument checks shared by every public entry point of :mod:`kernels`.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, bad
value) with a message that names the argument and says what was expected, so that bad input
fails at the boundary instead of deep inside a reshape.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch

__all__ = ["as_pair", "check_tensor", "check_int", "check_same_device_dtype"]


def check_int(value, name: str, *, min_value: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if min_value is not None and value < min_value:
        what = {0: "non-negative", 1: "positive"}.get(min_value, f">= {min_value}")
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def as_pair(value, name: str, *, min_value: int | None = None) -> tuple[int, int]:
    """Accept an int or a pair of ints (torch style) and return ``(h, w)``."""
    if isinstance(value, (tuple, list, torch.Size)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {tuple(value)!r}")
        return (check_int(value[0], f"{name}[0]", min_value=min_value),
                check_int(value[1], f"{name}[1]", min_value=min_value))
    v = check_int(value, name, min_value=min_value)
    return (v, v)


def check_tensor(x, name: str, *, ndim: int | Sequence[int] | None = None,
                 floating: bool = False) -> torch.Tensor:
    """Check that ``x`` is a tensor with the expected number of dimensions and kind of dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got {x.dim()}-D with shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    return x


def check_same_device_dtype(ref: torch.Tensor, ref_name: str, other: torch.Tensor,
                            other_name: str) -> None:
    """Raise if ``other`` lives on another device or has another dtype than ``ref``."""
    if other.device != ref.device:
        raise ValueError(f"{other_name} is on {other.device} but {ref_name} is on {ref.device}; "
                         "move both to the same device")
    if other.dtype != ref.dtype:
        raise TypeError(f"{other_name} has dtype {other.dtype} but {ref_name} has {ref.dtype}; "
                        "they must match")
