"""Multi-fidelity side-by-side benchmark on per-epoch energy tables (issue 15's goal).

    python -m benchmarks.hpo.multifidelity --tasks benchmarks/hpo/tables/cnn-fashion-mnist-9ep.csv.gz \\
        --budgets 30,60 --seeds 20 --dehb-python /work/dehb-venv/bin/python \\
        --out benchmarks/results/2026-11-28-multifidelity.md

Every run is simulated sequentially (one worker) on a table written by
``make_table.py``: an evaluation of a configuration at epoch e gives the
table's ``val_error`` after e epochs and costs recorded energy. The methods:

| name | what | what an evaluation at epoch e costs |
|---|---|---|
| mf-de, mf-jde, mf-shade | autodehypo's ``MultiFidelityDE`` (inner de / jde / shade), epochs 1..E, eta 3, ask/tell | a promotion (``continues`` set): cum(e) - cum(epoch it continues); a new configuration: cum(e) |
| de, jde, shade | the same DE at full fidelity, driven as ``ours.py`` drives it | cum(E) |
| dehb | DEHB 0.1.2's ``DEHB`` (its defaults, fidelity 1..E, eta 3), ask/tell, in its own environment | cum(e): it trains from scratch at every fidelity |
| optuna-tpe-hb | Optuna's ``TPESampler(seed)`` with ``HyperbandPruner(min_resource=1, max_resource=E, reduction_factor=3)``; a trial reports val_error per epoch and stops when pruned | cum(epoch it stopped at) |
| random | uniform over the grid at full fidelity (sets the target) | cum(E) |
| hyperband | Hyperband with uniform sampling over the grid: the brackets, promotions, continuation and record of mf-de, only the choice of configurations differs | as mf-de |

cum(e) is the table's cumulative cost of training e epochs. autodehypo's
methods decode candidates through ``SearchSpace`` exactly as ``ours.py``
does and, as a study does, answer a configuration asked again at the same
fidelity from the record at no cost (the peers pay for repeats, as in the
side-by-side harness). A failed training (NaN) is told the worst loss seen
so far in the run.

Budget: the same energy for everyone, N times the mean full-fidelity cost of
the grid, for each N of ``--budgets``. No method is told the budget, so each
run is simulated once up to the largest and cut for the smaller ones (an
evaluation counts only if it ends within the budget). A safety cap of
``CAP_FACTOR`` x N evaluations (answers from the record included) stops a
search that only repeats itself.

The schedule's ceiling (per task, in the report): ``hyperband`` with one
bracket alone, run over and over, for each of Hyperband's brackets; its ERT
divided by that of the bracket that trains every configuration to the last
epoch. The smallest of these ratios, picked in hindsight, bounds what
choosing the fidelity can save with uniform sampling on that table: a
multi-fidelity search beats its own full-fidelity self by more only if its
sampler gains more from the low epochs than from the full ones.

Target: median over random search's runs of its best loss within the largest
budget. Only full-fidelity (epoch E) losses count toward reaching it for every
method: a low-fidelity error is an estimate, not a result. Energy to target,
ERT and the Mann-Whitney U test are ``measures.py``'s.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import measures
from .ours import space_config
from .tasks import TableTask, load_energy_table
from autodehypo.environment import cpu_model

ETA = 3
CAP_FACTOR = 20
OURS = ("mf-de", "mf-jde", "mf-shade")
FULL_DE = ("de", "jde", "shade")
PEERS = ("dehb", "optuna-tpe-hb", "hyperband", "random")
# The goal's comparisons: ours against DEHB, and each multi-fidelity DE against the same DE at full fidelity.
GOALS = {"dehb": 0.7, "same DE at full fidelity": 0.5}
DEHB_MF_RUNNER = Path(__file__).resolve().parent / "dehb_mf_runner.py"


@dataclass
class Evaluation:
    index: tuple            # the configuration's choice indices
    epoch: int
    start_epoch: int        # the epoch its training continued from (0: from scratch)
    cost: float
    loss: float             # val_error at ``epoch`` (NaN: failed)
    repeat: bool = False    # answered from the record


@dataclass
class Run:
    method: str
    seed: int
    max_epoch: int
    evaluations: list[Evaluation] = field(default_factory=list)

    @property
    def costs(self) -> np.ndarray:
        return np.array([e.cost for e in self.evaluations], dtype=float)

    @property
    def full_losses(self) -> np.ndarray:
        """Per evaluation its loss if it was at full fidelity, else +inf (it cannot reach the target)."""
        return np.array([e.loss if e.epoch == self.max_epoch else math.inf for e in self.evaluations],
                        dtype=float)

    def within(self, budget: float) -> "Run":
        """The evaluations that ended within ``budget``."""
        ended = np.cumsum(self.costs) <= budget * (1 + 1e-12)
        return Run(self.method, self.seed, self.max_epoch,
                   [e for e, ok in zip(self.evaluations, ended) if ok])

    def best_loss(self, budget: float) -> float:
        losses = self.within(budget).full_losses
        finite = losses[~np.isnan(losses)]
        return float(finite.min()) if finite.size else math.inf

    def energy_to_target(self, target: float, budget: float) -> float:
        cut = self.within(budget)
        return measures.cost_to_target(cut.full_losses, cut.costs, target) if cut.evaluations else math.inf

    def spent(self, budget: float) -> float:
        return min(float(self.costs.sum()), budget)


class Ledger:
    """Charges the evaluations of one run until the energy budget or the evaluation cap is spent."""

    def __init__(self, run: Run, budget: float, cap: int):
        self.run, self.budget, self.cap = run, budget, cap
        self.spent = 0.0

    @property
    def open(self) -> bool:
        return self.spent < self.budget and len(self.run.evaluations) < self.cap

    def charge(self, evaluation: Evaluation) -> None:
        self.run.evaluations.append(evaluation)
        self.spent += evaluation.cost

    def worst(self) -> float:
        """The worst finite loss so far: what a failed training is told (+inf before any)."""
        finite = [e.loss for e in self.run.evaluations if not math.isnan(e.loss)]
        return max(finite) if finite else math.inf


def cumulative_cost(task: TableTask, index: tuple, epoch: int) -> float:
    return 0.0 if epoch == 0 else float(task.fidelity_costs[index + (epoch - 1,)])


def epoch_loss(task: TableTask, index: tuple, epoch: int) -> float:
    return float(task.fidelity_values[index + (epoch - 1,)])


def max_epoch(task: TableTask) -> int:
    return int(task.fidelity_values.shape[-1])


def budget_energy(task: TableTask, evaluations: int) -> float:
    """N full-fidelity evaluations' worth of energy: N times the grid's mean cost of E epochs."""
    return evaluations * float(np.nanmean(task.fidelity_costs[..., -1]))


# -- autodehypo ------------------------------------------------------------------------
def _search_space(task: TableTask):
    from autodehypo.space import ENCODING_VERSION, SearchSpace
    return SearchSpace.from_config(space_config(task), ENCODING_VERSION)


def run_ours(task: TableTask, inner: str, seed: int, budget: float, cap: int) -> Run:
    """MultiFidelityDE driven by ask/tell as a study drives it, one worker."""
    from autodehypo.algorithms import ALGORITHMS
    from autodehypo.algorithms.multifidelity import MultiFidelityDE
    space = _search_space(task)
    E = max_epoch(task)
    opt = MultiFidelityDE(space.dim, inner=inner, min_fidelity=1, max_fidelity=E, eta=ETA, integer=True,
                          population=ALGORITHMS[inner].default_population(space.dim), seed=seed)
    run = Run(f"mf-{inner}", seed, E)
    ledger = Ledger(run, budget, cap)
    epoch_of: dict[int, int] = {}          # candidate id -> its fidelity
    answers: dict[tuple, float] = {}       # (configuration, epoch) -> first loss: the study's record
    while ledger.open:
        candidate = opt.ask()
        if candidate is None:  # never sequentially: a rung is asked only when the one below is told
            raise RuntimeError("MultiFidelityDE waits for values with none pending")
        index, epoch = task.index(space.decode(candidate.x)), int(candidate.fidelity)
        start = epoch_of[candidate.continues] if candidate.continues is not None else 0
        epoch_of[candidate.id] = epoch
        ledger.charge(_train_or_answer(task, answers, index, epoch, start))
        loss = run.evaluations[-1].loss
        opt.tell(candidate.id, ledger.worst() if math.isnan(loss) else loss)
    return run


def _train_or_answer(task: TableTask, answers: dict, index: tuple, epoch: int, start: int) -> Evaluation:
    """A configuration already trained to this epoch is answered from the record for free; otherwise
    the training pays for the epochs from ``start`` (the checkpoint it continues) to ``epoch``."""
    if (index, epoch) in answers:
        return Evaluation(index, epoch, epoch, 0.0, answers[(index, epoch)], repeat=True)
    loss = epoch_loss(task, index, epoch)
    if not math.isnan(loss):
        answers[(index, epoch)] = loss
    cost = cumulative_cost(task, index, epoch) - cumulative_cost(task, index, start)
    return Evaluation(index, epoch, start, cost, loss)


def run_full_de(task: TableTask, algorithm: str, seed: int, budget: float, cap: int) -> Run:
    """The same DE at full fidelity, generational, as ``ours.run_autodehypo`` drives it (with an
    energy budget instead of an evaluation count, so the optimizer is not told a length)."""
    from autodehypo.algorithms import ALGORITHMS, make_optimizer
    space = _search_space(task)
    E = max_epoch(task)
    opt = make_optimizer(algorithm, space.dim, population=ALGORITHMS[algorithm].default_population(space.dim),
                         seed=seed)
    run = Run(algorithm, seed, E)
    ledger = Ledger(run, budget, cap)
    answers: dict[tuple, float] = {}
    while ledger.open:
        batch = opt.ask_generation()
        losses = []
        for u in batch:
            if not ledger.open:
                break
            ledger.charge(_train_or_answer(task, answers, task.index(space.decode(u)), E, 0))
            losses.append(run.evaluations[-1].loss)
        if len(losses) < len(batch):
            break  # the budget ran out inside the generation: nothing more is told
        worst = ledger.worst()
        opt.tell_generation([worst if math.isnan(x) else x for x in losses])
    return run


# -- peers -------------------------------------------------------------------------------
def uniform_index(task: TableTask, rng: np.random.Generator) -> tuple:
    """A configuration of the grid drawn uniformly: one choice index per parameter."""
    return tuple(int(rng.integers(len(p.choices))) for p in task.params)


def run_random(task: TableTask, seed: int, budget: float, cap: int) -> Run:
    rng = np.random.default_rng(seed)
    E = max_epoch(task)
    run = Run("random", seed, E)
    ledger = Ledger(run, budget, cap)
    while ledger.open:
        index = uniform_index(task, rng)
        ledger.charge(Evaluation(index, E, 0, cumulative_cost(task, index, E), epoch_loss(task, index, E)))
    return run


def run_hyperband(task: TableTask, seed: int, budget: float, cap: int, bracket: int | None = None) -> Run:
    """Hyperband's brackets (all in turn, or only ``bracket``, an index into ``brackets()``) with
    configurations drawn uniformly from the grid; successive halving promotes the best third of a rung,
    and a promotion continues from the epoch it reached, as in MultiFidelityDE."""
    from autodehypo.algorithms.multifidelity import brackets
    rng = np.random.default_rng(seed)
    E = max_epoch(task)
    schedule = brackets(1, E, ETA, integer=True)
    if bracket is not None:
        schedule = [schedule[bracket]]
    run = Run("hyperband" if bracket is None else f"hyperband-bracket-{bracket}", seed, E)
    ledger = Ledger(run, budget, cap)
    answers: dict[tuple, float] = {}
    for started in range(cap):  # brackets; the ledger closes long before
        rungs = schedule[started % len(schedule)]
        survivors = [(uniform_index(task, rng), 0) for _ in range(rungs[0][0])]
        for keep, fidelity in rungs:
            told = []
            for index, start in survivors[:keep]:
                if not ledger.open:
                    return run
                ledger.charge(_train_or_answer(task, answers, index, int(fidelity), start))
                loss = run.evaluations[-1].loss
                if not math.isnan(loss):  # a failed training is never promoted
                    told.append((loss, index))
            told.sort(key=lambda t: t[0])
            survivors = [(index, int(fidelity)) for _, index in told]
    return run


def bracket_ceiling(task: TableTask, seeds: list[int], budget: float, cap: int, target: float) -> list[float]:
    """Per Hyperband bracket (the most aggressive first), the ERT of uniform sampling with that bracket
    alone divided by the ERT of the bracket that trains everything to the last epoch."""
    from autodehypo.algorithms.multifidelity import brackets
    count = len(brackets(1, max_epoch(task), ETA, integer=True))
    erts = [figures([run_hyperband(task, s, budget, cap, bracket=b) for s in seeds], target, budget, cap).ert
            for b in range(count)]
    return [measures.ratio(e, erts[-1]) for e in erts]


def run_optuna_tpe_hyperband(task: TableTask, seed: int, budget: float, cap: int) -> Run:
    """Optuna's TPE with its Hyperband pruner; a trial stops where it is pruned and pays up to there."""
    import optuna
    from optuna.pruners import HyperbandPruner
    from optuna.samplers import TPESampler
    from optuna.trial import TrialState
    optuna.logging.set_verbosity(logging.WARNING)
    E = max_epoch(task)
    run = Run("optuna-tpe-hb", seed, E)
    ledger = Ledger(run, budget, cap)
    # HyperbandPruner puts a trial in a bracket by a hash of the study's name: name it, so that a seed
    # repeats (a generated name made two runs of one seed differ).
    study = optuna.create_study(study_name=f"tpe-hyperband-{seed}", direction="minimize",
                                sampler=TPESampler(seed=seed),
                                pruner=HyperbandPruner(min_resource=1, max_resource=E, reduction_factor=ETA))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while ledger.open:
            trial = study.ask()
            config = {p.name: trial.suggest_categorical(p.name, list(p.choices)) for p in task.params}
            index = task.index(config)
            stop, pruned, loss = E, False, math.nan
            for epoch in range(1, E + 1):
                loss = epoch_loss(task, index, epoch)
                if math.isnan(loss):  # the training failed here
                    stop = epoch
                    break
                trial.report(loss, epoch)
                if trial.should_prune():
                    stop, pruned = epoch, True
                    break
            ledger.charge(Evaluation(index, stop, 0, cumulative_cost(task, index, stop), loss))
            if pruned:
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, ledger.worst() if math.isnan(loss) else loss)
    return run


def run_dehb(task: TableTask, seeds: list[int], budget: float, python: str) -> list[Run]:
    """DEHB 0.1.2 in its own environment (dehb_mf_runner.py); charged here like everyone else."""
    E = max_epoch(task)
    with tempfile.TemporaryDirectory(prefix="hpo-dehb-mf-") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "arrays.npz", fidelity_values=task.fidelity_values, fidelity_costs=task.fidelity_costs)
        request = {"task": task.name, "params": [{"name": p.name, "kind": p.kind, "choices": list(p.choices),
                                                  "low": p.low, "high": p.high} for p in task.params],
                   "seeds": list(seeds), "min_fidelity": 1, "max_fidelity": E, "eta": ETA,
                   "budget": budget, "arrays": str(tmp / "arrays.npz")}
        (tmp / "request.json").write_text(json.dumps(request))
        out = subprocess.run([python, str(DEHB_MF_RUNNER), str(tmp / "request.json"), str(tmp / "result.json")],
                             capture_output=True, text=True, cwd=tmp)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(f"dehb on {task.name} failed: {last}")
        result = json.loads((tmp / "result.json").read_text())
    runs = []
    for r in result["runs"]:
        run = Run("dehb", int(r["seed"]), E)
        for key, epoch in zip(r["keys"], r["epochs"]):
            index = tuple(key)
            run.evaluations.append(Evaluation(index, epoch, 0, cumulative_cost(task, index, epoch),
                                              epoch_loss(task, index, epoch)))
        runs.append(run)
    return runs


# -- the comparison ---------------------------------------------------------------------
def simulate(task: TableTask, methods: list[str], seeds: list[int], evaluations: int,
             dehb_python: str | None) -> dict[str, list[Run]]:
    """Every method's runs at the largest budget (``evaluations`` full-fidelity equivalents)."""
    budget, cap = budget_energy(task, evaluations), CAP_FACTOR * evaluations
    runs: dict[str, list[Run]] = {}
    for method in methods:
        started = time.perf_counter()
        if method == "dehb":
            runs[method] = run_dehb(task, seeds, budget, dehb_python)
        elif method in OURS:
            runs[method] = [run_ours(task, method.removeprefix("mf-"), s, budget, cap) for s in seeds]
        elif method in FULL_DE:
            runs[method] = [run_full_de(task, method, s, budget, cap) for s in seeds]
        elif method == "random":
            runs[method] = [run_random(task, s, budget, cap) for s in seeds]
        elif method == "hyperband":
            runs[method] = [run_hyperband(task, s, budget, cap) for s in seeds]
        elif method == "optuna-tpe-hb":
            runs[method] = [run_optuna_tpe_hyperband(task, s, budget, cap) for s in seeds]
        else:
            raise ValueError(f"unknown method {method!r}")
        print(f"  {task.name} {method}: {len(seeds)} runs in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
    return runs


@dataclass
class Figures:
    """One method's runs at one budget."""

    to_target: list[float]
    spent: list[float]
    low_fidelity_share: float   # of the energy spent below full fidelity
    trainings: float            # median per run: evaluations that trained (not answered from the record)
    answered_share: float       # of all evaluations, those answered from the record
    stopped_by_cap: int         # runs that hit the evaluation cap before spending the budget
    budget: float

    @property
    def median(self) -> float:
        return measures.median(self.to_target)

    @property
    def ert(self) -> float:
        return measures.expected_running_time(self.to_target, self.spent)

    @property
    def reached(self) -> float:
        return sum(math.isfinite(c) for c in self.to_target) / len(self.to_target)


def figures(runs: list[Run], target: float, budget: float, cap: int) -> Figures:
    cut = [r.within(budget) for r in runs]
    spent = [r.spent(budget) for r in runs]
    low = sum(e.cost for r in cut for e in r.evaluations if e.epoch < r.max_epoch)
    total = sum(e.cost for r in cut for e in r.evaluations)
    asked = sum(len(r.evaluations) for r in cut)
    answered = sum(e.repeat for r in cut for e in r.evaluations)
    return Figures([r.energy_to_target(target, budget) for r in runs], spent,
                   low / total if total else 0.0,
                   float(np.median([sum(not e.repeat for e in r.evaluations) for r in cut])),
                   answered / asked if asked else 0.0,
                   sum(len(r.evaluations) >= cap and s < budget for r, s in zip(cut, spent)), budget)


def table_provenance(path: str) -> str:
    """Where a table's energy figures come from: its energy_source values and, from the meta file
    make_table.py writes beside it, the CPU it was measured on."""
    import csv
    import gzip
    import io
    raw = Path(path).read_bytes()
    text = (gzip.decompress(raw) if path.endswith(".gz") else raw).decode()
    sources = sorted({row["energy_source"] for row in csv.DictReader(io.StringIO(text))})
    meta = Path(path + ".meta.json")
    cpu = json.loads(meta.read_text()).get("machine", {}).get("cpu", "?") if meta.is_file() else "?"
    return f"{' + '.join(sources)} (CPU {cpu})"


def analyse(task: TableTask, runs: dict[str, list[Run]], budgets: list[int]) -> dict:
    largest = budget_energy(task, max(budgets))
    target = measures.median([r.best_loss(largest) for r in runs["random"]])
    per_budget = {}
    for n in budgets:
        energy = budget_energy(task, n)
        per_budget[n] = {"energy": energy, "methods": {m: figures(rs, target, energy, CAP_FACTOR * max(budgets))
                                                        for m, rs in runs.items()}}
    seeds = [r.seed for r in runs["random"]]
    return {"task": task.name, "target": target, "best": float(np.nanmin(task.fidelity_values[..., -1])),
            "ceiling": bracket_ceiling(task, seeds, largest, CAP_FACTOR * max(budgets), target),
            "rank_correlation": {e: low_fidelity_rank_correlation(task, e) for e in fidelities(max_epoch(task))},
            "best_rank": {e: best_rank_at(task, e) for e in fidelities(max_epoch(task))},
            "configurations": task.size, "energy": table_provenance(task.source), "epochs": max_epoch(task),
            "full_cost": float(np.nanmean(task.fidelity_costs[..., -1])), "budgets": per_budget}


def fidelities(max_epoch: int) -> list[int]:
    """The epochs below the largest that the brackets use (eta 3): 1, 3 for 9 epochs."""
    out, e = [], max_epoch
    while e / ETA >= 1:
        e = int(round(e / ETA))
        out.insert(0, e)
    return out


def low_fidelity_rank_correlation(task: TableTask, epoch: int) -> float:
    """Spearman's rho between the configurations' val_error after ``epoch`` and after the last epoch:
    how well a low-fidelity ranking predicts the full one (what successive halving bets on)."""
    from scipy.stats import spearmanr
    low = task.fidelity_values[..., epoch - 1].ravel()
    full = task.fidelity_values[..., -1].ravel()
    ok = ~(np.isnan(low) | np.isnan(full))
    return float(spearmanr(low[ok], full[ok]).statistic)


def best_rank_at(task: TableTask, epoch: int) -> int:
    """The rank (1 = best) after ``epoch`` of the configuration that is best after the last epoch:
    successive halving keeps only the top third at each rung, so a late bloomer is dropped."""
    low = task.fidelity_values[..., epoch - 1].ravel()
    best = int(np.nanargmin(task.fidelity_values[..., -1].ravel()))
    return int(np.sum(np.where(np.isnan(low), np.inf, low) < low[best])) + 1


def pairs(methods: list[str]) -> list[tuple[str, str, str]]:
    """(ours, peer, which goal): each of ours against DEHB, its own DE at full fidelity, Optuna, Hyperband
    with uniform sampling, random."""
    out = []
    for ours in [m for m in methods if m in OURS]:
        same = ours.removeprefix("mf-")
        for peer, goal in (("dehb", "dehb"), (same, "same DE at full fidelity"),
                           ("optuna-tpe-hb", None), ("hyperband", None), ("random", None)):
            if peer in methods:
                out.append((ours, peer, goal))
    return out


def comparison(a: Figures, b: Figures) -> dict:
    """Ratios ours / peer. ``bounded_ratio`` counts a median of ∞ as the whole budget, so that every task
    enters a geometric mean; it understates the cost of the side that did not get there."""
    return {"ratio": measures.ratio(a.median, b.median), "ert_ratio": measures.ratio(a.ert, b.ert),
            "bounded_ratio": min(a.median, a.budget) / min(b.median, b.budget),
            "p": measures.mann_whitney(a.to_target, b.to_target)}


def fmt(x: float, digits: int = 3) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{digits}g}"




def report(results: list[dict], budgets: list[int], methods: list[str], seeds: int, command: str,
           versions: dict) -> str:
    out = ["# Multi-fidelity benchmark: energy to reach the target on per-epoch tables", "",
           f"Command: `{command}`", "",
           f"Machine: {cpu_model()}, {os.cpu_count()} cores. Seeds: {seeds} per method. "
           f"Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}.", "",
           "Simulated sequentially (one worker) on the tables: an evaluation's cost is the table's recorded "
           "energy (see `benchmarks/hpo/multifidelity.py` for what each method pays). Budget: N x the grid's mean "
           "full-fidelity energy, the same for every method. Target: median over random search's runs of its best "
           f"loss within the largest budget ({max(budgets)}). Only full-fidelity results count toward the "
           "target. *Energy to target*: median over runs (∞ when fewer than half got there) [share of runs "
           "reaching it]; *ERT*: energy spent by all runs (to the target, or their whole budget) / runs reaching "
           "it. Ratio: ours / peer of the medians, then of the ERTs; p: two-sided Mann-Whitney U on the per-run "
           "energies to target (runs that never got there tied at +∞). A geometric mean is over the tasks where "
           "the ratio is finite and positive (their count in brackets): a ratio of 0 (the peer's median is ∞, "
           "ours finite) or ∞ (the reverse) is shown per task but left out of it; the column *∞ counted as the budget* "
           "keeps every task by counting such a median as the whole budget (understating the cost of the side that "
           "did not get there). A search that only asks "
           f"configurations it has already trained spends nothing: a run stops after {CAP_FACTOR} x N evaluations "
           "(answers from the record included) of the largest budget, and its ERT counts only the energy it spent "
           "(which favours a run that stalls early over one that keeps paying). Energy source `estimate`: "
           "make_table.py's CpuTimeEstimate, the training's CPU seconds x 10 W per core, not a meter.", ""]
    out += ["## Tasks", "", "| task | configurations | epochs | mean full-fidelity energy (J) | best val_error "
            "| target | Spearman rho, val_error at a lower rung vs the last epoch | the best configuration's rank "
            "there | the schedule's ceiling: uniform sampling, one bracket alone, ERT / the full-fidelity bracket's, "
            "by the bracket's first epoch | energy source |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rho = ", ".join(f"epoch {e}: {rho:.2f}" for e, rho in r["rank_correlation"].items())
        out.append(f"| {r['task']} | {r['configurations']} | {r['epochs']} | {fmt(r['full_cost'], 4)} | "
                   f"{fmt(r['best'], 4)} | {fmt(r['target'], 4)} | {rho} | "
                   f"{', '.join(f'epoch {e}: {k}' for e, k in r['best_rank'].items())} | "
                   f"{ceiling_text(r)} | {r['energy']} |")
    out += ["", "## The goal and where ours loses", "", *verdicts(results, budgets, methods), "",
            *ceiling_verdict(results)]
    for n in budgets:
        out += ["", f"## Budget {n} full-fidelity evaluations", ""]
        out += ["### Geometric mean over tasks of ours / peer (median energy to target; ERT)", "",
                "| ours | peer | goal | median ratio | median ratio, ∞ counted as the budget | ERT ratio | tasks |",
                "|---|---|---|---|---|---|---|"]
        for ours, peer, goal in pairs(methods):
            cs = [comparison(r["budgets"][n]["methods"][ours], r["budgets"][n]["methods"][peer]) for r in results]
            g, k = measures.geometric_mean([c["ratio"] for c in cs])
            ge, ke = measures.geometric_mean([c["ert_ratio"] for c in cs])
            gb, kb = measures.geometric_mean([c["bounded_ratio"] for c in cs])
            goal_text = f"≤ {GOALS[goal]}" if goal else ""
            out.append(f"| {ours} | {peer} | {goal_text} | {fmt(g)} ({k}) | {fmt(gb)} ({kb}) | {fmt(ge)} ({ke}) | "
                       f"{len(results)} |")
        for r in results:
            fig = r["budgets"][n]["methods"]
            out += ["", f"### {r['task']}: budget {fmt(r['budgets'][n]['energy'], 4)} J", "",
                    "| method | energy to target (J) [reached] | ERT (J) | share of energy below full fidelity "
                    "| trainings per run (median) | evaluations answered from the record | runs stopped by the cap |",
                    "|---|---|---|---|---|---|---|"]
            for m in methods:
                f = fig[m]
                out.append(f"| {m} | {fmt(f.median, 4)} [{f.reached:.0%}] | {fmt(f.ert, 4)} | "
                           f"{f.low_fidelity_share:.0%} | {f.trainings:g} | {f.answered_share:.0%} | "
                           f"{f.stopped_by_cap} |")
            out += ["", "| ours | peer | median ratio | ERT ratio | p |", "|---|---|---|---|---|"]
            for ours, peer, _ in pairs(methods):
                c = comparison(fig[ours], fig[peer])
                out.append(f"| {ours} | {peer} | {fmt(c['ratio'])} | {fmt(c['ert_ratio'])} | {fmt(c['p'], 2)} |")
    return "\n".join(out) + "\n"


def ceiling_text(result: dict) -> str:
    """The ceiling per bracket, each named by its first epoch as the schedule has it."""
    from autodehypo.algorithms.multifidelity import brackets
    starts = [f"{rungs[0][1]:g}" for rungs in brackets(1, result["epochs"], ETA, integer=True)]
    return ", ".join(f"epoch {e}: {fmt(c, 2)}" for e, c in zip(starts, result["ceiling"]))


def ceiling_verdict(results: list[dict]) -> list[str]:
    """How much choosing the fidelity could save at best on these tables (uniform sampling, the
    bracket picked in hindsight per task): the bound the goal against full-fidelity DE runs into."""
    best = [min(r["ceiling"]) for r in results]
    g, k = measures.geometric_mean(best)
    per_task = "; ".join(f"{r['task']} {fmt(b, 2)}" for r, b in zip(results, best))
    return [f"The schedule's ceiling: with uniform sampling, the best single Hyperband bracket per task, picked in "
            f"hindsight, needs {fmt(g, 2)}x (geometric mean over {k} task(s)) the ERT of training every "
            f"configuration to the last epoch ({per_task}). Hyperband and the mf-* searches run all brackets in "
            "turn, the full-fidelity one among them. A multi-fidelity DE goes below this only where its DE gains "
            "more from low-epoch values than from full ones."]


def _censored(ratio: float) -> str:
    """Who did not reach the target in half the runs, for a ratio of medians that is 0, ∞ or NaN."""
    return "the peer reaches the target" if ratio == 0 else "ours reaches the target" if math.isinf(ratio) \
        else "neither reaches the target"


def _met(value: float, count: int, goal: str) -> str:
    return "–" if not count else ("**met**" if value <= GOALS[goal] else "**not met**")


def verdicts(results: list[dict], budgets: list[int], methods: list[str]) -> list[str]:
    """One line per goal comparison and budget (met or not, on the geometric mean of the median ratios),
    then every task, budget and peer where one of ours needs more energy than the peer or reaches the
    target in fewer runs."""
    lines = []
    for n in budgets:
        for ours, peer, goal in pairs(methods):
            if not goal:
                continue
            cs = [comparison(r["budgets"][n]["methods"][ours], r["budgets"][n]["methods"][peer]) for r in results]
            g, k = measures.geometric_mean([c["ratio"] for c in cs])
            gb, kb = measures.geometric_mean([c["bounded_ratio"] for c in cs])
            ge, ke = measures.geometric_mean([c["ert_ratio"] for c in cs])
            left_out = "; ".join(f"{r['task']}: {_censored(c['ratio'])} in fewer than half the runs"
                                 for r, c in zip(results, cs) if not (math.isfinite(c["ratio"]) and c["ratio"] > 0))
            lines.append(f"- budget {n}, {ours} / {peer} (goal ≤ {GOALS[goal]}): median energy to target "
                         f"{fmt(g)} over {k} of {len(results)} task(s) ({_met(g, k, goal)})"
                         f"{f' [left out: {left_out}]' if left_out else ''}; with a median of ∞ counted as the "
                         f"budget {fmt(gb)} over {kb} ({_met(gb, kb, goal)}); ERT {fmt(ge)} over {ke} "
                         f"({_met(ge, ke, goal)})")
    losses = []
    for r in results:
        for n in budgets:
            fig = r["budgets"][n]["methods"]
            for ours, peer, _ in pairs(methods):
                c, a, b = comparison(fig[ours], fig[peer]), fig[ours], fig[peer]
                worse = [what for what, bad in (
                    (f"median energy {fmt(c['ratio'])}x", c["ratio"] > 1),
                    (f"ERT {fmt(c['ert_ratio'])}x", c["ert_ratio"] > 1),
                    (f"reached {a.reached:.0%} vs {b.reached:.0%}", a.reached < b.reached)) if bad]
                if worse:
                    losses.append(f"- {r['task']}, budget {n}: {ours} loses to {peer}: {', '.join(worse)} "
                                  f"(p = {fmt(c['p'], 2)})")
    return lines + ["", "Where ours loses (ratio > 1, or a smaller share of runs reaching the target):", ""] + \
        (losses or ["- nowhere in these runs"])


def versions_of(dehb_python: str | None) -> dict:
    from importlib import metadata

    import autodehypo
    versions = {"autodehypo": autodehypo.__version__}
    for dist in ("optuna", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if dehb_python:
        from .peers import dehb_environment
        dehb, _ = dehb_environment(dehb_python)
        if dehb:
            versions["dehb"] = dehb.get("dehb")
    return versions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", required=True, help="per-epoch tables (make_table.py's format), comma-separated")
    p.add_argument("--budgets", default="30,60", help="budgets in full-fidelity evaluations, comma-separated")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--methods", default=",".join(OURS + FULL_DE + PEERS))
    p.add_argument("--dehb-python", default=os.environ.get("DEHB_PYTHON"),
                   help="python of an environment with dehb==0.1.2; without it dehb is left out")
    p.add_argument("--out", type=Path, help="write the Markdown report here (and a per-run CSV beside it)")
    args = p.parse_args(argv)
    args.budgets = sorted(int(b) for b in args.budgets.split(",") if b)
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(args.methods) - set(OURS + FULL_DE + PEERS))
    if unknown:
        p.error(f"--methods: unknown {unknown}; choose among {list(OURS + FULL_DE + PEERS)}")
    if "random" not in args.methods:
        p.error("--methods: random must be among them (it sets the target)")
    if "dehb" in args.methods and not args.dehb_python:
        print("dehb left out: no --dehb-python", file=sys.stderr)
        args.methods.remove("dehb")
    return args


def write_runs_csv(path: Path, results: list[dict], budgets: list[int]) -> None:
    lines = ["task,budget,method,seed,energy_to_target,spent"]
    for r in results:
        for n in budgets:
            for m, f in r["budgets"][n]["methods"].items():
                for seed, (c, s) in enumerate(zip(f.to_target, f.spent)):
                    lines.append(f"{r['task']},{n},{m},{seed},{c:.6g},{s:.6g}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seeds = list(range(args.seeds))
    results = []
    for path in [t for t in args.tasks.split(",") if t]:
        task = load_energy_table(path)
        runs = simulate(task, args.methods, seeds, max(args.budgets), args.dehb_python)
        results.append(analyse(task, runs, args.budgets))
    command = "python -m benchmarks.hpo.multifidelity " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(results, args.budgets, args.methods, args.seeds, command, versions_of(args.dehb_python))
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        write_runs_csv(args.out.with_suffix(".csv"), results, args.budgets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
