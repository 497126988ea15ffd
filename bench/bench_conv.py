"""kernels.conv2d (unfold + einsum) against torch.nn.functional.conv2d.

Run: ``python bench/bench_conv.py [--repeats 5] [--device cuda]``. Prints the median time of
each and the ratio ours / torch, for the forward pass and for forward + backward.

Expect ours to be slower: torch dispatches to oneDNN / cuDNN kernels that never materialise
the ``[N, C, H_out, W_out, k_h, k_w]`` patch tensor, which the einsum here builds in memory.
"""
import argparse

import torch
import torch.nn.functional as F

import kernels
from timing import median_ms  # bench/timing.py: this script's folder is on sys.path

SHAPES = [  # name, input shape, weight shape, conv arguments
    ("3x3, pad 1", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1)),
    ("3x3, d=2, pad 2", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=2, dilation=2)),
    ("3x3, d=4, pad 4", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=4, dilation=4)),
    ("3x3, stride 2", (8, 64, 56, 56), (128, 64, 3, 3), dict(padding=1, stride=2)),
    ("3x3, groups=8", (8, 64, 56, 56), (64, 8, 3, 3), dict(padding=1, groups=8)),
    ("3x3 depthwise", (8, 64, 56, 56), (64, 1, 3, 3), dict(padding=1, groups=64)),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=str(kernels.default_device()))
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"{'case':<17}{'pass':<10}{'kernels ms':>11}{'torch ms':>10}{'ratio':>7}")
    for name, xs, ws, cfg in SHAPES:
        x = torch.randn(xs, device=device, requires_grad=True)
        w = torch.randn(ws, device=device, requires_grad=True)
        b = torch.randn(ws[0], device=device, requires_grad=True)
        for label, backward in (("fwd", False), ("fwd+bwd", True)):
            row = []
            for conv in (kernels.conv2d, F.conv2d):
                def step(conv=conv):
                    if backward:
                        conv(x, w, b, **cfg).sum().backward()
                    else:
                        with torch.no_grad():
                            conv(x, w, b, **cfg)
                row.append(median_ms(step, args.repeats, device))
            print(f"{name:<17}{label:<10}{row[0]:>11.1f}{row[1]:>10.1f}"
                  f"{row[0] / row[1]:>7.1f}")


if __name__ == "__main__":
    main()
