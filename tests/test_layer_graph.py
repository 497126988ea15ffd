"""kernels.layer_graph, the part the three receptive-field modules share: torch's window length
against torch's own output shapes and the documented formula; input-size parsing; and the
import direction of the receptive-field modules (tests/test_layout.py checks the whole package
for cycles and re-exports)."""
import ast
import itertools
import pathlib

import pytest
import torch
import torch.nn as nn
from receptive_field_reference import window_length_ref

from kernels.layer_graph import parse_input_size, trace, window_length


def torch_length(layer, n):
    """Output length of ``layer`` on an ``n x 1`` map, or None where torch refuses."""
    try:
        return layer(torch.zeros(1, 1, n, 1)).shape[-2]
    except RuntimeError:
        return None


def windows():
    """Every small (k, s, p, d, ceil_mode) torch accepts, with the layers that take it."""
    for k, s, d, ceil in itertools.product(range(1, 5), range(1, 4), range(1, 4), (False, True)):
        for p in range(k // 2 + 1):
            kw = dict(kernel_size=(k, 1), stride=(s, 1), padding=(p, 0), ceil_mode=ceil)
            layers = [nn.MaxPool2d(dilation=(d, 1), **kw)]
            if d == 1:
                layers.append(nn.AvgPool2d(**kw))
            if not ceil:
                layers.append(nn.Conv2d(1, 1, (k, 1), (s, 1), (p, 0), (d, 1)))
            for layer in layers:
                yield k, s, p, d, ceil, layer


def test_window_length_matches_torch_for_every_small_window():
    checked = 0
    for k, s, p, d, ceil, layer in windows():
        for n in range(1, 11):
            got = window_length(n, d * (k - 1) + 1, s, p, p, ceil)
            assert got == window_length_ref(n, k, s, p, d, ceil)
            want = torch_length(layer, n)
            assert (got if got >= 1 else None) == want, (layer, n, got, want)
            checked += 1
    assert checked == 2640


def test_ceil_mode_keeps_a_window_past_the_input_but_not_one_starting_in_the_right_padding():
    # issue 9, defect 5: n=2, k=3, s=3: the one window starts at 0 and runs past the input
    assert window_length(2, 3, 3, 0, 0, ceil_mode=True) == 1 == torch_length(
        nn.MaxPool2d((3, 1), (3, 1), ceil_mode=True), 2)
    # n=5, k=2, s=2, p=1: ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th would start at 6,
    # inside the right padding (n + p = 6), so torch keeps 3
    assert window_length(5, 2, 2, 1, 1, ceil_mode=True) == 3 == torch_length(
        nn.MaxPool2d((2, 1), (2, 1), (1, 0), ceil_mode=True), 5)


def test_parse_input_size_and_trace_errors_name_the_argument():
    assert parse_input_size(7) == (None, (7, 7))
    assert parse_input_size((5, 6)) == (None, (5, 6))
    assert parse_input_size((3, 5, 6)) == (3, (5, 6))
    with pytest.raises(ValueError, match="input_size must be positive"):
        parse_input_size(0)
    with pytest.raises(TypeError, match=r"input_size\[C\] must be an int"):
        parse_input_size((1.0, 5, 6))
    with pytest.raises(ValueError, match=r"input_size must be H, \(H, W\) or \(C, H, W\)"):
        parse_input_size((1, 2, 3, 4))

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(TypeError, match="model could not be traced with torch.fx"):
        trace(Branchy())


RF_MODULES = ["layer_graph", "_receptive_field_rules", "_receptive_field_walk", "receptive_field",
              "empirical_receptive_field", "effective_receptive_field"]


def module_tree(name):
    return ast.parse((pathlib.Path(__file__).parents[1] / "kernels" / f"{name}.py").read_text())


def kernels_imports(tree):
    """Sibling modules of ``kernels`` that a module imports (relative imports)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out |= {node.module} if node.module else {a.name for a in node.names}
    return out


def test_receptive_field_modules_import_in_one_direction():
    # each module may import only those listed before it: shared code at the bottom, the
    # effective field (which weighs the exact one) on top; each private module has one owner
    importers = {}
    for i, name in enumerate(RF_MODULES):
        mine = kernels_imports(module_tree(name)) & set(RF_MODULES)
        assert mine <= set(RF_MODULES[:i]), f"kernels/{name}.py imports {sorted(mine)} from above"
        for dep in mine:
            importers.setdefault(dep, set()).add(name)
    assert importers["_receptive_field_rules"] == {"_receptive_field_walk"}
    assert importers["_receptive_field_walk"] == {"receptive_field"}
