"""One tester for the RoI op family, as torchvision's ``RoIOpTester`` (test/test_ops.py).

RoI Pool and RoI Align take the same boxes, return the same shapes and share their entry
checks, so every test that does not depend on how a bin is pooled lives here once:
random boxes against the slow loop reference (tests/roi_reference.py), a property test
(hypothesis) over maps, boxes, sizes, scales and configurations, many RoIs, the list-of-boxes
and empty formats, half and bfloat16, gradcheck in float64, the ``nn.Module``, memory format,
boxes as constants and bad input. ``tests/test_roi_<op>.py`` subclasses :class:`RoIOpTester`
(named ``Test...`` there, so pytest collects it) and supplies the op, its module, its
reference and its configurations, plus the tests only that op has. This module is not named
``test_*``: pytest collects the tester only through its subclasses.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from roi_reference import random_rois

INF, NAN = float("inf"), float("nan")


def _with_grad(op, x, boxes, *args, grad_out=None, **kw):
    x = x.detach().clone().requires_grad_()
    out = op(x, boxes, *args, **kw)
    out.backward(torch.ones_like(out) if grad_out is None else grad_out)
    return out, x.grad


def _property_test():
    """A fresh property test for each subclass: hypothesis wants one test function per class
    (the same function run on two classes fails its ``differing_executors`` health check)."""

    @pytest.mark.property
    @given(data=st.data())
    def test_property_matches_reference(self, data):
        # random maps (non-finite values on border cells), boxes inside, outside, degenerate
        # and fractional, output sizes, scales and configurations; forward and gradient
        draw = data.draw
        n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
        h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        scale = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
        size = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        cfg = self.draw_config(draw)
        gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
        x = self.make_input(gen, (n, c, h, w))
        border = [(b, ch, i, j) for b in range(n) for ch in range(c) for i in range(h)
                  for j in range(w) if i in (0, h - 1) or j in (0, w - 1)]
        for cell in draw(st.lists(st.sampled_from(border), max_size=3)):
            x[cell] = draw(st.sampled_from(self.nonfinite))
        # corners in map cells: on quarter cells (halves, exact ties, degenerate boxes) or any
        # real, from 3 cells before the map to 3 past it; x2 < x1 is allowed
        coord = lambda lim: st.one_of(  # noqa: E731
            st.integers(-12, 4 * lim + 12).map(lambda q: q / 4),
            st.floats(-3, lim + 3, allow_nan=False))
        boxes = [[draw(st.integers(0, n - 1)), draw(coord(w)), draw(coord(h)), draw(coord(w)),
                  draw(coord(h))] for _ in range(draw(st.integers(0, 4)))]
        rois = torch.tensor(boxes, dtype=torch.float64).reshape(-1, 5)
        rois[:, 1:] /= scale  # image pixels
        g = torch.randn(len(boxes), c, *size, generator=gen, dtype=torch.float64)
        out, grad = _with_grad(self.op, x, rois, size, scale, grad_out=g, **cfg)
        ref_out, ref_grad = self.reference(x, rois, size, scale, grad_output=g, **cfg)
        torch.testing.assert_close(out, ref_out, equal_nan=True, **self._tol(torch.float64))
        torch.testing.assert_close(grad, ref_grad, equal_nan=True)

    return test_property_matches_reference


class RoIOpTester:
    """Shared tests; a subclass sets the class attributes below and adds its own tests."""

    op = None         # the function: op(input, boxes, output_size, spatial_scale, **config)
    module = None     # the nn.Module: module(output_size, spatial_scale, **config)
    reference = None  # the loop reference: reference(input, rois, output_size, spatial_scale,
    #                   grad_output=None, **config) -> (output, grad_input), float64
    configs = [{}]    # op-specific keyword arguments to run the shared tests with
    gradcheck_configs = None  # the configs for gradcheck (slow), when not all of them
    exact = False     # the forward is exact (max of input values) rather than a weighted sum
    nonfinite = (INF, -INF)  # values the property test puts on border cells
    half_tol = dict(rtol=1e-2, atol=1e-2)
    bfloat16_tol = dict(rtol=5e-2, atol=5e-2)

    @staticmethod
    def draw_config(draw):
        """A random op-specific configuration (hypothesis ``draw``)."""
        return {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.test_property_matches_reference = _property_test()

    def make_input(self, gen, shape, dtype=torch.float64):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    def _tol(self, dtype):
        if self.exact:
            return dict(rtol=0, atol=0)
        return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10,
                                                                                atol=1e-12)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    @pytest.mark.parametrize("size,scale", [((3, 2), 1.0), (2, 0.5), ((1, 4), 0.25)])
    def test_random_boxes_match_reference(self, device, dtype, size, scale):
        # forward and backward: several images, boxes in and out of the map, zero and negative
        # sizes, exact halves; a random grad_output, so that accumulation order matters
        for i, cfg in enumerate(self.configs):
            gen = torch.Generator().manual_seed(100 * i + int(4 * scale))
            x = self.make_input(gen, (3, 2, 9, 11), dtype)
            rois = random_rois(gen, 3, 30, 9, 11, scale, dtype)
            ph, pw = (size, size) if isinstance(size, int) else size
            g = torch.randn(30, 2, ph, pw, generator=gen, dtype=dtype)
            out, grad = _with_grad(self.op, x.to(device), rois.to(device), size, scale,
                                   grad_out=g.to(device), **cfg)
            ref_out, ref_grad = self.reference(x, rois, size, scale, grad_output=g, **cfg)
            assert out.dtype == dtype and out.device.type == device
            torch.testing.assert_close(out.cpu().double(), ref_out, **self._tol(dtype),
                                       msg=lambda m: f"{cfg}: {m}")
            torch.testing.assert_close(grad.cpu().double(), ref_grad,
                                       **self._tol(dtype) if not self.exact else {},
                                       msg=lambda m: f"{cfg} (gradient): {m}")

    def test_many_rois(self, device):
        # 250 RoIs: overlapping bins and RoIs accumulate into the same cells
        gen = torch.Generator().manual_seed(1)
        x = self.make_input(gen, (2, 1, 12, 12))
        rois = random_rois(gen, 2, 250, 12, 12)
        for cfg in self.configs:
            out, grad = _with_grad(self.op, x.to(device), rois.to(device), 3, **cfg)
            ref_out, ref_grad = self.reference(x, rois, 3, **cfg)
            torch.testing.assert_close(out.cpu(), ref_out, **self._tol(torch.float64))
            torch.testing.assert_close(grad.cpu(), ref_grad, rtol=0, atol=1e-12)

    def test_list_of_boxes(self, device):
        gen = torch.Generator().manual_seed(2)
        x = torch.randn(2, 3, 6, 6, generator=gen).to(device)
        a, b = torch.rand(2, 4, generator=gen) * 6, torch.rand(3, 4, generator=gen) * 6
        rois = torch.cat([torch.cat([torch.full((2, 1), 0.0), a], 1),
                          torch.cat([torch.full((3, 1), 1.0), b], 1)])
        for cfg in self.configs:
            torch.testing.assert_close(self.op(x, [a.to(device), b.to(device)], 2, **cfg),
                                       self.op(x, rois.to(device), 2, **cfg), rtol=0, atol=0)

    def test_empty_boxes(self, device):
        x = torch.randn(2, 3, 6, 6).to(device)
        for cfg in self.configs:
            for empty in ([], torch.zeros(0, 5, device=device)):
                out, grad = _with_grad(self.op, x, empty, (2, 3), **cfg)
                assert out.shape == (0, 3, 2, 3) and grad.abs().sum() == 0

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_and_bfloat16(self, device, dtype):
        # the same boxes and map, rounded to the low precision, given to the reference
        gen = torch.Generator().manual_seed(3)
        x = torch.randn(2, 2, 8, 8, generator=gen).to(dtype)
        rois = random_rois(gen, 2, 20, 8, 8, dtype=torch.float32).to(dtype)
        tol = dict(rtol=0, atol=0) if self.exact else (
            self.half_tol if dtype == torch.float16 else self.bfloat16_tol)
        for cfg in self.configs:
            out = self.op(x.to(device), rois.to(device), 2, **cfg)
            ref, _ = self.reference(x, rois, 2, **cfg)
            assert out.dtype == dtype
            torch.testing.assert_close(out.cpu().double(), ref, **tol)

    def test_gradcheck(self, device):
        gen = torch.Generator().manual_seed(4)
        x = torch.randn(2, 2, 7, 7, generator=gen, dtype=torch.float64).to(device)  # no ties
        rois = random_rois(gen, 2, 6, 7, 7).to(device)
        for cfg in self.gradcheck_configs or self.configs:
            torch.autograd.gradcheck(lambda t: self.op(t, rois, (2, 3), 1.0, **cfg),
                                     (x.clone().requires_grad_(),))

    def test_module(self):
        x = torch.randn(1, 2, 8, 8)
        boxes = [torch.tensor([[1, 1, 6, 5.0]])]
        for cfg in self.configs:
            m = self.module((2, 3), 0.5, **cfg)
            assert torch.equal(m(x, boxes), self.op(x, boxes, (2, 3), 0.5, **cfg))
            with pytest.raises(ValueError, match="spatial_scale must be"):
                self.module(2, 0.0, **cfg)
            with pytest.raises(ValueError, match="output_size must be positive"):
                self.module(0, 1.0, **cfg)

    def test_memory_format_follows_input(self):
        # a channels-last input gives a channels-last output with no transposing copy; an
        # ordinary input a contiguous one, like torchvision's
        gen = torch.Generator().manual_seed(5)
        x = torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64)
        rois = random_rois(gen, 2, 10, 8, 8)
        for cfg in self.configs:
            a, grad_a = _with_grad(self.op, x, rois, 2, **cfg)
            b, grad_b = _with_grad(self.op, x.to(memory_format=torch.channels_last), rois, 2,
                                   **cfg)
            assert a.is_contiguous() and b.is_contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(a, b, rtol=0, atol=0)
            torch.testing.assert_close(grad_a, grad_b)

    def test_boxes_are_constants(self):
        # like torchvision, no gradient flows to the boxes: a box that requires grad is detached
        x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
        boxes = torch.tensor([[0, 0.5, 1, 4, 5]], dtype=torch.float64, requires_grad=True)
        self.op(x, boxes, 2, **self.configs[0]).sum().backward()
        assert boxes.grad is None and x.grad is not None

    @pytest.mark.parametrize("change,err,match", [
        (dict(boxes=torch.tensor([[0, 0, 4, 4.0]])), ValueError, r"Tensor\[K, 5\]"),
        (dict(boxes=[torch.tensor([[1, 0, 0, 4, 4.0]])]), ValueError,
         r"boxes\[0\] must be Tensor\[L, 4\]"),
        (dict(boxes=[torch.zeros(1, 4)] * 3), ValueError, "list of 3 tensors"),
        (dict(boxes=torch.zeros(1, 5).numpy()), TypeError, "boxes must be"),
        (dict(boxes=torch.tensor([[2, 0, 0, 4, 4.0]])), ValueError, r"batch index in \[0, 2\)"),
        (dict(boxes=torch.tensor([[-1, 0, 0, 4, 4.0]])), ValueError, r"batch index in \[0, 2\)"),
        (dict(boxes=torch.tensor([[0.5, 0, 0, 4, 4.0]])), ValueError, "integral batch index"),
        (dict(boxes=torch.tensor([[0, 0, NAN, 4, 4.0]])), ValueError, "finite"),
        (dict(boxes=torch.tensor([[0, 0, 0, INF, 4.0]])), ValueError, "finite"),
        (dict(boxes=torch.zeros(1, 5, dtype=torch.float64)), TypeError, "dtype"),
        (dict(boxes=torch.zeros(1, 5, device="meta")), ValueError, "same device"),
        (dict(output_size=0), ValueError, "output_size must be positive"),
        (dict(output_size=(2, -1)), ValueError, r"output_size\[1\] must be positive"),
        (dict(output_size=(2, 2, 2)), ValueError, "output_size must be an int or a pair"),
        (dict(output_size=2.0), TypeError, "output_size must be an int"),
        (dict(spatial_scale=0.0), ValueError, "spatial_scale must be a finite positive"),
        (dict(spatial_scale=INF), ValueError, "spatial_scale must be a finite positive"),
        (dict(spatial_scale="1"), TypeError, "spatial_scale must be a float"),
        (dict(input=torch.randn(3, 8, 8)), ValueError, "input must be 4-D"),
        (dict(input=torch.zeros(2, 3, 8, 8, dtype=torch.long)), TypeError, "floating-point"),
        (dict(input=torch.randn(2, 3, 8, 8).numpy()), TypeError, "input must be a torch.Tensor"),
    ])
    def test_bad_input(self, change, err, match):
        args = dict(input=torch.randn(2, 3, 8, 8), boxes=torch.tensor([[1, 0, 0, 4, 4.0]]),
                    output_size=2, spatial_scale=1.0)
        args.update(change)
        with pytest.raises(err, match=match):
            self.op(**args, **self.configs[0])
