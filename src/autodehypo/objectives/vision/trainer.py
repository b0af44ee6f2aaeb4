"""The training loop: whole data set as one uint8 tensor on the device, batches by index.

No DataLoader and no per-image PIL work: a batch is ``x[idx]``, turned to float,
normalised, padded and (for pretrained models on gray images) repeated to 3
channels on the device, in channels_last layout. It trains in bf16 autocast
where the hardware has bf16 matrix units (CUDA, CPUs with AMX or avx512_bf16), in fp16 with a
gradient scaler on older CUDA devices, and on CPUs
computes convolutions over maps of a few pixels as matrix products
(tiny_convs).
After each epoch the model, optimizer, scheduler, gradient scaler and RNG states go to
``checkpoint.pt`` in the trial's directory, so a restarted trial continues
from its last whole epoch and ends with the same result.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...trial_progress import report_progress
from .data import ImageData, stratified_split
from .models import build_model, input_size

SPLIT_SEED = 12345  # the validation split is the same for every trial and study
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
CHECKPOINT = "checkpoint.pt"


def pick_device(device: str):
    import torch
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_bf16_units(torch) -> str | None:
    """Which bf16 matrix instructions this CPU has: "amx", "avx512_bf16" or None.

    By feature, not by vendor: Intel Xeons since Sapphire Rapids have AMX, AMD EPYCs since Zen 4
    (and Intel's Cooper Lake) have avx512_bf16 without AMX. Read from PyTorch's own probes (what
    its oneDNN kernels will use); they are private, so a PyTorch without them means "don't know".
    """
    for name, probe in (("amx", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported")):
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                return name
        except Exception:
            continue
    return None


def mixed_precision(precision: str, dev, torch) -> str:
    """The precision to train in: "bf16" or "fp16" autocast, or "fp32".

    "auto" picks bf16 where the hardware runs bf16 matrix products natively: CUDA devices that
    support it, and CPUs with AMX or avx512_bf16; other CUDA devices (before Ampere) train in fp16
    with a gradient scaler, since their tensor cores take fp16 and fp16's range needs the scaling. Measured with one thread on Fashion-MNIST at
    batch 128, to the same validation error after an epoch: on a Xeon with AMX the small CNN trains
    about 2x and ResNet18 about 1.4x as fast as in fp32; on an AMD EPYC with avx512_bf16 and no
    AMX, about 1.6x and 1.4x (``benchmarks/trainer.py``). CPUs without either emulate bf16 and
    are slower in it, so they keep fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if dev.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if dev.type == "cpu" and cpu_bf16_units(torch) is not None else "fp32"


def autocast_dtype(precision: str, torch):
    """The autocast dtype of a precision that :func:`mixed_precision` chose; None for fp32."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def _batches(n: int, batch_size: int, generator, torch):
    order = torch.randperm(n, generator=generator)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def split_indices(data: ImageData, validation_fraction: float, train_subset: int | None,
                  eval_limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training, validation and test indices: the same for every trial with the same settings."""
    train_idx, val_idx = stratified_split(data.train_y, validation_fraction, SPLIT_SEED)
    if train_subset and int(train_subset) < len(train_idx):
        train_idx = np.sort(np.random.default_rng(SPLIT_SEED).permutation(train_idx)[:int(train_subset)])
    test_idx = np.arange(len(data.test_y))
    if eval_limit:  # a quick look (tests, smoke runs): a seeded sample of both sets
        val_idx = np.sort(np.random.default_rng(SPLIT_SEED).permutation(val_idx)[:eval_limit])
        test_idx = np.sort(np.random.default_rng(SPLIT_SEED).permutation(test_idx)[:eval_limit])
    return train_idx, val_idx, test_idx


def train_and_evaluate(data: ImageData, hp: dict[str, Any], *, model_name: str, device: str = "auto",
                       deterministic: bool = True, checkpoint_dir: Path | None = None,
                       keep_checkpoint: bool = False, validation_fraction: float = 0.1,
                       eval_limit: int | None = None, precision: str = "auto",
                       continue_from: Path | None = None,
                       schedule_epochs: int | None = None) -> dict[str, Any]:
    """Train for ``hp["epochs"]`` epochs and evaluate.

    ``continue_from``: a lower-fidelity trial's checkpoint to start from (multi-fidelity
    promotion); when it is missing the trial trains from scratch and reports
    ``continued_from`` 0. ``schedule_epochs``: the length the learning-rate schedule spans
    (the study's largest fidelity), so that a continued run equals a straight one.
    """
    import torch
    from torch import nn

    from .tiny_convs import convert_tiny_convs

    threads = int(os.environ.get("AUTODEHYPO_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    dev = pick_device(device)
    cuda = dev.type == "cuda"
    precision = mixed_precision(precision, dev, torch)
    autocast = autocast_dtype(precision, torch)
    seed = int(hp["seed"])
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        if cuda:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    train_idx, val_idx, test_idx = split_indices(data, validation_fraction, hp.get("train_subset"), eval_limit)

    images = torch.from_numpy(data.train_x).to(dev)
    labels = torch.from_numpy(data.train_y).to(dev)
    test_images = torch.from_numpy(data.test_x).to(dev)
    test_labels = torch.from_numpy(data.test_y).to(dev)
    tr = torch.from_numpy(train_idx).to(dev)
    va = torch.from_numpy(val_idx).to(dev)
    sample = images[tr[:10000]].float().div_(255)
    mean = sample.mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
    std = sample.std(dim=(0, 2, 3)).clamp_min(1e-3).view(1, -1, 1, 1)

    model, repeat = build_model(model_name, data.channels, data.num_classes, data.size,
                                str(hp["weights"]), str(hp["trainable"]))
    # channels_last suits oneDNN on CPUs as well as tensor cores (measured here: 1.35x for the small CNN)
    model = model.to(dev).to(memory_format=torch.channels_last)
    pad = (input_size(model_name, data.size) - data.size + 1) // 2

    def prepare(x):
        x = x.float().div_(255).sub_(mean).div_(std)
        if pad:
            x = nn.functional.pad(x, (pad, pad, pad, pad))
        if repeat:
            x = x.expand(-1, 3, -1, -1)
        return x.contiguous(memory_format=torch.channels_last)

    if dev.type == "cpu":
        # CPU only: measured there; on CUDA, cuDNN handles these shapes and the matrix
        # form's index_select would make the backward pass nondeterministic (atomics).
        convert_tiny_convs(model, prepare(images[tr[:2]]))

    params = [p for p in model.parameters() if p.requires_grad]
    lr, wd = float(hp["lr"]), float(hp["weight_decay"])
    name = hp["optimizer"]
    if name == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=float(hp["momentum"]), weight_decay=wd)
    elif name == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    elif name == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    else:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")
    epochs, batch_size = int(hp["epochs"]), int(hp["batch_size"])
    steps_per_epoch = -(-len(train_idx) // batch_size)
    span = max(epochs, int(schedule_epochs or epochs))
    schedule = hp["schedule"]
    if schedule == "constant":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    elif schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, span * steps_per_epoch))
    elif schedule == "step":  # divide by 10 at each third of the run
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, span * steps_per_epoch // 3), gamma=0.1)
    else:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=float(hp["label_smoothing"]))
    generator = torch.Generator().manual_seed(seed)
    # fp16's gradients underflow without loss scaling; for the others the scaler passes through.
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == "fp16")

    start_epoch, train_time, continued_from = 0, 0.0, 0
    path = Path(checkpoint_dir) / CHECKPOINT if checkpoint_dir else None
    # Its own checkpoint first (a restarted trial), else the one it continues.
    source = path if path is not None and path.is_file() else continue_from
    if source is not None and Path(source).is_file():
        state = torch.load(source, map_location=dev, weights_only=False)
        if state["epoch"] < epochs:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            if "scaler" in state:
                scaler.load_state_dict(state["scaler"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            start_epoch = state["epoch"] + 1
            if source == path:
                train_time = state["train_time_s"]
                continued_from = state.get("continued_from", 0)
            else:  # the lower trial's time is its own: count this trial's increment only
                continued_from = start_epoch

    validation = None
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=dev)  # summed on the device: no sync per step
        batches = _batches(len(tr), batch_size, generator, torch)
        for batch in batches:
            idx = tr[batch.to(dev)]
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=autocast, enabled=autocast is not None):
                loss = loss_fn(model(prepare(images[idx])), labels[idx])
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            loss_sum += loss.detach().float()
        if cuda:
            torch.cuda.synchronize()
        epoch_time = time.perf_counter() - started
        train_time += epoch_time
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(), "train_time_s": train_time,
                        "continued_from": continued_from}, tmp)
            os.replace(tmp, path)  # a kill never leaves half a checkpoint
        # Evaluation draws no random numbers and leaves the weights alone, so watching every
        # epoch does not change the result; the last epoch's figures are the trial's own.
        validation = _evaluate(model, images, labels, va, prepare, loss_fn, dev, autocast, torch)
        report_progress(epoch=epoch + 1, epochs=epochs, loss=float(loss_sum) / len(batches),
                        val_error=1.0 - validation[1], images_per_s=len(train_idx) / epoch_time)

    if validation is None:  # resumed after its last epoch's checkpoint
        validation = _evaluate(model, images, labels, va, prepare, loss_fn, dev, autocast, torch)
    val_loss, val_acc = validation
    _, test_acc = _evaluate(model, test_images, test_labels, torch.from_numpy(test_idx).to(dev), prepare,
                            loss_fn, dev, autocast, torch)
    if path is not None and path.is_file() and not keep_checkpoint:
        path.unlink()
    return {"objective": 1.0 - val_acc, "val_loss": val_loss, "accuracy": val_acc,
            "test_error": 1.0 - test_acc, "epochs": epochs, "train_images": len(train_idx),
            "val_images": len(val_idx), "test_images": len(test_idx),
            "train_time_s": train_time, "continued_from": continued_from,
            "images_per_s": (epochs - continued_from) * len(train_idx) / train_time if train_time > 0 else None,
            "device": str(dev), "precision": precision}


def _evaluate(model, images, labels, index, prepare, loss_fn, dev, autocast, torch, batch_size=512):
    model.eval()
    n = len(index)
    total_loss, correct = 0.0, 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=autocast, enabled=autocast is not None):
        for start in range(0, n, batch_size):
            idx = index[start:start + batch_size]
            logits = model(prepare(images[idx])).float()
            total_loss += float(loss_fn(logits, labels[idx])) * len(idx)
            correct += int((logits.argmax(1) == labels[idx]).sum())
    return total_loss / n, correct / n
