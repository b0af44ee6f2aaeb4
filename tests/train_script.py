"""A command-line training stand-in: echoes its arguments back as the JSON result line."""
import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--name", required=True)
parser.add_argument("--fail", action="store_true")
args = parser.parse_args()
print("epoch 1 done")  # progress chatter before the result
if args.fail:
    sys.exit(4)
print(json.dumps({"objective": (args.lr - 0.1) ** 2, "name_seen": args.name, "argv": sys.argv[1:]}))
