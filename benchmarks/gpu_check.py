"""The GPU path measured on a real GPU, in one run of a few minutes (issue: GPU workstation).

    python -m benchmarks.gpu_check [--seconds 20]

1. ``pytest -m gpu``: the trainer on CUDA, each trial's own GPU, NVML's counter.
2. The trainer against the step-rate ceiling (benchmarks/trainer.py: forward, backward and step
   on tensors already on the device), CNN and ResNet18 at batch 256, fp32 and the default
   precision, one epoch of 20,000 synthetic 28x28 images each (the step rate does not depend
   on what the pixels show). Goal: ResNet18 >= 80 % of the ceiling.
3. NVML's total-energy counter against power samples (every 20 ms, trapezoids) over the same
   window of ResNet18 training. Goal: within 5 %.
4. With two GPUs or more: two workers with gpus_per_trial = 1, each trial reporting the one
   device it sees.
Prints one line per figure; exits 1 when a check fails, 2 without a GPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.trainer import step_rate_ceiling
from autodehypo.environment import cpu_model

ROOT = Path(__file__).resolve().parents[1]
HP = {"lr": 0.01, "epochs": 1, "optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.0, "schedule": "constant",
      "label_smoothing": 0.0, "weights": "none", "trainable": "all", "seed": 0}


def synthetic(n: int):
    from autodehypo.objectives.vision.data import ImageData
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.int64)
    return ImageData(x, y, x[:1000], y[:1000], 10)


def trainer_against_ceiling(data, failures: list[str]) -> None:
    from autodehypo.objectives.vision.trainer import train_and_evaluate
    for model in ("cnn", "resnet18"):
        for precision in ("fp32", "auto"):
            train_and_evaluate(data, {**HP, "batch_size": 256, "train_subset": 2048}, model_name=model,
                               device="cuda", deterministic=False, eval_limit=256, precision=precision)  # warm-up
            out = train_and_evaluate(data, {**HP, "batch_size": 256}, model_name=model, device="cuda",
                                     deterministic=False, eval_limit=1000, precision=precision)
            ceiling = step_rate_ceiling(model, 1, 28, 256, precision, "cuda", steps=50)
            share = out["images_per_s"] / ceiling
            print(f"trainer {model:8} {out['precision']:4}: {out['images_per_s']:8.0f} img/s, ceiling "
                  f"{ceiling:8.0f} img/s, {share:.0%} of it", flush=True)
            if model == "resnet18" and share < 0.8:
                failures.append(f"resnet18 {out['precision']} at {share:.0%} of the step-rate ceiling (goal 80 %)")


def counter_against_power_samples(data, seconds: float, failures: list[str]) -> None:
    import pynvml

    from autodehypo.objectives.vision.trainer import train_and_evaluate
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    begin_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    thread.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        train_and_evaluate(data, {**HP, "batch_size": 256}, model_name="resnet18", device="cuda",
                           deterministic=False, eval_limit=256)
    stop.set()
    thread.join()
    counter_j = (pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) - begin_mj) / 1000.0
    t, w = np.array(samples).T
    sampled_j = float(np.sum((w[1:] + w[:-1]) / 2 * np.diff(t)))
    ratio = counter_j / sampled_j
    print(f"energy over {t[-1] - t[0]:.1f} s: counter {counter_j:.1f} J, power samples ({len(t)}) "
          f"{sampled_j:.1f} J, ratio {ratio:.3f}", flush=True)
    if abs(ratio - 1) > 0.05:
        failures.append(f"NVML counter / power samples = {ratio:.3f} (goal within 5 %)")


def two_workers(failures: list[str]) -> None:
    import torch
    count = torch.cuda.device_count()
    if count < 2:
        print(f"two workers x one GPU: skipped, {count} GPU visible")
        return
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-k", "its_own_gpu",
                             str(ROOT / "tests" / "test_gpu.py")], cwd=ROOT)
    print(f"two workers x one GPU: {'ok' if result.returncode == 0 else 'FAILED'}")
    if result.returncode:
        failures.append("a trial saw a GPU that was not its own")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="(3): length of the energy window")
    args = parser.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to check")
        return 2
    print(f"# GPU check\n\nGPU: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}; CPU: {cpu_model()}; "
          f"torch {torch.__version__}, CUDA {torch.version.cuda}; CUDA_VISIBLE_DEVICES="
          f"{os.environ.get('CUDA_VISIBLE_DEVICES')}\n", flush=True)
    failures: list[str] = []
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", str(ROOT / "tests" / "test_gpu.py")],
                           cwd=ROOT)
    if tests.returncode:
        failures.append("pytest -m gpu failed")
    data = synthetic(20000)
    trainer_against_ceiling(data, failures)
    counter_against_power_samples(data, args.seconds, failures)
    two_workers(failures)
    print("\n" + ("all checks passed" if not failures else "FAILED:\n- " + "\n- ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
