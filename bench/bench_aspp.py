"""ASPP forward time at output stride 16 and 8 (the DeepLabV3 head on a ResNet-101 map).

A 513x513 crop gives a [1, 2048, 33, 33] map at output stride 16 (rates 6, 12, 18) and
[1, 2048, 65, 65] at output stride 8 (rates 12, 24, 36): four times the positions, so about
four times the work. The rate itself costs nothing: every 3x3 branch does the same
multiply-adds whatever its dilation, even where most taps read zero padding. Run:

    python bench/bench_aspp.py
"""
import torch

import kernels
from timing import median_ms  # bench/timing.py: this script's folder is on sys.path


def macs(c_in, c_out, n_rates, h, w):
    """Multiply-adds: 1x1 + R 3x3 branches + project at every position (pooling is negligible)."""
    return h * w * c_out * (c_in * (1 + 9 * n_rates) + (n_rates + 2) * c_out)


def main():
    torch.manual_seed(0)
    device = kernels.default_device()
    print(f"ASPP(2048, 256) forward, eval mode, no grad, {device}, "
          f"{torch.get_num_threads()} threads; median of 5 runs")
    print(f"{'output stride':>13} {'input':>20} {'rates':>14} {'ms':>9} {'GMAC':>7} {'GMAC/s':>8}")
    for stride, rates, size in [(16, (6, 12, 18), 33), (8, (12, 24, 36), 65)]:
        model = kernels.ASPP(2048, 256, rates).to(device).eval()
        x = torch.randn(1, 2048, size, size, device=device)

        def run():
            with torch.no_grad():
                model(x)

        ms = median_ms(run, repeats=5, device=device)
        g = macs(2048, 256, len(rates), size, size) / 1e9
        print(f"{stride:>13} {str(list(x.shape)):>20} {str(rates):>14} {ms:9.1f} {g:7.2f} "
              f"{g / ms * 1e3:8.1f}")

    # Same map, rate 1 vs rate 64 (all taps but the centre on padding): the cost does not move.
    print("\nOne 3x3 branch, [1, 2048, 33, 33] -> 256 channels:")
    x = torch.randn(1, 2048, 33, 33, device=device)
    for rate in (1, 18, 64):
        branch = kernels.ASPP(2048, 256, (rate,)).convs[1].to(device).eval()

        def run():
            with torch.no_grad():
                branch(x)

        print(f"  rate {rate:>2}: {median_ms(run, repeats=5, device=device):7.1f} ms")


if __name__ == "__main__":
    main()
