"""Make an energy-annotated look-up table of the paper's own workloads, for the HPO benchmark.

    python benchmarks/hpo/make_table.py --model cnn --dataset fashion-mnist \\
        --data-dir ../shared/data/fashion-mnist --epochs 10 --train-subset 10000 \\
        --out tables/cnn-fashion.csv.gz
    python benchmarks/hpo/make_table.py --model resnet18 --dataset mnist --data-dir ../shared/data/mnist ...

It trains every configuration of a grid (learning rate, batch size 16 to 1024
as in the paper, optimizer, momentum, weight decay) with the project's vision
objective and writes one row per configuration and epoch 1..E: parameter
columns, ``epoch``, ``val_error``, ``test_error``, ``wall_s``, ``cpu_s``,
``energy_j``, ``energy_source`` -- the format ``tasks.load_energy_table``
reads (``python -m benchmarks.hpo --tasks table:PATH``). A sidecar
``PATH.meta.json`` records the machine (CPU model and flags, cores, GPUs,
package versions: ``autodehypo.environment``), the grid, the fixed settings,
the energy meters that worked and the command.

How the per-epoch figures are obtained. The test error exists only where a
training ends, so each configuration is trained epoch by epoch: the call for
epoch e runs the objective with ``epochs=e`` in the configuration's own
directory, where it resumes from the checkpoint of epoch e-1 (model,
optimizer, scheduler and RNG states; the schedule is fixed to ``constant``,
so E such calls train exactly as one E-epoch run), trains one epoch,
validates, reports a progress line (``report_progress``: time and CPU
seconds) and evaluates the test set. The cost of epoch e is the call up to
that progress line -- set-up, checkpoint load, training and validation, not
the test evaluation that only this table needs: ``wall_s`` from the line's
time, ``cpu_s`` from its CPU seconds, ``energy_j`` from the project's meters
(``open_meters(["auto"])``) read around the call and scaled to that share of
its wall time, or, where no meter works, ``CpuTimeEstimate`` of the CPU
seconds (source ``estimate``). The table's figures are cumulative: row e is
what training for e epochs cost.

Momentum only acts on SGD: for adam and adamw one training is made per
configuration of the other parameters and written under every momentum value
(the meta file says so), as the grid needs every combination.

The output is appended to after each configuration; ``--resume`` skips the
configurations already complete in it, so a long run can be continued.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if (ROOT / "src" / "autodehypo").is_dir() and str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

PARAMS = ("lr", "batch_size", "optimizer", "momentum", "weight_decay")
COLUMNS = list(PARAMS) + ["epoch", "val_error", "test_error", "wall_s", "cpu_s", "energy_j", "energy_source"]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="cnn", help="a vision objective model: cnn, resnet18, ...")
    p.add_argument("--dataset", default="fashion-mnist", help="mnist or fashion-mnist (or another of the objective's)")
    p.add_argument("--data-dir", required=True, help="folder with the data set's files (IDX for (fashion-)mnist)")
    p.add_argument("--out", type=Path, required=True, help="the table, .csv or .csv.gz")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-subset", type=int, default=10000, help="training images (0: all)")
    p.add_argument("--eval-limit", type=int, default=0,
                   help="validate and test on a seeded sample of this many images (0: all)")
    p.add_argument("--lr", type=_floats, default=[0.001, 0.01, 0.1])
    p.add_argument("--batch-size", type=_ints, default=[16, 32, 64, 128, 256, 512, 1024])
    p.add_argument("--optimizer", type=lambda s: [x for x in s.split(",") if x], default=["sgd", "adam"])
    p.add_argument("--momentum", type=_floats, default=[0.0, 0.9])
    p.add_argument("--weight-decay", type=_floats, default=[0.0, 5e-4])
    p.add_argument("--seed", type=int, default=0, help="the training seed of every configuration")
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads per training")
    p.add_argument("--precision", default="auto", help="the objective's precision: auto, bf16, fp32")
    p.add_argument("--watts-per-core", type=float, default=10.0, help="the estimate's figure")
    p.add_argument("--resume", action="store_true", help="keep the configurations already in --out")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs: expected >= 1, got {args.epochs}")
    if not str(args.out).endswith((".csv", ".csv.gz")):
        p.error(f"--out: expected a .csv or .csv.gz file, got {args.out}")
    if args.out.exists() and not args.resume:
        p.error(f"--out: {args.out} exists; add --resume to continue it or choose another file")
    return args


def grid(args) -> list[dict]:
    return [dict(zip(PARAMS, values)) for values in
            itertools.product(args.lr, args.batch_size, args.optimizer, args.momentum, args.weight_decay)]


def _key(config: dict) -> tuple:
    return tuple(repr(config[p]) for p in PARAMS)


def done_configs(path: Path, epochs: int) -> set[tuple]:
    """Configurations with all their epochs already in the table."""
    if not path.exists():
        return set()
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    counts: dict[tuple, int] = {}
    for row in csv.DictReader(io.StringIO(text)):
        config = {"lr": float(row["lr"]), "batch_size": int(row["batch_size"]), "optimizer": row["optimizer"],
                  "momentum": float(row["momentum"]), "weight_decay": float(row["weight_decay"])}
        counts[_key(config)] = counts.get(_key(config), 0) + 1
    return {k for k, n in counts.items() if n == epochs}


def append_rows(path: Path, rows: list[list]) -> None:
    new = not path.exists()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if new:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    # gzip members concatenate into one valid .gz stream
    with open(path, "ab") as fh:
        fh.write(gzip.compress(data) if path.suffix == ".gz" else data)
        fh.flush()
        os.fsync(fh.fileno())


def last_progress(directory: Path, epoch: int) -> dict | None:
    path = directory / "progress.jsonl"
    if not path.is_file():
        return None
    for line in reversed(path.read_text().splitlines()):
        entry = json.loads(line)
        if entry.get("epoch") == epoch:
            return entry
    return None


def train_configuration(objective, config: dict, epochs: int, seed: int, meters, estimate,
                        workdir: Path) -> list[list]:
    """Rows for epochs 1..E of one configuration, trained epoch by epoch from checkpoints."""
    from autodehypo.energy import choose
    directory = Path(tempfile.mkdtemp(prefix="cfg-", dir=workdir))
    os.environ["AUTODEHYPO_TRIAL_DIR"] = str(directory)
    rows, wall, cpu, joules, sources = [], 0.0, 0.0, 0.0, set()
    failed = None
    for e in range(1, epochs + 1):
        val_error = test_error = float("nan")
        if failed is None:
            (directory / "progress.jsonl").unlink(missing_ok=True)
            t0, c0 = time.time(), time.process_time()
            tokens = [(m, m.start()) for m in meters]
            try:
                result = objective({**config, "epochs": e, "seed": seed})
                val_error, test_error = float(result["objective"]), float(result["test_error"])
            except Exception as exc:  # a training that fails: nan from here on, costs so far kept
                failed = f"{type(exc).__name__}: {exc}"
            t1, c1 = time.time(), time.process_time()
            readings = [m.stop(tok) for m, tok in tokens]
            line = last_progress(directory, e)
            # Up to the end of this epoch's validation; the test evaluation after it is left out.
            part_wall = (line["time"] - t0) if line else (t1 - t0)
            part_cpu = (line["cpu_s"] - c0) if line else (c1 - c0)
            share = part_wall / (t1 - t0) if t1 > t0 else 1.0
            reading = choose(readings + [estimate.reading(part_cpu)], "auto")
            if reading.source == "estimate":
                part_j = reading.joules
                sources.add("estimate")
            else:
                part_j = reading.joules * share
                sources.add(f"{reading.source} (scaled to training+validation)")
            wall, cpu, joules = wall + part_wall, cpu + part_cpu, joules + part_j
        rows.append([config["lr"], config["batch_size"], config["optimizer"], config["momentum"],
                     config["weight_decay"], e, f"{val_error:.6g}", f"{test_error:.6g}", f"{wall:.3f}",
                     f"{cpu:.3f}", f"{joules:.3f}", "+".join(sorted(sources))])
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()
    if failed:
        print(f"  failed: {failed}", file=sys.stderr)
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ["AUTODEHYPO_THREADS"] = str(args.threads)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    from autodehypo.energy import CpuTimeEstimate, open_meters
    from autodehypo.environment import collect_environment
    from autodehypo.objectives.vision import VisionObjective

    meters, meter_status = open_meters(["auto"])
    estimate = CpuTimeEstimate(args.watts_per_core)
    objective = VisionObjective(model=args.model, dataset=args.dataset, data_dir=args.data_dir,
                                keep_checkpoints=True, precision=args.precision,
                                eval_limit=args.eval_limit or None,
                                fixed={"train_subset": args.train_subset or None, "schedule": "constant"},
                                param_names=[*PARAMS, "epochs", "seed"])
    objective.prepare()
    configs = grid(args)
    done = done_configs(args.out, args.epochs) if args.resume else set()
    env = collect_environment()
    meta_path = Path(str(args.out) + ".meta.json")
    meta = {"command": "python benchmarks/hpo/make_table.py " + " ".join(shlex.quote(a) for a in
                                                                       (sys.argv[1:] if argv is None else argv)),
            "model": args.model, "dataset": args.dataset, "epochs": args.epochs,
            "train_subset": args.train_subset or "all", "eval_limit": args.eval_limit or "all",
            "seed": args.seed, "threads": args.threads, "precision": args.precision, "schedule": "constant",
            "grid": {p: getattr(args, p) for p in PARAMS}, "configurations": len(configs),
            "energy_meters": {**meter_status, "estimate": f"ok ({args.watts_per_core} W per core)"},
            "momentum_shared": "adam and adamw ignore momentum: one training each, written under every momentum",
            "warm_up": "one throwaway epoch of the first configuration before the grid, not recorded",
            "machine": env, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"{len(configs)} configurations x {args.epochs} epochs, {len(done)} already done; "
          f"CPU {env['cpu']}; meters {meta['energy_meters']}", file=sys.stderr)
    shared: dict[tuple, list[list]] = {}
    with tempfile.TemporaryDirectory(prefix="make-table-") as workdir:
        # One throwaway epoch first: the process's one-time start-up (PyTorch's lazy initialisation,
        # kernel selection) would otherwise be charged to the first configuration (5.9 s against
        # 0.7 s for a small CNN epoch in a trial run here).
        todo = [c for c in configs if _key(c) not in done]
        if todo:
            warm = Path(tempfile.mkdtemp(prefix="warm-up-", dir=workdir))
            os.environ["AUTODEHYPO_TRIAL_DIR"] = str(warm)
            objective({**todo[0], "epochs": 1, "seed": args.seed})
        for i, config in enumerate(configs, 1):
            if _key(config) in done:
                continue
            started = time.perf_counter()
            # momentum acts on SGD only: share one training among the momentum values
            base = (config["lr"], config["batch_size"], config["optimizer"], config["weight_decay"])
            if config["optimizer"] != "sgd" and base in shared:
                rows = [[*r[:3], config["momentum"], *r[4:]] for r in shared[base]]
            else:
                rows = train_configuration(objective, config, args.epochs, args.seed, meters, estimate,
                                           Path(workdir))
                if config["optimizer"] != "sgd":
                    shared[base] = rows
            append_rows(args.out, rows)
            print(f"[{i}/{len(configs)}] {config}: val_error {rows[-1][6]}, {rows[-1][8]} s, "
                  f"{rows[-1][10]} J ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta_path.write_text(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
