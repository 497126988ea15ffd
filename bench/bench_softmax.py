"""Forward + backward time of kernels.cross_entropy / softmax / log_softmax against torch.

Run: ``python bench/bench_softmax.py`` (about 20 s on 2 CPU cores; also times CUDA when present).
Prints the median of repeated runs (torch.utils.benchmark) for N=4096 samples, C=1000 classes.
Ours is plain PyTorch ops plus a hand-written backward; torch's is a fused C++/CUDA kernel, so
expect ours to be slower by a small factor: the point is the formula, not the speed.
"""
import torch
import torch.nn.functional as F
from torch.utils import benchmark

import kernels

N, C = 4096, 1000


def _cases(device):
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(N, C, generator=g).to(device)
    idx = torch.randint(0, C, (N,), generator=g).to(device)
    idx[::10] = -100  # a few ignored targets, as in segmentation batches
    prob = torch.softmax(torch.randn(N, C, generator=g), 1).to(device)
    w = (torch.rand(C, generator=g) + 0.5).to(device)
    return x, [
        ("cross_entropy, class indices", lambda m, z: m.cross_entropy(z, idx)),
        ("cross_entropy, weight + smoothing 0.1",
         lambda m, z: m.cross_entropy(z, idx, w, label_smoothing=0.1)),
        ("cross_entropy, class probabilities", lambda m, z: m.cross_entropy(z, prob)),
        ("softmax (dim=1), sum", lambda m, z: m.softmax(z, 1).square().sum()),
        ("log_softmax (dim=1), sum", lambda m, z: m.log_softmax(z, 1).sum()),
    ]


def _time(fn, mod, x, device):
    def step():
        z = x.detach().requires_grad_(True)
        fn(mod, z).backward()
        if device == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up (allocator, CUDA context)
    timer = benchmark.Timer(stmt="step()", globals={"step": step})
    return timer.blocked_autorange(min_run_time=1.0).median * 1e3  # ms


def main():
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"forward + backward, N={N}, C={C}, float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'device':6} {'case':40} {'kernels ms':>11} {'torch ms':>9} {'ratio':>6}")
    for device in devices:
        x, cases = _cases(device)
        for name, fn in cases:
            ours, theirs = _time(fn, kernels, x, device), _time(fn, F, x, device)
            print(f"{device:6} {name:40} {ours:11.2f} {theirs:9.2f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
