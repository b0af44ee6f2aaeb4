from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

from ..python import _check_fixed
from .data import DATASETS, DataError, ImageData, load_dataset
from .models import MODELS, TRAINABLE
from ...continuation import fidelity_context
from .trainer import CHECKPOINT, OPTIMIZERS, PRECISIONS, SCHEDULES, train_and_evaluate

HYPERPARAMETERS: dict[str, Any] = {
    "lr": 0.01,
    "batch_size": 128,
    "epochs": 1,
    "optimizer": "sgd",          # sgd | adam | adamw
    "momentum": 0.9,             # sgd only
    "weight_decay": 0.0,
    "schedule": "constant",      # constant | cosine | step
    "label_smoothing": 0.0,
    "weights": "none",           # none | imagenet | path to a state_dict of the torchvision model
    "trainable": "all",          # all | head | last_block
    "train_subset": None,        # use only this many training images (None: all)
    "seed": 0,
}
_CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "trainable": TRAINABLE}


class VisionObjective:
    """Train a torchvision model on an image data set; the value is the validation error.

    Validation is a fixed stratified split of the training set; the test set
    is only evaluated (metric ``test_error``), never used for selection.
    """

    key = "objective"

    def __init__(self, *, model: str = "resnet18", dataset: str = "fashion-mnist",
                 data_dir: str | None = None, download: bool = False, device: str = "auto",
                 deterministic: bool = True, precision: str = "auto", keep_checkpoints: bool = False,
                 validation_fraction: float = 0.1, eval_limit: int | None = None,
                 fixed: Mapping[str, Any] | None = None,
                 param_names: list[str] | None = None):
        from .. import ObjectiveError
        if model not in MODELS:
            raise ObjectiveError(f"objective.model: unknown model {model!r}; choose one of {list(MODELS)}")
        if dataset not in DATASETS:
            raise ObjectiveError(f"objective.dataset: unknown data set {dataset!r}; choose one of {list(DATASETS)}")
        if not 0.0 < validation_fraction < 1.0:
            raise ObjectiveError(f"objective.validation_fraction: must be in (0, 1), got {validation_fraction!r}")
        if precision not in PRECISIONS:
            raise ObjectiveError(f"objective.precision: expected one of {list(PRECISIONS)}, got {precision!r}")
        self.fixed = _check_fixed(fixed, param_names)
        unknown = sorted((set(param_names or []) | set(self.fixed)) - set(HYPERPARAMETERS))
        if unknown:
            raise ObjectiveError(f"objective: the vision objective has no hyperparameter(s) {unknown}; "
                                 f"it understands {sorted(HYPERPARAMETERS)}")
        for key, allowed in _CHOICES.items():
            if key in self.fixed and self.fixed[key] not in allowed:
                raise ObjectiveError(f"objective.fixed.{key}: expected one of {list(allowed)}, "
                                     f"got {self.fixed[key]!r}")
        self.model, self.dataset, self.data_dir = model, dataset, data_dir
        self.download, self.device, self.deterministic = download, device, deterministic
        self.precision = precision
        self.keep_checkpoints, self.validation_fraction = keep_checkpoints, validation_fraction
        if eval_limit is not None and (not isinstance(eval_limit, int) or eval_limit < 1):
            raise ObjectiveError(f"objective.eval_limit: expected an integer >= 1, got {eval_limit!r}")
        self.eval_limit = eval_limit
        self._data: ImageData | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to Slurm jobs without the images: a job loads them itself.
        return {**self.__dict__, "_data": None}

    def prepare(self) -> None:
        """Load the data once in the driver; forked trials share it."""
        from .. import ObjectiveError
        import importlib.util
        for module in ("torch", "torchvision"):
            if importlib.util.find_spec(module) is None:
                raise ObjectiveError(f"objective: the vision objective needs {module}: "
                                     "pip install 'autodehypo[torch]'")
        try:
            self._data = load_dataset(self.dataset, self.data_dir, self.download)
        except DataError as exc:
            hint = "" if self.download else "; set objective.download = true to fetch it"
            raise ObjectiveError(f"objective.data_dir: {exc}{hint}") from None

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._data is None:
            self.prepare()
        hp = {**HYPERPARAMETERS, **self.fixed, **params}
        trial_dir = os.environ.get("AUTODEHYPO_TRIAL_DIR")
        checkpoint_dir = Path(trial_dir) if trial_dir else Path(tempfile.mkdtemp(prefix="autodehypo-trial-"))
        keep, continue_from, schedule_epochs = self.keep_checkpoints, None, None
        context = fidelity_context()
        if context is not None and context["param"] == "epochs":
            # A promoted configuration continues from this trial's checkpoint: keep it.
            keep, schedule_epochs = True, int(context["max_fidelity"])
            if context["continues_dir"]:
                continue_from = Path(context["continues_dir"]) / CHECKPOINT
        try:
            return train_and_evaluate(self._data, hp, model_name=self.model, device=self.device,
                                      deterministic=self.deterministic, checkpoint_dir=checkpoint_dir,
                                      keep_checkpoint=keep, validation_fraction=self.validation_fraction,
                                      eval_limit=self.eval_limit, precision=self.precision,
                                      continue_from=continue_from, schedule_epochs=schedule_epochs)
        finally:
            if not trial_dir and not keep:  # called outside a study: no trial directory to leave
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
