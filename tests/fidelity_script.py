"""A command-line training stand-in for multi-fidelity studies: continues from the checkpoint
of the trial it extends (given as --continues-dir), leaves its own in --trial-dir."""
import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--trial-dir", required=True)
parser.add_argument("--continues-dir", default="")
args = parser.parse_args()
start = 0
if args.continues_dir and (Path(args.continues_dir) / "ckpt.json").exists():
    start = json.loads((Path(args.continues_dir) / "ckpt.json").read_text())["epochs"]
(Path(args.trial_dir) / "ckpt.json").write_text(json.dumps({"epochs": args.epochs}))
print(json.dumps({"objective": (args.x - 0.3) ** 2 + 1.0 / args.epochs, "continued_from": start}))
