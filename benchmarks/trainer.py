"""Images per second of autodehypo's trainer against the usual DataLoader(ToTensor()) loop.

    python benchmarks/trainer.py [--models cnn resnet18] [--images 6000] [--batch-size 128] [--threads 1]

Same model, data, batch size, optimizer and thread count, one epoch each, in
the same run; the ratio is ours / DataLoader. Data: Fashion-MNIST from Debian's
dataset-fashion-mnist (or --data-dir), 28x28. On a CUDA machine it also runs
there (our path: bf16 autocast and channels_last).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


from autodehypo.objectives.vision.data import load_dataset
from autodehypo.objectives.vision.models import build_model, input_size
from autodehypo.objectives.vision.trainer import train_and_evaluate


def dataloader_images_per_s(data, model_name, n, batch_size, device) -> float:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    class Images(Dataset):  # what most training scripts do: PIL image -> ToTensor -> Normalize
        def __init__(self, x, y, transform):
            self.x, self.y, self.transform = x, y, transform

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.x[i, 0])), int(self.y[i])

    pad = (input_size(model_name, data.size) - data.size + 1) // 2
    transform = transforms.Compose([transforms.Pad(pad), transforms.ToTensor(),
                                    transforms.Normalize((0.2860,), (0.3530,))] if pad else
                                   [transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    loader = DataLoader(Images(data.train_x[:n], data.train_y[:n], transform), batch_size=batch_size,
                        shuffle=True, num_workers=0)
    torch.manual_seed(0)
    model, _ = build_model(model_name, 1, 10, data.size)
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    started = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - started)


def main() -> None:
    import torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "resnet18"])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist", Path(args.data_dir))
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"Fashion-MNIST 28x28, {args.images} images, batch {args.batch_size}, {args.threads} thread(s)")
    for device in devices:
        for model in args.models:
            hp = {"lr": 0.01, "batch_size": args.batch_size, "epochs": 1, "optimizer": "sgd", "momentum": 0.9,
                  "weight_decay": 0.0, "schedule": "constant", "label_smoothing": 0.0, "weights": "none",
                  "trainable": "all", "train_subset": args.images, "seed": 0}
            ours = train_and_evaluate(data, hp, model_name=model, device=device.type, deterministic=False,
                                      eval_limit=256)["images_per_s"]
            base = dataloader_images_per_s(data, model, args.images, args.batch_size, device)
            print(f"{device.type:4} {model:14} ours {ours:9.0f} img/s   DataLoader(ToTensor) {base:9.0f} img/s"
                  f"   ratio {ours / base:5.2f}")


if __name__ == "__main__":
    main()
