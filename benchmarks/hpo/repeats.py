"""How often our algorithms ask again for a configuration they already evaluated, by population.

    python -m benchmarks.hpo.repeats [--tasks hpobench-kc1 nb201-imagenet] [--populations 5,10,20,40]

On a table every configuration is one of finitely many, and a DE population
that converges decodes to the same few configurations: the study answers them
from its record at no cost, but each still uses an evaluation of the budget
(``prescreen`` avoids asking them). For each task,
algorithm and population this prints the median final regret and cost over
the seeds and the share of repeated evaluations in the first and the second
half of the budget, driven as ``ours.run_autodehypo`` drives a study except
for the population (the study's default is marked with *).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if not __package__:
    sys.path.insert(0, str(ROOT))
    import benchmarks.hpo  # noqa: F401
    __package__ = "benchmarks.hpo"
if (ROOT / "src" / "autodehypo").is_dir() and str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from .ours import space_config  # noqa: E402
from .tasks import load_task  # noqa: E402
from .trace import Recorder  # noqa: E402


def run(task, algorithm: str, seed: int, evaluations: int, population: int):
    import math

    from autodehypo.algorithms import make_optimizer
    from autodehypo.space import SearchSpace
    space = SearchSpace.from_config(space_config(task))
    opt = make_optimizer(algorithm, space.dim, population=population, seed=seed, max_evaluations=evaluations)
    rec = Recorder(task, algorithm, seed, evaluations)
    while True:
        batch = opt.ask_generation()
        if not len(batch):
            break
        losses = [rec.raw(space.decode(u)) for u in batch]
        worst = rec.worst()
        opt.tell_generation([worst if math.isnan(x) else x for x in losses])
    return rec.trace()


def main(argv=None) -> int:
    from autodehypo.algorithms import ALGORITHMS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["hpobench-kc1", "hpolib-protein_structure", "nb201-imagenet"])
    p.add_argument("--algorithms", default="de,jde,shade,lshade")
    p.add_argument("--populations", default="5,10,20,40")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--evaluations", type=int, default=200)
    args = p.parse_args(argv)
    half = args.evaluations // 2
    print(f"seeds 0..{args.seeds - 1}, {args.evaluations} evaluations, table value = mean over its seeds")
    print("| task | algorithm | population | median regret | median cost | repeats, first half | "
          "repeats, second half |")
    print("|---|---|---|---|---|---|---|")
    for name in args.tasks:
        task = load_task(name)
        for algorithm in args.algorithms.split(","):
            default = ALGORITHMS[algorithm].default_population(len(task.params))
            for pop in sorted({int(x) for x in args.populations.split(",")} | {default}):
                try:
                    runs = [run(task, algorithm, s, args.evaluations, pop) for s in range(args.seeds)]
                except ValueError as exc:  # a population the algorithm cannot work with
                    print(f"| {name} | {algorithm} | {pop} | not run: {exc} | | | |")
                    continue
                regret = np.median([np.nanmin(t.losses) - task.best_loss for t in runs])
                cost = np.median([t.costs.sum() for t in runs])
                first = np.mean([t.repeated[:half].mean() for t in runs]) * 100
                second = np.mean([t.repeated[half:].mean() for t in runs]) * 100
                mark = "*" if pop == default else ""
                print(f"| {name} | {algorithm} | {pop}{mark} | {regret:.4g} | {cost:.4g} | {first:.0f}% | "
                      f"{second:.0f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
