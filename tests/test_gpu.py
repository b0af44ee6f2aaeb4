"""The GPU path on a real GPU: skipped, with the reason, on machines without one (this project's
CI has none; benchmarks/gpu_check.py runs these where one is lent)."""

from __future__ import annotations

import numpy as np
import pytest

from autodehypo.execution import LocalExecutor
from test_local_executor import run_all

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA GPU on this machine")]


def synthetic_images(n: int = 2048, size: int = 28):
    from autodehypo.objectives.vision.data import ImageData
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 1, size, size), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.int64)
    return ImageData(x, y, x[:256], y[:256], 10)


def test_the_trainer_runs_on_the_gpu_in_the_precision_the_gpu_has():
    from autodehypo.objectives.vision.trainer import train_and_evaluate
    hp = {"lr": 0.01, "batch_size": 256, "epochs": 1, "optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.0,
          "schedule": "constant", "label_smoothing": 0.0, "weights": "none", "trainable": "all", "seed": 0}
    out = train_and_evaluate(synthetic_images(), hp, model_name="cnn", device="cuda", eval_limit=256)
    assert out["device"].startswith("cuda")
    assert out["precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    assert np.isfinite(out["val_loss"])


def cuda_devices_seen(params):
    import torch
    return {"objective": 0.0, "count": torch.cuda.device_count(),
            "uuid": str(torch.cuda.get_device_properties(0).uuid)}


def test_each_trial_sees_only_its_own_gpu():
    import os
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = gpus.split(",") if gpus else [str(i) for i in range(torch.cuda.device_count())]
    executor = LocalExecutor(cuda_devices_seen, gpus_per_trial=1, gpus=gpus)
    results = run_all(executor, {k: {} for k in range(len(gpus))})
    assert all(o.ok and o.metrics["count"] == 1 for o in results.values()), results
    assert len({o.metrics["uuid"] for o in results.values()}) == len(gpus)


def test_nvml_reads_the_gpus_energy_counter():
    pytest.importorskip("pynvml")
    from autodehypo.energy import NvmlMeter
    meter = NvmlMeter()
    token = meter.start(["0"], True) if meter.gpus and meter.gpus[0].label == "0" else meter.start()
    a = torch.randn(4096, 4096, device="cuda")
    for _ in range(50):
        a = (a @ a).tanh_()
    torch.cuda.synchronize()
    reading = meter.stop(token)
    assert reading.joules is not None and reading.joules > 0
