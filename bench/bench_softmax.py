"""Forward + backward time of kernels.cross_entropy / softmax / log_softmax against torch.

Run: ``python bench/bench_softmax.py`` (about 20 s on 2 CPU cores; also times CUDA when present).
Prints the median of repeated runs for N=4096 samples, C=1000 classes, and one second-order
case (a gradient penalty: the backward is differentiated again). Ours is plain PyTorch ops plus
a hand-written backward; torch's is a fused C++/CUDA kernel, so expect ours to be slower by a
small factor: the point is the formula, not the speed.
"""
import torch
import torch.nn.functional as F

import kernels
from timing import median_ms  # bench/timing.py: this script's folder is on sys.path

N, C = 4096, 1000


def _gradient_penalty(mod, z, idx):
    loss = mod.cross_entropy(z, idx)
    grad, = torch.autograd.grad(loss, z, create_graph=True)
    return loss + grad.square().sum()


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
        ("cross_entropy + gradient penalty", lambda m, z: _gradient_penalty(m, z, idx)),
        ("softmax (dim=1), sum", lambda m, z: m.softmax(z, 1).square().sum()),
        ("log_softmax (dim=1), sum", lambda m, z: m.log_softmax(z, 1).sum()),
    ]


def _time(fn, mod, x, device):
    def step():
        fn(mod, x.detach().requires_grad_(True)).backward()

    return median_ms(step, repeats=10, device=device)


def main():
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"forward + backward, N={N}, C={C}, float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads; median of 10 runs")
    print(f"{'device':6} {'case':40} {'kernels ms':>11} {'torch ms':>9} {'ratio':>6}")
    for device in devices:
        x, cases = _cases(device)
        for name, fn in cases:
            ours, theirs = _time(fn, kernels, x, device), _time(fn, F, x, device)
            print(f"{device:6} {name:40} {ours:11.2f} {theirs:9.2f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
