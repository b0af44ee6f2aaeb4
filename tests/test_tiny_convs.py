"""Convolutions over tiny maps as matrix products: same values and gradients as torch's convolution."""

import copy
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from autodehypo.objectives.vision.models import build_model  # noqa: E402
from autodehypo.objectives.vision.tiny_convs import (  # noqa: E402
    TinyMapConv2d, convert, convert_tiny_convs, tap_table, worth_converting)

# (input size, kernel, stride, padding, dilation): 3x3 "same" maps as in ResNet's last stages,
# strided ones, 1x1 kernels (some input/output pixel pairs joined by no tap), rectangles, dilation
SHAPES = [((1, 1), 3, 1, 1, 1), ((2, 2), 3, 1, 1, 1), ((2, 2), 3, 2, 1, 1), ((2, 2), 1, 1, 0, 1),
          ((2, 2), 1, 2, 0, 1), ((1, 2), 3, 1, 1, 1), ((2, 1), (3, 1), 1, (1, 0), 1), ((2, 2), 2, 1, 0, 1),
          ((2, 2), 3, 1, 2, 2), ((1, 3), (1, 3), 1, 0, 1), ((1, 1), 5, 1, 2, 1)]


def convert_single(conv, size):
    convert(conv, *size)
    assert type(conv) is TinyMapConv2d
    return conv


@pytest.mark.parametrize("shape,bias,channels_last", list(itertools.product(SHAPES, (True, False), (True, False))))
def test_matrix_form_matches_convolution_values_and_gradients(shape, bias, channels_last):
    size, kernel, stride, padding, dilation = shape
    torch.manual_seed(0)
    reference = nn.Conv2d(6, 5, kernel, stride, padding, dilation, bias=bias)
    converted = convert_single(copy.deepcopy(reference), size)
    x = torch.randn(7, 6, *size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = reference(x1), converted(x2)
    assert y1.shape == y2.shape
    torch.testing.assert_close(y2, y1, rtol=1e-5, atol=1e-5)
    upstream = torch.randn_like(y1)
    (y1 * upstream).sum().backward()
    (y2 * upstream).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(converted.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-5)
    assert converted.weight.grad.shape == converted.weight.shape
    if bias:
        torch.testing.assert_close(converted.bias.grad, reference.bias.grad, rtol=1e-5, atol=1e-5)


def test_tap_table_joins_each_pair_by_its_tap():
    # 2x2 map, 3x3 kernel, padding 1: input pixel (0,0) reaches output (0,0) through the centre
    # tap 4 and output (1,1) through the top-left tap 0
    conv = nn.Conv2d(1, 1, 3, padding=1)
    table, out_h, out_w = tap_table(2, 2, conv)
    assert (out_h, out_w) == (2, 2)
    assert table[0] == [4, 3, 1, 0]
    assert table[3] == [8, 7, 5, 4]
    table, _, _ = tap_table(2, 2, nn.Conv2d(1, 1, 1))
    assert table == [[0, -1, -1, -1], [-1, 0, -1, -1], [-1, -1, 0, -1], [-1, -1, -1, 0]]


def test_under_bf16_autocast_it_stays_close_to_the_convolution():
    torch.manual_seed(1)
    reference = nn.Conv2d(64, 32, 3, padding=1)
    converted = convert_single(copy.deepcopy(reference), (2, 2))
    x = torch.randn(16, 64, 2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y1, y2 = reference(x), converted(x)
    assert y2.dtype == torch.bfloat16
    torch.testing.assert_close(y2.float(), y1.float(), rtol=0.05, atol=0.05)


def test_resnet18_at_28x28_converts_its_last_two_stages_and_keeps_its_state():
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 1, 10, 28)
    model = model.to(memory_format=torch.channels_last)
    reference = copy.deepcopy(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    assert convert_tiny_convs(model, torch.randn(2, 1, 28, 28)) == 7
    converted = {name for name, m in model.named_modules() if type(m) is TinyMapConv2d}
    # layer3 runs on 2x2 maps, layer4 on 1x1; layer3's stride-2 entry sees 4x4, and the
    # 1x1 downsampling convolutions are matrix products already
    assert converted == {"layer3.0.conv2", "layer3.1.conv1", "layer3.1.conv2",
                         "layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2"}
    assert model.training  # the sizing pass ran in eval mode and the mode came back
    after = model.state_dict()
    assert after.keys() == before.keys()  # checkpoints and weights files still fit
    for key in before:  # the sizing pass moved no batch-norm statistic
        assert torch.equal(after[key], before[key]), key
    x = torch.randn(8, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
    # fed another size, a converted convolution falls back to the ordinary one
    model.eval(), reference.eval()
    big = torch.randn(2, 1, 64, 64)
    torch.testing.assert_close(model(big), reference(big), rtol=1e-4, atol=1e-4)


def test_only_maps_no_larger_than_the_kernel_are_worth_it():
    three = nn.Conv2d(4, 4, 3, padding=1)
    assert worth_converting(three, 1, 1) and worth_converting(three, 2, 2) and worth_converting(three, 1, 3)
    assert not worth_converting(three, 4, 4) and not worth_converting(three, 3, 3)  # over MAX_PIXELS
    assert not worth_converting(nn.Conv2d(4, 4, 1), 2, 2) and not worth_converting(nn.Conv2d(4, 4, 1), 1, 1)
    assert not worth_converting(nn.Conv2d(4, 4, (1, 3), padding=(0, 1)), 2, 2)  # 4 pixels, 3 taps
    assert worth_converting(nn.Conv2d(4, 4, 2), 2, 2)


def test_grouped_and_large_map_convolutions_are_left_alone():
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 4, 3, padding=1),
                          nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"))
    assert convert_tiny_convs(model, torch.zeros(1, 4, 2, 2)) == 1
    assert [type(m) is TinyMapConv2d for m in model] == [False, True, False]
    assert convert_tiny_convs(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)), torch.zeros(1, 4, 4, 4)) == 0


@pytest.mark.slow
def test_training_through_converted_layers_resumes_from_a_checkpoint_identically(tmp_path):
    """ResNet18 at 28x28 (its last stages converted) trains 2 epochs straight, and 1 + 1 from a checkpoint."""
    from autodehypo.objectives.vision.data import ImageData
    from autodehypo.objectives.vision.trainer import train_and_evaluate
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 40).astype(np.int64)
    images = (rng.random((160, 1, 28, 28)) * 60 + labels[:, None, None, None] * 45).astype(np.uint8)
    data = ImageData(images, labels, images[:40], labels[:40], 4)
    hp = {"lr": 0.02, "batch_size": 32, "epochs": 2, "optimizer": "sgd", "momentum": 0.9,
          "weight_decay": 1e-4, "schedule": "constant", "label_smoothing": 0.0, "weights": "none",
          "trainable": "all", "train_subset": None, "seed": 3}
    straight = train_and_evaluate(data, hp, model_name="resnet18", device="cpu", checkpoint_dir=tmp_path / "a")
    first = train_and_evaluate(data, {**hp, "epochs": 1}, model_name="resnet18", device="cpu",
                               checkpoint_dir=tmp_path / "b", keep_checkpoint=True)
    assert (tmp_path / "b" / "checkpoint.pt").is_file() and first["epochs"] == 1
    resumed = train_and_evaluate(data, hp, model_name="resnet18", device="cpu", checkpoint_dir=tmp_path / "b")
    assert resumed["objective"] == straight["objective"]
    assert resumed["val_loss"] == straight["val_loss"]
    assert straight["precision"] in ("bf16", "fp32")
