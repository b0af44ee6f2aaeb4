"""Images per second of autodehypo's trainer against the usual DataLoader(ToTensor()) loop.

    python benchmarks/trainer.py [--models cnn resnet18] [--images 6000] [--batch-size 128] [--threads 1]
                                 [--repeats 3]

Same model, training images, batch size, optimizer and thread count, one
epoch each, in the same run; the ratio is ours / DataLoader. Ours runs twice:
with its default precision (bf16 autocast where the hardware has bf16 matrix
units: CUDA, CPUs with AMX or avx512_bf16) and forced to fp32, so the gain of each part
shows. Each figure is the best of --repeats epochs, because a shared machine's
timings scatter. The validation error after the epoch (on --val-images
validation images, the same for all three) shows that speed did not cost
accuracy. The step-rate ceiling (forward, backward and step on tensors already on the device, in
the default precision) says how much of the hardware's pace the trainer's loop keeps. Data: Fashion-MNIST from Debian's dataset-fashion-mnist (or
--data-dir), 28x28. On a CUDA machine it runs there as well.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from autodehypo.objectives.vision.data import load_dataset
from autodehypo.objectives.vision.models import build_model, input_size
from autodehypo.objectives.vision.trainer import split_indices, train_and_evaluate

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's, as a training script would hard-code them


def step_rate_ceiling(model_name: str, channels: int, size: int, batch_size: int, precision: str, device,
                      steps: int = 30) -> float:
    """Images per second of the model's forward, backward and optimizer step alone, on tensors
    already on the device in the trainer's layout and precision: no data path, no indexing, no
    normalisation. What the trainer's loop could reach at best."""
    import torch

    from autodehypo.objectives.vision.tiny_convs import convert_tiny_convs
    from autodehypo.objectives.vision.trainer import autocast_dtype, mixed_precision
    dev = torch.device(device)
    precision = mixed_precision(precision, dev, torch)
    autocast = autocast_dtype(precision, torch)
    torch.manual_seed(0)
    model, repeat = build_model(model_name, channels, 10, size)
    model = model.to(dev).to(memory_format=torch.channels_last)
    side = input_size(model_name, size)
    x = torch.randn(batch_size, 3 if repeat else channels, side, side, device=dev).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=dev)
    if dev.type == "cpu":  # as the trainer does there
        convert_tiny_convs(model, x[:2])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == "fp16")
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=autocast, enabled=autocast is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(3):  # warm-up: cuDNN's algorithm search, allocator
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - started)


def dataloader_epoch(data, model_name, train_idx, val_idx, batch_size, device) -> tuple[float, float]:
    """Images per second and validation error of the usual PIL -> ToTensor -> Normalize loop."""
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    class Images(Dataset):
        def __init__(self, x, y, transform):
            self.x, self.y, self.transform = x, y, transform

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.x[i, 0])), int(self.y[i])

    pad = (input_size(model_name, data.size) - data.size + 1) // 2
    steps = ([transforms.Pad(pad)] if pad else []) + [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
    transform = transforms.Compose(steps)
    train = DataLoader(Images(data.train_x[train_idx], data.train_y[train_idx], transform),
                       batch_size=batch_size, shuffle=True, num_workers=0)
    val = DataLoader(Images(data.train_x[val_idx], data.train_y[val_idx], transform), batch_size=512)
    torch.manual_seed(0)
    model, _ = build_model(model_name, 1, 10, data.size)
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    started = time.perf_counter()
    for x, y in train:
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in val:
            correct += int((model(x.to(device)).argmax(1).cpu() == y).sum())
    return len(train_idx) / elapsed, 1.0 - correct / len(val_idx)


def main() -> None:
    import torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "resnet18"])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--val-images", type=int, default=2000)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist", Path(args.data_dir))
    train_idx, val_idx, _ = split_indices(data, 0.1, args.images, args.val_images)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"Fashion-MNIST 28x28, {args.images} images, batch {args.batch_size}, {args.threads} thread(s), "
          f"best of {args.repeats}; err = validation error on {len(val_idx)} images after the epoch")
    for device in devices:
        for model in args.models:
            hp = {"lr": 0.01, "batch_size": args.batch_size, "epochs": 1, "optimizer": "sgd", "momentum": 0.9,
                  "weight_decay": 0.0, "schedule": "constant", "label_smoothing": 0.0, "weights": "none",
                  "trainable": "all", "train_subset": args.images, "seed": 0}
            best: dict[str, tuple[float, float, str]] = {}
            for _ in range(args.repeats):  # interleaved, so that a slow spell hits all three alike
                for name, precision in (("ours", "auto"), ("ours_fp32", "fp32")):
                    out = train_and_evaluate(data, hp, model_name=model, device=device.type, deterministic=False,
                                             eval_limit=args.val_images, precision=precision)
                    if out["images_per_s"] > best.get(name, (0.0,))[0]:
                        best[name] = (out["images_per_s"], out["objective"], out["precision"])
                speed, err = dataloader_epoch(data, model, train_idx, val_idx, args.batch_size, device)
                if speed > best.get("base", (0.0,))[0]:
                    best["base"] = (speed, err, "fp32")
            base = best["base"][0]
            ceiling = step_rate_ceiling(model, data.channels, data.size, args.batch_size, "auto", device.type)
            cells = [f"{name} ({best[name][2]}) {best[name][0]:6.0f} img/s err {best[name][1]:.3f}"
                     for name in ("ours", "ours_fp32")]
            print(f"{device.type:4} {model:9} {cells[0]}   {cells[1]}   DataLoader(ToTensor) {base:6.0f} img/s "
                  f"err {best['base'][1]:.3f}   ratio {best['ours'][0] / base:4.2f} (fp32 {best['ours_fp32'][0] / base:4.2f})"
                  f"   step-rate ceiling {ceiling:6.0f} img/s, ours at {best['ours'][0] / ceiling:.0%} of it",
                  flush=True)


if __name__ == "__main__":
    main()
