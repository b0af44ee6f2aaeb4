"""Image data sets as whole uint8 arrays, read from their standard on-disk formats.

- MNIST and Fashion-MNIST: IDX files (``train-images-idx3-ubyte[.gz]`` ...), flat in
  ``data_dir`` (as Debian's dataset-fashion-mnist ships them) or in torchvision's
  ``MNIST/raw`` and ``FashionMNIST/raw``.
- CIFAR-10 and CIFAR-100: the python pickles (``cifar-10-batches-py``, ``cifar-100-python``).
- ``folder``: an ImageFolder tree, ``data_dir/train/<class>/*`` and ``data_dir/test/<class>/*``,
  all images the same size.

With ``download=True`` a missing set is fetched with torchvision first (needs the internet).
"""

from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("mnist", "fashion-mnist", "cifar10", "cifar100", "folder")
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


class DataError(ValueError):
    """A data set that is absent or not in the expected format; the message says where and what."""


@dataclass
class ImageData:
    """Images as (N, C, H, W) uint8 and labels as int64, for the training and test sets."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int

    @property
    def channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def size(self) -> int:
        return self.train_x.shape[2]


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file")
    kinds = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in kinds:
        raise DataError(f"{path}: unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=kinds[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DataError(f"{path}: {array.size} values for shape {shape}")
    return array.reshape(shape).copy()  # writable, so torch can take it without a warning


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def load_idx_set(name: str, data_dir: Path) -> ImageData:
    candidates = [data_dir, data_dir / _TORCHVISION_DIRS[name] / "raw"]
    for directory in candidates:
        files = {split: [_find_idx(directory, stem) for stem in stems] for split, stems in _IDX_FILES.items()}
        if all(p is not None for ps in files.values() for p in ps):
            (tx, ty), (sx, sy) = ([read_idx(p) for p in files[s]] for s in ("train", "test"))
            return ImageData(tx[:, None], ty.astype(np.int64), sx[:, None], sy.astype(np.int64), 10)
    raise DataError(f"{name}: no IDX files (train-images-idx3-ubyte[.gz] and the other three) in "
                    + " or ".join(str(c) for c in candidates))


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="bytes")


def load_cifar(name: str, data_dir: Path) -> ImageData:
    if name == "cifar10":
        root = data_dir / "cifar-10-batches-py"
        train_files, test_files, key, classes = [root / f"data_batch_{i}" for i in range(1, 6)], \
            [root / "test_batch"], b"labels", 10
    else:
        root = data_dir / "cifar-100-python"
        train_files, test_files, key, classes = [root / "train"], [root / "test"], b"fine_labels", 100
    missing = [p.name for p in train_files + test_files if not p.is_file()]
    if missing:
        raise DataError(f"{name}: {root} lacks {missing} (the CIFAR python version)")

    def read(files):
        xs, ys = [], []
        for f in files:
            batch = _unpickle(f)
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[key], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)
    (tx, ty), (sx, sy) = read(train_files), read(test_files)
    return ImageData(tx, ty, sx, sy, classes)


def load_folder(data_dir: Path) -> ImageData:
    from PIL import Image
    splits = {}
    for split in ("train", "test"):
        root = data_dir / split
        if not root.is_dir():
            raise DataError(f"folder: no {root} (expected {data_dir}/train/<class>/* and {data_dir}/test/<class>/*)")
        splits[split] = root
    classes = sorted(p.name for p in splits["train"].iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"folder: no class directories in {splits['train']}")
    out = []
    for split, root in splits.items():
        xs, ys = [], []
        for label, cls in enumerate(classes):
            for path in sorted((root / cls).glob("*")) if (root / cls).is_dir() else []:
                with Image.open(path) as img:
                    arr = np.asarray(img.convert("L" if img.mode in ("L", "1", "I;16") else "RGB"))
                xs.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
                ys.append(label)
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise DataError(f"folder: images in {root} differ in size or mode: {sorted(shapes)[:3]}")
        out.append((np.stack(xs).astype(np.uint8), np.array(ys, dtype=np.int64)))
    (tx, ty), (sx, sy) = out
    return ImageData(tx, ty, sx, sy, len(classes))


def download(name: str, data_dir: Path) -> None:
    """Fetch a set with torchvision into its usual layout under data_dir."""
    from torchvision import datasets
    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST,
           "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    for train in (True, False):
        try:
            cls(str(data_dir), train=train, download=True)
        except Exception as exc:  # network failures come in many types
            raise DataError(f"{name}: download into {data_dir} failed: {exc}") from None


def load_dataset(name: str, data_dir: str | Path | None, download_missing: bool = False) -> ImageData:
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; choose one of {list(DATASETS)}")
    root = Path(data_dir) if data_dir else Path.home() / ".cache" / "autodehypo" / "data"
    loader = {"mnist": lambda: load_idx_set(name, root), "fashion-mnist": lambda: load_idx_set(name, root),
              "cifar10": lambda: load_cifar(name, root), "cifar100": lambda: load_cifar(name, root),
              "folder": lambda: load_folder(root)}[name]
    try:
        return loader()
    except DataError:
        if not download_missing or name == "folder":
            raise
    download(name, root)
    return loader()


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) with the same class proportions in both, fixed by the seed."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(fraction * len(idx)))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
