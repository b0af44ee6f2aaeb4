"""Convolutions over feature maps of a few pixels, computed as one matrix product.

ImageNet models on 28x28 or 32x32 images shrink their feature maps to 2x2
and 1x1 in the last stages (ResNet18's layer3 and layer4, DenseNet121's last
block, VGG11's last convolutions). There a 3x3 convolution spends most of its
multiplications on zero padding, and oneDNN's kernels for such shapes are
slow, above all for the weight gradient. Measured on a Xeon with AMX, one
thread, bf16: forward and backward of a 256-channel 3x3 convolution over 2x2
maps of 128 images take 21 ms as a convolution and 7 ms in this form.

For a map of P pixels, a convolution is a linear map from P*C inputs to
P'*O outputs whose matrix holds, for each pair of input and output pixels, the
kernel tap that joins them, or zeros where none does. Building that matrix
from the live taps and multiplying once gives the same values and gradients
(up to summation order) with no work on padding. The parameters and the
state_dict stay those of the original convolution.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

MAX_PIXELS = 4  # measured: 2x2 maps and smaller gain; a 4x4 map's matrix holds more zeros than its kernel


def tap_table(height: int, width: int, conv) -> tuple[list[list[int]], int, int]:
    """For each (input pixel, output pixel) pair, the flat kernel tap joining them, or -1."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    table = [[-1] * (out_h * out_w) for _ in range(height * width)]
    for oi in range(out_h):
        for oj in range(out_w):
            for ti in range(kh):
                for tj in range(kw):
                    ii, ij = oi * sh - ph + ti * dh, oj * sw - pw + tj * dw
                    if 0 <= ii < height and 0 <= ij < width:
                        table[ii * width + ij][oi * out_w + oj] = ti * kw + tj
    return table, out_h, out_w


def worth_converting(conv, height: int, width: int, max_pixels: int = MAX_PIXELS) -> bool:
    """A small map, no larger than the kernel, so that the matrix does no more work than the convolution.

    A 1x1 kernel is left alone: it already is a matrix product, and on a
    2x2 map its matrix would be three quarters zeros (DenseNet121's
    transitions ran 1.5x slower so).
    """
    kh, kw = conv.kernel_size
    pixels = height * width
    return (type(conv) is nn.Conv2d and conv.groups == 1 and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str) and kh * kw > 1 and pixels <= min(max_pixels, kh * kw))


def convert(conv, height: int, width: int) -> None:
    """Turn ``conv`` into a TinyMapConv2d for inputs of height x width; its parameters stay as they are."""
    table, out_h, out_w = tap_table(height, width, conv)
    device = conv.weight.device
    live = sorted({t for row in table for t in row if t >= 0})
    # Index into [live taps..., one zero block]: pairs no tap joins read the zero block.
    position = {tap: i for i, tap in enumerate(live)}
    blocks = [position.get(t, len(live)) for row in table for t in row]
    conv.__class__ = TinyMapConv2d
    conv.register_buffer("_live_taps", torch.tensor(live, dtype=torch.long, device=device), persistent=False)
    conv.register_buffer("_blocks", torch.tensor(blocks, dtype=torch.long, device=device), persistent=False)
    conv._needs_zero_block = len(live) in blocks
    conv._map = (height, width, out_h, out_w)
    # The weight is gathered by tap; a contiguous weight keeps its gradient in the
    # parameter's own layout (a channels_last one would be copied at every step).
    conv.weight.data = conv.weight.data.contiguous()


def convert_tiny_convs(model, example, max_pixels: int = MAX_PIXELS) -> int:
    """Convert each Conv2d of ``model`` that is worth converting at its map size; returns how many.

    ``example`` is an input batch of the shape training will use; it runs once
    in eval mode without gradients, so batch-norm statistics are untouched.
    """
    sizes: dict[Any, tuple[int, int]] = {}

    def record(module, inputs):
        sizes.setdefault(module, tuple(inputs[0].shape[-2:]))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if type(m) is nn.Conv2d]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    chosen = [(conv, h, w) for conv, (h, w) in sizes.items() if worth_converting(conv, h, w, max_pixels)]
    for conv, height, width in chosen:
        convert(conv, height, width)
    return len(chosen)


class TinyMapConv2d(nn.Conv2d):
    """A Conv2d whose input is always a map of a few pixels; see the module's docstring."""

    def forward(self, x):
        height, width, out_h, out_w = self._map
        if tuple(x.shape[-2:]) != (height, width):  # not the size it was converted for
            return super().forward(x)
        out_ch, in_ch = self.out_channels, self.in_channels
        n_in, n_out = height * width, out_h * out_w
        weight = self.weight.flatten(2)
        if len(self._live_taps) < weight.shape[2]:
            weight = weight.index_select(2, self._live_taps)
        weight = weight.permute(2, 1, 0)  # (tap, in, out)
        if self._needs_zero_block:
            weight = torch.cat([weight, weight.new_zeros(1, in_ch, out_ch)])
        matrix = (weight.index_select(0, self._blocks).view(n_in, n_out, in_ch, out_ch)
                  .transpose(1, 2).reshape(n_in * in_ch, n_out * out_ch))
        batch = x.shape[0]
        # (pixel, channel) is channels_last memory order: no copy for such inputs
        flat = x.permute(0, 2, 3, 1).reshape(batch, n_in * in_ch)
        if self.bias is None:
            y = flat @ matrix
        else:  # addmm, not "+": autocast covers it, so a bf16 product stays bf16 with its bias
            y = torch.addmm(self.bias.repeat(n_out), flat, matrix)
        return y.view(batch, out_h, out_w, out_ch).permute(0, 3, 1, 2)
