"""The DE family as an Optuna sampler whose state lives in the study's storage.

:class:`DESampler` runs one of the project's optimizers (DE, jDE, JADE, SHADE, L-SHADE, jSO,
DISH, ...) with the generational schedule behind Optuna's ask/tell, encoding the search space
as a study does (:mod:`autodehypo.integrations.optuna_space`).

How the state survives a restart and several workers
-----------------------------------------------------
The sampler keeps nothing that the storage does not hold: its state is a pure function of
the study's system attributes and trials, so a new process that opens the same RDB or
journal storage continues exactly where the last one stopped, and any number of threads or
processes may share a study.

- ``autodehypo:config`` (study): algorithm, population, seed, options, budget, encoding
  version and the search space. Written by the first trial that samples; a sampler built
  with other settings refuses the study.
- ``autodehypo:generation:<g>`` (study): the optimizer's ``state_dict`` at the start of
  generation ``g`` and the worst told value so far. Written once, when generation ``g - 1``
  is complete; it is computed only from stored trials, so two processes that both write it
  write the same JSON, and no key is ever overwritten with something else. Generation ``g``'s
  points are ``ask_generation()`` of that state, which any process recomputes bit for bit.
- ``autodehypo:slot`` (trial): ``[g, row]``, the point of generation ``g`` the trial evaluates.

Which trial a row's value comes from, and what happens when a row is asked twice
--------------------------------------------------------------------------------
A row's value is that of its *first finished* trial (complete, failed or pruned; the earliest
``datetime_complete``, then the lowest number), which no later trial can change. A generation
is told when every row has one; then the next is made. A new trial takes the lowest row of the
current generation that no trial has taken. When every row is out, the trial re-asks the
unfinished row with the fewest trials (then the lowest): Optuna needs parameters at once, and
waiting could last forever, because a trial whose process was killed stays RUNNING in the
storage. Re-asking is what lets a study resumed after a kill finish that generation; while
the first trial of the row is alive it is a backup evaluation whose first result counts (at
most ``n_jobs - 1`` extra evaluations per generation). Two processes that take the same row
at the same moment evaluate it twice, with the same effect. A trial that repeats a row
evaluates the same parameters, and the state cannot be told twice or out of order.

Told values (the study's policy)
--------------------------------
Minimization of ``sign * value`` (``sign = -1`` for ``direction="maximize"``). A failed trial is
told ``sign * failure_value`` when one is given, else the worst value of the study's
complete trials so far, this generation included (+inf before any). A pruned trial that
has a value (Optuna records its last intermediate value) is told that value; one without is
treated as failed. Multi-objective studies are refused.

Beyond the DE: trials whose parameters Optuna fixed (``enqueue_trial``), trials before the
search space is known (see ``search_space``), and trials after the evaluation budget
``n_trials`` is spent are sampled by :class:`~optuna.samplers.RandomSampler` and not told.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from typing import Any, Sequence

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from ..algorithms import ALGORITHMS, algorithm_options, make_optimizer
from ..direction import Direction
from ..space import ENCODING_VERSION
from .optuna_space import relative_distributions, space_from_distributions

CONFIG_KEY = "autodehypo:config"
GENERATION_KEY = "autodehypo:generation:{}"
SLOT_KEY = "autodehypo:slot"
_FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


class DESampler(BaseSampler):
    """A DE-family sampler (jSO by default) with its state in the study's storage.

    Args:
        algorithm: one of :data:`autodehypo.algorithms.ALGORITHMS` (``"de"``, ``"jde"``,
            ``"jade"``, ``"shade"``, ``"lshade"``, ``"jso"``, ``"dish"``, ...).
        population: population size; ``None`` takes the algorithm's default for
            hyperparameter search, as a study does.
        seed: seed of the optimizer. ``None`` draws one from the study (its name and its first
            trial's start time), so that every process on the study draws the same one.
        n_trials: the evaluation budget (the ``n_trials`` you give ``study.optimize``).
            L-SHADE, jSO and DISH need it: their population and parameters follow the
            budget spent. After it, trials are sampled at random.
        search_space: ``{name: distribution}`` to search from the first trial on. Without it,
            the space is the distributions of the study's first complete trial (in the order
            they were suggested), and the trials before it are sampled at random. Either way
            it is stored in the study and fixed from then on (a static define-by-run space).
        failure_value: the value a failed trial is told (in the study's direction); ``None``:
            the worst value so far.
        **options: the algorithm's own options (see
            :func:`autodehypo.algorithms.algorithm_options`). With ``prescreen`` and
            ``cost_weight``, the cost weighed is each trial's run time (Optuna records no energy).
    """

    def __init__(self, algorithm: str = "jso", population: int | None = None, seed: int | None = None,
                 *, n_trials: int | None = None, search_space: dict[str, BaseDistribution] | None = None,
                 failure_value: float | None = None, **options: Any):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {sorted(ALGORITHMS)}")
        unknown = sorted(set(options) - set(algorithm_options(algorithm)))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for algorithm {algorithm!r}; "
                             f"allowed: {sorted(algorithm_options(algorithm))}")
        self._algorithm, self._population, self._seed = algorithm, population, seed
        self._n_trials, self._options = n_trials, dict(options)
        self._failure_value = failure_value
        self._search_space = None if search_space is None else relative_distributions(search_space)
        self._random = RandomSampler(seed=seed)
        # One lock per sampler: the threads of study.optimize(n_jobs=...) share it, so within a
        # process no two trials take the same row; across processes see the module docstring.
        self._lock = threading.Lock()
        # Per (storage, study, generation): the optimizer with that generation asked, and its
        # points. Both follow from the stored state; this only saves recomputing them.
        self._asked: dict[tuple, tuple[Any, np.ndarray]] = {}

    # -- Optuna's sampler interface -------------------------------------------------
    def reseed_rng(self) -> None:
        # Only the random fallback: the optimizer's generator is part of the stored state.
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if study._is_multi_objective():
            raise ValueError("DESampler optimizes one objective; this study has several")
        config = study._storage.get_study_system_attrs(study._study_id).get(CONFIG_KEY)
        if config is not None:
            return {name: json_to_distribution(d) for name, d in config["space"]}
        if self._search_space is not None:
            return dict(self._search_space)
        first = next((t for t in study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,))), None)
        return {} if first is None else relative_distributions(first.distributions)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space or "fixed_params" in trial.system_attrs:
            return {}
        with self._lock:
            config = self._config(study, trial, search_space)
            slot = self._take_slot(study, trial, config)
        if slot is None:
            return {}  # the budget is spent
        generation, row, point = slot
        space = space_from_distributions(
            {name: json_to_distribution(d) for name, d in config["space"]}, config["encoding"])
        return space.decode(point)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    # -- the stored configuration ---------------------------------------------------
    def _config(self, study: optuna.Study, trial: FrozenTrial,
                search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        storage, study_id = study._storage, study._study_id
        stored = storage.get_study_system_attrs(study_id).get(CONFIG_KEY)
        if self._search_space is not None:
            search_space = self._search_space
        space = space_from_distributions(search_space)
        mine = {"algorithm": self._algorithm,
                "population": self._population or ALGORITHMS[self._algorithm].default_population(space.dim),
                "seed": self._seed, "n_trials": self._n_trials, "options": self._options,
                "failure_value": self._failure_value, "encoding": ENCODING_VERSION,
                "space": [[name, distribution_to_json(d)] for name, d in search_space.items()]}
        if stored is None:
            if mine["seed"] is None:
                mine["seed"] = _study_seed(study)
            _check_budget(mine)
            # Deterministic for equal settings: concurrent first writers write the same record.
            storage.set_study_system_attr(study_id, CONFIG_KEY, mine)
            return mine
        # Settings left to the study (None) take the stored ones; the rest must agree.
        given = {"algorithm", "n_trials", "options", "failure_value"}
        given |= {k for k, v in (("population", self._population), ("seed", self._seed)) if v is not None}
        if self._search_space is not None:
            given.add("space")
        differs = sorted(k for k in given if json.dumps(mine[k]) != json.dumps(stored[k]))
        if differs:
            raise ValueError("this study was started by a DESampler with other settings: "
                             + ", ".join(f"{k}={stored[k]!r} (here {mine[k]!r})" for k in differs))
        return stored

    # -- generations and rows -------------------------------------------------------
    def _take_slot(self, study: optuna.Study, trial: FrozenTrial,
                   config: dict[str, Any]) -> tuple[int, int, np.ndarray] | None:
        storage, study_id = study._storage, study._study_id
        attrs = storage.get_study_system_attrs(study_id)
        if GENERATION_KEY.format(0) not in attrs:
            opt = _optimizer(config)
            storage.set_study_system_attr(study_id, GENERATION_KEY.format(0),
                                          {"optimizer": opt.state_dict(), "worst": None})
            attrs = storage.get_study_system_attrs(study_id)
        generation = 0
        while GENERATION_KEY.format(generation + 1) in attrs:
            generation += 1
        trials = storage.get_all_trials(study_id, deepcopy=False)
        by_row: dict[int, list[FrozenTrial]] = {}
        while True:
            record = attrs[GENERATION_KEY.format(generation)]
            opt, points = self._asked_generation(study, config, generation, record)
            if not len(points):
                return None
            by_row = _trials_by_row(trials, generation)
            winners = [_first_finished(by_row.get(row, [])) for row in range(len(points))]
            if any(w is None for w in winners):
                break
            told, worst = _told_values(study, config, record, winners)
            opt.tell_generation(told, [_duration(w) for w in winners])
            self._asked.pop(_cache_key(study, generation), None)
            generation += 1
            storage.set_study_system_attr(study_id, GENERATION_KEY.format(generation),
                                          {"optimizer": opt.state_dict(), "worst": worst})
            attrs = storage.get_study_system_attrs(study_id)
        free = [row for row in range(len(points)) if row not in by_row]
        if free:
            row = free[0]
        else:
            unfinished = [row for row in range(len(points)) if winners[row] is None]
            row = min(unfinished, key=lambda r: (len(by_row[r]), r))
        storage.set_trial_system_attr(trial._trial_id, SLOT_KEY, [generation, row])
        return generation, row, points[row]

    def _asked_generation(self, study: optuna.Study, config: dict[str, Any], generation: int,
                          record: dict[str, Any]) -> tuple[Any, np.ndarray]:
        key = _cache_key(study, generation)
        if key not in self._asked:
            opt = _optimizer(config)
            opt.load_state_dict(record["optimizer"])
            self._asked = {k: v for k, v in self._asked.items() if k[:2] != key[:2]}  # keep one per study
            self._asked[key] = (opt, opt.ask_generation())
        return self._asked[key]


def _optimizer(config: dict[str, Any]):
    dim = space_from_distributions({name: json_to_distribution(d) for name, d in config["space"]},
                                   config["encoding"]).dim
    return make_optimizer(config["algorithm"], dim, population=config["population"], seed=config["seed"],
                          max_evaluations=config["n_trials"], **config["options"])


def _check_budget(config: dict[str, Any]) -> None:
    try:
        _optimizer(config)
    except ValueError as exc:
        if config["n_trials"] is None and "budget" in str(exc):
            raise ValueError(f"DESampler({config['algorithm']!r}) needs n_trials=..., the number of "
                             f"trials you will run: {exc}") from None
        raise


def _cache_key(study: optuna.Study, generation: int) -> tuple:
    return (id(study._storage), study._study_id, generation)


def _study_seed(study: optuna.Study) -> int:
    """A seed every process on the study derives alike: the study's name and its first trial's start."""
    first = study._storage.get_trial(study._storage.get_trial_id_from_study_id_trial_number(study._study_id, 0))
    text = f"{study.study_name}|{first.datetime_start}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def _slot(trial: FrozenTrial) -> tuple[int, int] | None:
    slot = trial.system_attrs.get(SLOT_KEY)
    return None if slot is None else (int(slot[0]), int(slot[1]))


def _trials_by_row(trials: Sequence[FrozenTrial], generation: int) -> dict[int, list[FrozenTrial]]:
    rows: dict[int, list[FrozenTrial]] = {}
    for t in trials:
        slot = _slot(t)
        if slot is not None and slot[0] == generation:
            rows.setdefault(slot[1], []).append(t)
    return rows


def _first_finished(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    finished = [t for t in trials if t.state in _FINISHED]
    if not finished:
        return None
    return min(finished, key=lambda t: (t.datetime_complete, t.number))


def _duration(trial: FrozenTrial) -> float | None:
    """A trial's run time in seconds: what Optuna records of its cost (for ``cost_weight``)."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _told_values(study: optuna.Study, config: dict[str, Any], record: dict[str, Any],
                 winners: Sequence[FrozenTrial]) -> tuple[list[float], float | None]:
    """The values to tell for a generation's first finished trials, and the worst so far after it."""
    sign = Direction(study.direction.name.lower()).sign
    worst = None if record["worst"] is None else float(record["worst"])
    values = []
    for t in winners:
        has_value = t.state == TrialState.COMPLETE or (t.state == TrialState.PRUNED and t.value is not None)
        values.append(sign * float(t.value) if has_value else None)
        if t.state == TrialState.COMPLETE:  # the study's tally counts complete trials only
            worst = sign * float(t.value) if worst is None else max(worst, sign * float(t.value))
    if config["failure_value"] is not None:
        penalty = sign * float(config["failure_value"])
    else:
        penalty = math.inf if worst is None else worst
    # JSON has no inf: a worst of +inf (a complete trial that returned inf) is kept as a string.
    stored = worst if worst is None or math.isfinite(worst) else repr(worst)
    return [penalty if v is None else v for v in values], stored


__all__ = ["CONFIG_KEY", "GENERATION_KEY", "SLOT_KEY", "DESampler"]
