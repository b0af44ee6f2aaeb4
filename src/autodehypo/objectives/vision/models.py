"""Models sized and adapted to the data: input channels, input size, classifier head, frozen layers."""

from __future__ import annotations

from pathlib import Path

MODELS = ("cnn", "resnet18", "densenet121", "convnext_small", "vgg11")
# Measured: these fail on 28x28 inputs (too many downsamplings), so small images are padded to 32x32.
_MIN_SIZE = {"densenet121": 32, "vgg11": 32, "convnext_small": 32}
TRAINABLE = ("all", "head", "last_block")


class ModelError(ValueError):
    """Weights that cannot be loaded or a model that does not exist."""


def small_cnn(nn, channels: int, num_classes: int, size: int):
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * (size // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, num_classes))


def input_size(model: str, size: int) -> int:
    return max(size, _MIN_SIZE.get(model, 0))


def build_model(name: str, channels: int, num_classes: int, size: int, weights: str = "none",
                trainable: str = "all"):
    """The model and whether 1-channel inputs must be repeated to 3 channels.

    From scratch, a 1-channel set gets a 1-channel first convolution; with
    pretrained weights the first convolution keeps its 3 channels and the
    gray images are repeated, so that the pretrained filters apply.
    """
    import torch
    from torch import nn
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    if trainable not in TRAINABLE:
        raise ModelError(f"trainable must be one of {list(TRAINABLE)}, got {trainable!r}")
    if name == "cnn":
        if weights != "none":
            raise ModelError("the small cnn has no pretrained weights; use weights = \"none\"")
        model = small_cnn(nn, channels, num_classes, input_size(name, size))
        _freeze(model, name, trainable)
        return model, False
    from torchvision import models
    builder = getattr(models, name)
    if weights == "imagenet":
        try:
            model = builder(weights="DEFAULT")
        except Exception as exc:  # offline: the download fails in various ways
            raise ModelError(f"cannot get torchvision's ImageNet weights for {name} ({exc}); download them "
                             "with internet access, or save a state_dict and give its path as weights") from None
    else:
        model = builder(weights=None)
        if weights != "none":
            path = Path(weights)
            if not path.is_file():
                raise ModelError(f"weights: no such file {weights!r}")
            try:
                model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except (RuntimeError, ValueError) as exc:
                raise ModelError(f"weights: {path} is not a state_dict of torchvision's {name}: "
                                 f"{str(exc).splitlines()[0]}") from None
    pretrained = weights != "none"
    repeat = channels == 1 and pretrained
    if channels != 3 and not pretrained:
        _replace_first_conv(model, name, channels)
    _replace_head(model, name, num_classes)
    _freeze(model, name, trainable)
    return model, repeat


def _first_conv(model, name):
    if name == "resnet18":
        return model, "conv1"
    if name == "densenet121":
        return model.features, "conv0"
    if name == "vgg11":
        return model.features, "0"
    return model.features[0], "0"  # convnext_small: the stem's first layer


def _replace_first_conv(model, name, channels):
    from torch import nn
    parent, attr = _first_conv(model, name)
    old = getattr(parent, attr) if not attr.isdigit() else parent[int(attr)]
    new = nn.Conv2d(channels, old.out_channels, old.kernel_size, old.stride, old.padding,
                    bias=old.bias is not None)
    if attr.isdigit():
        parent[int(attr)] = new
    else:
        setattr(parent, attr, new)


def _replace_head(model, name, num_classes):
    from torch import nn
    if name == "resnet18":
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif name == "densenet121":
        model.classifier = nn.Linear(model.classifier.in_features, num_classes)
    elif name == "vgg11":
        model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    else:
        model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)


def _head(model, name):
    return {"cnn": lambda: model[-1], "resnet18": lambda: model.fc, "densenet121": lambda: model.classifier,
            "vgg11": lambda: model.classifier, "convnext_small": lambda: model.classifier}[name]()


def _last_block(model, name):
    return {"cnn": lambda: model[-3], "resnet18": lambda: model.layer4,
            "densenet121": lambda: model.features.denseblock4,
            "vgg11": lambda: model.features[-6:],
            "convnext_small": lambda: model.features[-1]}[name]()


def _freeze(model, name, trainable):
    if trainable == "all":
        return
    for p in model.parameters():
        p.requires_grad_(False)
    parts = [_head(model, name)] + ([_last_block(model, name)] if trainable == "last_block" else [])
    for part in parts:
        for p in part.parameters():
            p.requires_grad_(True)
