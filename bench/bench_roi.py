"""RoI Align and RoI Pool: time and peak memory of kernels.roi_align / roi_pool and baselines.

Problem (a Faster R-CNN head on a VGG16 map): input ``[2, 256, 50, 50]`` float32 (an
800 x 800 image at stride 16), 512 proposals of 32..400 image pixels, 7 x 7 output,
``sampling_ratio=2``, CPU. Run ``python bench/bench_roi.py``; it prints a median over repeats
(forward and backward of the same graph, timed in one loop).

A second problem bounds the memory of large boxes: 128 RoIs of about 4096 x 4096 image pixels
on a ``[1, 256, 256, 256]`` map at stride 16 with the adaptive grid (``sampling_ratio=-1``:
37 x 37 samples per bin), timed once per mode. Building every RoI's bags at once took 0.9 GB
(avg) and 9 GB (max); ``kernels.roi_align`` builds them per chunk of RoIs.

RoI Align contenders:

* ``kernels``: the book's kernel (embedding_bag over per-bin bags, explicit backward);
* ``kernels, autograd bwd``: the same forward with autograd's own embedding_bag backward;
* ``grid_sample``: native bilinear sampling, one ``F.grid_sample`` call per image over all its
  RoIs' sample points (border padding + a mask reproduce torchvision's edge rules);
* ``per-RoI loop``: a Python loop over RoIs, each RoI's samples gathered with torch indexing;
* ``loop reference``: tests/roi_reference.py (Python loops over RoIs, bins, samples; numpy).

Peak memory: ``torch.profiler`` with ``profile_memory=True`` records every allocation and free
of torch's CPU allocator; the records are replayed in time order and the largest running total
of bytes allocated during the call is reported (frees of tensors that existed before the call,
e.g. saved activations released by backward, are not credited: an upper bound). Forward runs
with grad enabled (what it saves for backward counts); backward is measured from the end of
the forward, its ``grad_output`` excluded. The loop reference's numpy arrays are invisible to
the profiler (n/a).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

import kernels
from kernels.roi_bags import feature_table

_ra = importlib.import_module("kernels.roi_align")  # the module: its private _plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from roi_reference import roi_align_ref  # noqa: E402

N, C, H, W, K, P, SR, SCALE = 2, 256, 50, 50, 512, 7, 2, 1 / 16


def make_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, C, H, W, generator=g)
    size = torch.rand(K, 2, generator=g) * 368 + 32              # 32 .. 400 pixels
    xy = torch.rand(K, 2, generator=g) * (790 - size)           # inside the 800 x 800 image
    b = torch.randint(0, N, (K, 1), generator=g).float()
    return x, torch.cat([b, xy, xy + size], 1)


def _samples(rois):
    """Sample coordinates ``[K, P*SR]`` per axis, torchvision's formula (aligned=False)."""
    c = rois[:, 1:] * SCALE
    size = (c[:, 2:] - c[:, :2]).clamp(min=1) / P                # [K, 2] bin (w, h)
    t = (torch.arange(P * SR) // SR + (torch.arange(P * SR) % SR + 0.5) / SR)  # [P*SR]
    return c[:, 1, None] + t * size[:, 1, None], c[:, 0, None] + t * size[:, 0, None]


def align_grid_sample(x, rois):
    out = x.new_empty(K, C, P, P)
    ys, xs = _samples(rois)
    for n in range(N):  # one call per image
        m = rois[:, 0] == n
        y, xx = ys[m], xs[m]                                     # [k, P*SR]
        k = y.shape[0]
        grid = torch.stack(torch.broadcast_tensors(((2 * xx + 1) / W - 1)[:, None, :],
                                                   ((2 * y + 1) / H - 1)[:, :, None]), -1)
        v = F.grid_sample(x[n:n + 1], grid.view(1, k * P * SR, P * SR, 2),
                          align_corners=False, padding_mode="border")  # [1, C, k*P*SR, P*SR]
        inside = (((y >= -1) & (y <= H))[:, :, None] & ((xx >= -1) & (xx <= W))[:, None, :])
        v = (v * inside.view(1, 1, k * P * SR, P * SR)).view(C, k, P, SR, P, SR).mean((3, 5))
        out[m] = v.permute(1, 0, 2, 3)                           # [k, C, P, P]
    return out


def align_per_roi(x, rois):
    ys, xs = _samples(rois)
    outs = []
    for k in range(K):  # the loop the kernel avoids
        taps = []
        for v, limit in ((ys[k], H), (xs[k], W)):
            ok = (v >= -1) & (v <= limit)
            v = v.clamp(0, limit - 1)
            lo = v.floor().long().clamp(max=limit - 2)
            f = v - lo
            taps.append((lo, (1 - f) * ok, f * ok))
        (y0, wy0, wy1), (x0, wx0, wx1) = taps
        img = x[int(rois[k, 0])]
        v = sum(img[:, y0 + a][:, :, x0 + b] * (wa[:, None] * wb[None, :])
                for a, wa in ((0, wy0), (1, wy1)) for b, wb in ((0, wx0), (1, wx1)))
        outs.append(v.view(C, P, SR, P, SR).mean((2, 4)))
    return torch.stack(outs)


def align_autograd_bwd(x, rois):
    index, weight, offsets = _ra._plan(rois, (P, P), SCALE, SR, False, x.shape, x.dtype, "avg")
    table = feature_table(x, spare_row=True)  # [N*H*W + 1, C]
    out = F.embedding_bag(index.view(-1), table, offsets, mode="sum", per_sample_weights=weight)
    return out.view(K, P, P, C).permute(0, 3, 1, 2).contiguous()


def pool_per_roi(x, rois):
    q = torch.round(rois[:, 1:] * SCALE).long()  # boxes are inside the map: no clipping
    return torch.stack([F.adaptive_max_pool2d(x[int(r[0]), :, q[k, 1]:q[k, 3] + 1,
                                                  q[k, 0]:q[k, 2] + 1], P)
                        for k, r in enumerate(rois)])


@contextlib.contextmanager
def _quiet_stderr():
    # the profiler warns (in C++, on fd 2) each time a block allocated before it started is
    # freed, which backward always does; those frees are simply not counted
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _peak_mb(fn):
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    # every allocation and free of the CPU allocator, in time order (kineto's raw records)
    records = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for e in sorted(records, key=lambda e: e.start_ns()):
        live += e.nbytes()
        peak = max(peak, live)
    return peak / 2**20, result


def measure(fn, x, rois, repeats):
    """Median forward and backward ms over ``repeats`` runs, then one profiled run of each.

    Each repeat times a forward and then the backward of that very graph, so the two are
    timed in one loop here rather than with ``timing.median_ms`` (which times whole calls)."""
    fn(x.detach().requires_grad_(), rois).sum().backward()  # warm-up, not counted
    fwd, bwd = [], []
    for _ in range(repeats):
        xg = x.detach().requires_grad_()
        t0 = time.perf_counter()
        out = fn(xg, rois)
        t1 = time.perf_counter()
        out.backward(torch.ones_like(out))
        fwd.append(t1 - t0)
        bwd.append(time.perf_counter() - t1)
    xg = x.detach().requires_grad_()
    fwd_mb, out = _peak_mb(lambda: fn(xg, rois))
    grad = torch.ones_like(out)
    bwd_mb, _ = _peak_mb(lambda: out.backward(grad))
    return statistics.median(fwd) * 1e3, statistics.median(bwd) * 1e3, fwd_mb, bwd_mb


def large_rois(seed=0):
    """The large-box problem: ``[1, 256, 256, 256]`` map, 128 RoIs of ~4096 px."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 256, 256, 256, generator=g)
    xy = torch.rand(128, 2, generator=g) * 16
    return x, torch.cat([torch.zeros(128, 1), xy, torch.full((128, 2), 4096.0)], 1)


def measure_once(fn, x, rois):
    """ms and peak MiB of one forward and one backward (for problems too slow to repeat)."""
    xg = x.detach().requires_grad_()
    t0 = time.perf_counter()
    fwd_mb, out = _peak_mb(lambda: fn(xg, rois))
    t1 = time.perf_counter()
    grad = torch.ones_like(out)
    bwd_mb, _ = _peak_mb(lambda: out.backward(grad))
    return (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3, fwd_mb, bwd_mb


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    threads = parser.parse_args().threads
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, rois = make_problem()
    x_cl = x.to(memory_format=torch.channels_last)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; input "
          f"{list(x.shape)}, {K} RoIs, {P}x{P}, sampling_ratio={SR}, spatial_scale=1/16\n")
    want = kernels.roi_align(x, rois, P, SCALE, SR)
    rows = []
    ours = lambda t, r: kernels.roi_align(t, r, P, SCALE, SR)  # noqa: E731
    for name, fn, inp, reps in [("kernels.roi_align", ours, x, 7),
                                ("kernels, channels_last input", ours, x_cl, 7),
                                ("kernels, autograd bwd", align_autograd_bwd, x, 5),
                                ("grid_sample / image", align_grid_sample, x, 3),
                                ("per-RoI loop", align_per_roi, x, 2)]:
        err = (fn(inp, rois) - want).abs().max().item()
        rows.append((name, *measure(fn, inp, rois, reps), err))
    t = time.perf_counter()
    ref, _ = roi_align_ref(x, rois, P, SCALE, SR, backward=False)
    ref_fwd = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    roi_align_ref(x, rois, P, SCALE, SR)
    ref_bwd = (time.perf_counter() - t) * 1e3 - ref_fwd
    rows.append(("loop reference (once)", ref_fwd, ref_bwd, None, None,
                 (ref - want.double()).abs().max().item()))

    want = kernels.roi_pool(x, rois, P, SCALE)
    pool_rows = []
    ours = lambda t, r: kernels.roi_pool(t, r, P, SCALE)  # noqa: E731
    for name, fn, inp, reps in [("kernels.roi_pool", ours, x, 5),
                                ("kernels, channels_last input", ours, x_cl, 5),
                                ("per-RoI adaptive_max_pool2d", pool_per_roi, x, 2)]:
        err = (fn(inp, rois) - want).abs().max().item()
        pool_rows.append((name, *measure(fn, inp, rois, reps), err))

    x_big, rois_big = large_rois()
    big_rows = [(f"kernels.roi_align, {mode}",
                 *measure_once(lambda t, r, m=mode: kernels.roi_align(t, r, P, SCALE, -1, mode=m),
                               x_big, rois_big), None) for mode in ("avg", "max")]

    head = (f"{'':30s}{'fwd ms':>9s}{'bwd ms':>9s}{'fwd peak MiB':>14s}{'bwd peak MiB':>14s}"
            f"{'max |diff|':>12s}")
    for title, table in (("RoI Align", rows), ("RoI Pool", pool_rows),
                         ("RoI Align, 128 RoIs of 4096 px, adaptive grid (once)", big_rows)):
        print(f"{title}\n{head}")
        for name, fm, bm, fmb, bmb, err in table:
            mem = "".join(f"{'n/a':>14s}" if v is None else f"{v:14.1f}" for v in (fmb, bmb))
            diff = f"{'n/a':>12s}" if err is None else f"{err:12.1e}"
            print(f"{name:30s}{fm:9.1f}{bm:9.1f}{mem}{diff}")
        print()
    out_mb = K * C * P * P * 4 / 2**20
    print(f"for scale: the output is {out_mb:.1f} MiB; one per-RoI copy of the map "
          f"[K, C, H, W] would be {K * C * H * W * 4 / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
