"""kernels: the tested PyTorch building blocks behind the book *Building blocks of CNNs*.

Every chapter of the book calls this package; every function here is checked against an
independent reference in ``tests/``. ``import kernels`` pulls in torch (and numpy) only; the
plotly views live in :mod:`kernels.viz`.

Functions follow torch / torchvision names, argument order and defaults, so that the builtin
can stand in for ours and the other way round.
"""
from importlib import import_module as _import_module

# One module per concept; each declares its public names in ``__all__``.
_MODULES = ("conv", "gridding", "softmax", "roi_pool", "roi_align", "receptive_field", "aspp")

__all__ = []
for _name in _MODULES:
    _mod = _import_module(f".{_name}", __name__)
    for _public in _mod.__all__:
        globals()[_public] = getattr(_mod, _public)
    __all__ += list(_mod.__all__)
del _name, _mod

__version__ = "0.1.0"


def default_device():
    """``torch.device('cuda')`` when a GPU is present, else the CPU: what the chapters use."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__all__.append("default_device")
