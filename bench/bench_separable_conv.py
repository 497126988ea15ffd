"""Depthwise-separable against standard 3x3 convolution: multiply-adds against time.

Run: ``python bench/bench_separable_conv.py [--repeats 10]``. For each size, the forward time
(median, ms) of a standard 3x3 convolution and of its depthwise-separable replacement (depth
multiplier M), with torch's ``F.conv2d`` (two calls for the separable one, also timed apart: depthwise ``dw``
and pointwise ``pw``) and with
``kernels.conv2d`` / ``kernels.SeparableConv2d``; on the CPU, and on CUDA when present.

Multiply-adds: ``N H W C_out C_in k^2`` for the standard layer, ``N H W C_in M (k^2 + C_out)``
for the separable one. Expect the time to fall much less than the multiply-adds: the depthwise
step does ``k^2`` multiply-adds per value it reads, too few to keep the arithmetic units busy
(ShuffleNet v2's guidelines, Ma et al. 2018, arXiv:1807.11164).
"""
import argparse

import torch
import torch.nn.functional as F

import kernels
from timing import median_ms  # bench/timing.py: this script's folder is on sys.path

SIZES = [  # (N, C_in, H, W, C_out, depth multiplier M)
    (1, 128, 56, 56, 256, 1),
    (1, 128, 56, 56, 256, 4),   # the notes' layer: 294,912 weights against 135,680
    (1, 32, 112, 112, 64, 1),   # MobileNet's second layer
    (8, 256, 14, 14, 256, 1),
]
K = 3


def mult_adds(n, c_in, h, w, c_out, m):
    """Standard and separable multiply-adds at stride 1, 'same' padding (H_out = H)."""
    return n * h * w * c_out * c_in * K * K, n * h * w * c_in * m * (K * K + c_out)


def time_size(size, device, repeats):
    n, c_in, h, w, c_out, m = size
    x = torch.randn(n, c_in, h, w, device=device)
    full = torch.randn(c_out, c_in, K, K, device=device)
    sep = kernels.SeparableConv2d(c_in, c_out, K, padding=1, depth_multiplier=m, bias=False)
    sep = sep.to(device)
    dw, pw = sep.depthwise.weight.detach(), sep.pointwise.weight.detach()

    def torch_separable():
        return F.conv2d(F.conv2d(x, dw, padding=1, groups=c_in), pw)

    mid = F.conv2d(x, dw, padding=1, groups=c_in)  # [N, C_in M, H, W]: the pointwise input
    calls = [lambda: F.conv2d(x, full, padding=1), torch_separable,
             lambda: F.conv2d(x, dw, padding=1, groups=c_in), lambda: F.conv2d(mid, pw),
             lambda: kernels.conv2d(x, full, padding=1), lambda: sep(x)]
    with torch.no_grad():
        return [median_ms(fn, repeats, device) for fn in calls]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, forward only, "
          f"median of {args.repeats}; 3x3 convolution, padding 1, no bias")
    head = (f"{'N x C_in x H x W -> C_out':<27}{'M':>2}{'MAdds std':>11}{'sep':>9}{'ratio':>7}"
            f"{'F std ms':>10}{'F sep ms':>10}{'ratio':>7}{'(dw':>8}{'+ pw)':>8}"
            f"{'k std ms':>10}{'k sep ms':>10}")
    for device in devices:
        print(f"\ndevice {device}  (F = torch.nn.functional.conv2d, k = kernels)")
        print(head)
        for size in SIZES:
            n, c_in, h, w, c_out, m = size
            std, sep = mult_adds(*size)
            t_std, t_sep, t_dw, t_pw, k_std, k_sep = time_size(size, torch.device(device),
                                                               args.repeats)
            name = f"{n}x{c_in}x{h}x{w} -> {c_out}"
            print(f"{name:<27}{m:>2}{std / 1e6:>10.0f}M{sep / 1e6:>8.0f}M{sep / std:>7.2f}"
                  f"{t_std:>10.2f}{t_sep:>10.2f}{t_sep / t_std:>7.2f}{t_dw:>8.2f}{t_pw:>8.2f}"
                  f"{k_std:>10.2f}{k_sep:>10.2f}")


if __name__ == "__main__":
    main()
