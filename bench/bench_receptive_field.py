"""Receptive-field kernels and the chapter's live explorer.

Run: ``python bench/bench_receptive_field.py [--repeats 7]``. Prints median times of

* ``kernels.receptive_field`` on the four classic feature extractors at 224x224 (full width;
  built on the meta device, since the analytic walk never reads a weight). Target for
  ResNet-50: well under a second;
* ``kernels.empirical_receptive_field`` (autograd on a float64 copy) on thin copies;
* every explorer of ``book/receptive_field.md``: the figure function alone, and a full live
  update (figure function + patch sent to the live figure), over every slider position. Target:
  median <= 30 ms.

The machine is shared: timings of small ops swing when other processes hold the cores, so
each row reports the median of several repeats.
"""
import argparse
import itertools
import statistics

import torch
from timing import median_ms

import kernels
from kernels.viz import Explorer
from kernels.viz import receptive_field as V


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}\n")

    print(f"{'receptive_field, 224x224':<34}{'ms':>8}{'r':>6}{'S':>4}{'P':>5}")
    for name, fn, kw in [("AlexNet", kernels.alexnet_features, {}),
                         ("VGG-16", kernels.vgg16_features, {}),
                         ("ResNet-50 (torchvision)", kernels.resnet50_features, {}),
                         ("ResNet-50 (stride in 1x1)", kernels.resnet50_features,
                          {"stride_in": "1x1"}),
                         ("MobileNet v1", kernels.mobilenet_v1_features, {})]:
        with torch.device("meta"):
            model = fn(**kw)
        ms = median_ms(lambda: kernels.receptive_field(model, 224), args.repeats)
        rf = kernels.receptive_field(model, 224)
        print(f"{name:<34}{ms:>8.1f}{rf.size[0]:>6}{rf.stride[0]:>4}{rf.padding[0]:>5}")

    print(f"\n{'empirical_receptive_field':<34}{'ms':>8}")
    for name, model, size in [("VGG-16 width 1/32, 224", kernels.vgg16_features(1 / 32), 224),
                              ("ResNet-50 width 1/32, 480", kernels.resnet50_features(1 / 32),
                               480),
                              ("conv stack 4 x 3x3 d2, 65", kernels.conv_stack(4, dilation=2),
                               65)]:
        ms = median_ms(lambda: kernels.empirical_receptive_field(model, size), 3)
        print(f"{name:<34}{ms:>8.1f}")

    print(f"\n{'explorer (all slider positions)':<34}{'median ms':>10}{'max ms':>8}")
    grid = {name: p.values for name, p in V.field_figure.params.items()}  # the chapter's grid
    combos = [dict(zip(grid, c)) for c in itertools.product(*grid.values())]
    figure_times = []
    for p in combos:
        figure_times.append(median_ms(lambda: V.field_figure(**p), args.repeats))
    print(f"{'field_figure (figure only)':<34}{statistics.median(figure_times):>10.1f}"
          f"{max(figure_times):>8.1f}")
    ex = Explorer(V.field_figure)
    ex.figure  # build the live figure once, as a live page does
    live = []
    for p in combos:
        ex.values.update(p)
        live.append(median_ms(ex.update, args.repeats))
    print(f"{'field_figure (live update)':<34}{statistics.median(live):>10.1f}{max(live):>8.1f}")


if __name__ == "__main__":
    main()
