"""The DE family as an Optuna sampler whose state lives in the study's storage.

:class:`DESampler` runs one of the project's optimizers (DE, jDE, JADE, SHADE, L-SHADE, jSO,
DISH, GDE3 for several objectives, ...) with the generational schedule behind Optuna's
ask/tell, encoding the search space as a study does (:mod:`autodehypo.integrations.optuna_space`).

How the state survives a restart and several workers
-----------------------------------------------------
The sampler keeps nothing that the storage does not hold: its state is a pure function of
the study's system attributes and trials, so a new process that opens the same RDB or
journal storage continues exactly where the last one stopped, and any number of threads or
processes may share a study.

- ``autodehypo:config`` (study): algorithm, population, seed, options, budget, encoding
  version and the search space. Written by the first trial that samples; a sampler built
  with other settings refuses the study. Two processes that start together on a space
  fixed by their first complete trials (no ``search_space``) may each write one; the last
  one written is the study's, and a generation 0 built from the other is built again.
- ``autodehypo:generation:<g>`` (study): the optimizer's ``state_dict`` at the start of
  generation ``g``, the worst told value so far and the digest of the configuration it was
  built from. Written once, when generation ``g - 1`` is complete; it is computed only from
  stored trials, so two processes that both write it write the same JSON. Generation ``g``'s
  points are ``ask_generation()`` of that state, which any process recomputes bit for bit.
- ``autodehypo:slot`` (trial): ``[g, row, digest, host, pid, process start]``, the point of
  generation ``g`` the trial evaluates and the process that claimed it (``null``: a claim it
  withdrew). A trial whose digest is not the study's configuration's is not told.

Which trial evaluates a row
---------------------------
A new trial takes a row of the current generation that no live trial holds (the lowest one,
shifted by the number of lower-numbered trials that are choosing at the same moment, so
that workers starting together take different rows), writes its claim and reads the claims
back: if a lower-numbered live trial claimed the same row, it yields and chooses again.
When every row is out, the trial *waits* until the generation is complete (training the
same row twice is energy paid for nothing), and asks again a row only when all its live
trials are

- its own: trials asked earlier by the same thread and not yet told (ask-and-tell in
  batches; waiting could not end), or
- dead. With a storage heartbeat (``RDBStorage(heartbeat_interval=...)``) the storage decides:
  the sampler runs :func:`optuna.storages.fail_stale_trials` while it waits. Without one, a
  trial claimed by a process of this machine that no longer runs is dead at once, and one from
  another machine is presumed dead once it has run ``reask_after`` seconds (default: three
  times the longest finished trial of the study, at least 5 s; before any trial finished, a
  trial that started before this sampler was created).

A row's value is that of its *first finished* trial (complete, failed or pruned; the earliest
``datetime_complete``, then the lowest number), which no later trial can change, except that
a trial failed by the heartbeat and retried (``RetryFailedTrialCallback``, which copies the
slot to the retry) is not a result while its retry exists: the retry's is. A waiting trial
that finds a row held only by a retry nobody has started takes the retry out of the queue
(it is marked failed, with ``autodehypo:superseded_by``) and evaluates the row itself.
Without a retry callback, a trial failed by the heartbeat is a failed evaluation.

Told values (the study's policy)
--------------------------------
Minimization of ``sign * value`` per objective (``sign = -1`` for ``"maximize"``). A failed
trial is told ``sign * failure_value`` when one is given, else the worst value of the study's
complete trials so far, this generation included (+inf before any); with several objectives,
objective by objective. A pruned trial that has a value (Optuna records its last intermediate
value) is told that value; one without is treated as failed.

Beyond the DE: trials whose parameters Optuna fixed (``enqueue_trial``) and trials before the
search space is known (see ``search_space``) are sampled by
:class:`~optuna.samplers.RandomSampler` and not told, nor counted in the budget.

The budget ``n_trials``: once every row of it has a result or a live trial, a new trial is
pruned at its first ``suggest`` (before it trains) and ``study.optimize`` stops, with one warning
per process. Each worker runs ``study.optimize(objective, n_trials=sampler.remaining_trials(study))``:
the budget is spent exactly, also after a restart, and workers beyond it stop.

Optuna's private API: a sampler writes its claims as trial system attributes, for which Optuna
gives no public path (its own ``GridSampler`` writes them through the same names). They are
read in one place, :func:`_storage_of`, :func:`_study_id` and :func:`_trial_id`, and
``tests/test_optuna_sampler.py`` checks them on the installed Optuna.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
import warnings
from datetime import datetime
from typing import Any, Sequence

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from ..algorithms import ALGORITHMS, MULTI_OBJECTIVE, algorithm_options, make_optimizer
from ..config import search_of
from ..direction import Direction
from ..processes import process_start
from ..space import ENCODING_VERSION
from .optuna_space import relative_distributions, space_from_distributions

CONFIG_KEY = "autodehypo:config"
GENERATION_KEY = "autodehypo:generation:{}"
SLOT_KEY = "autodehypo:slot"
SUPERSEDED_KEY = "autodehypo:superseded_by"
_FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
REASK_FLOOR_S = 5.0
_LONGEST_FACTOR = 3.0
_POLL_S = (0.02, 1.0)  # first and longest pause while waiting for a generation to complete
_SETTLE_S = 0.02  # from writing a claim to reading the claims back, when others are choosing
# Who claims: host, pid and the process's identity across pid reuse (processes.process_start).
_WORKER = (socket.gethostname(), os.getpid(), process_start(os.getpid()))


class DESampler(BaseSampler):
    """A DE-family sampler with its state in the study's storage.

    Args:
        algorithm: one of :data:`autodehypo.algorithms.ALGORITHMS`; ``None`` takes autodehypo's
            default search, as a study that names none: with ``n_trials``, ``lshade`` with
            ``prescreen=32``, ``surrogate="gp"`` and ``cost_weight=0.8`` with ``cost_cooling``
            (falling to 0 over ``n_trials``; not the study's
            ``screen_start``: the sampler asks each generation whole, so the initial population
            is drawn before any value is told); without, ``de`` with
            ``prescreen=4`` and ``cost_weight=0.4``; for a study with several objectives,
            ``gde3-shade`` with ``prescreen=32``, ``mutation="current-to-pbest/1"``, ``p=0.5``,
            ``redraws=8`` and ``redraw_below=0.01``, and for three or more ``pruning="hypervolume"``
            too. A study started by another algorithm keeps it.
        population: population size; ``None`` takes the algorithm's default for
            hyperparameter search, as a study does.
        seed: seed of the optimizer. ``None`` draws one from the study (its name and its first
            trial's start time), so that every process on the study draws the same one.
        n_trials: the evaluation budget, in rows of the DE's generations (the ``n_trials`` you
            give ``study.optimize``, see :meth:`remaining_trials`). L-SHADE, jSO and DISH need
            it: their population and parameters follow the budget spent. Once it is all out, a
            new trial is pruned before it trains and ``study.optimize`` stops.
        search_space: ``{name: distribution}`` to search from the first trial on. Without it,
            the space is the distributions of the study's first complete trial (in the order
            they were suggested), and the trials before it are sampled at random. Either way
            it is stored in the study and fixed from then on (a static define-by-run space).
        failure_value: the value a failed trial is told (in the study's direction; a sequence
            with several objectives); ``None``: the worst value so far.
        reask_after: seconds after which a running trial of a generation's last rows is
            presumed dead and its row asked again, where the storage has no heartbeat;
            ``None``: three times the longest finished trial, at least 5 s.
        **options: the algorithm's own options (see
            :func:`autodehypo.algorithms.algorithm_options`). With ``prescreen`` and
            ``cost_weight``, the cost weighed is each trial's run time (Optuna records no energy).

    Raises:
        ValueError: an unknown algorithm or option, or an algorithm that needs ``n_trials``.
    """

    def __init__(self, algorithm: str | None = None, population: int | None = None, seed: int | None = None,
                 *, n_trials: int | None = None, search_space: dict[str, BaseDistribution] | None = None,
                 failure_value: float | Sequence[float] | None = None, reask_after: float | None = None,
                 **options: Any):
        self._default_search = algorithm is None
        self._default_options: dict[str, Any] | None = None  # the default search's own options
        if algorithm is None:
            algorithm, self._default_options = search_of({"budget": {"evaluations": n_trials}} if n_trials else {})
            # The sampler asks each generation whole: the start is drawn before any value is told,
            # so a screened start would change nothing but the draws.
            self._default_options.pop("screen_start", None)
            options = {**self._default_options, **options}
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {sorted(ALGORITHMS)}")
        unknown = sorted(set(options) - set(algorithm_options(algorithm)))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for algorithm {algorithm!r}; "
                             f"allowed: {sorted(algorithm_options(algorithm))}")
        if reask_after is not None and not reask_after > 0:
            raise ValueError(f"reask_after must be a positive number of seconds, got {reask_after!r}")
        self._algorithm, self._population, self._seed = algorithm, population, seed
        self._n_trials, self._options = n_trials, dict(options)
        self._failure_value = (None if failure_value is None else float(failure_value)
                               if np.ndim(failure_value) == 0 else [float(v) for v in failure_value])
        self._reask_after = reask_after
        self._search_space = None if search_space is None else relative_distributions(search_space)
        _check_settings(self._settings(seed=0))
        self._random = RandomSampler(seed=seed)
        self._created = datetime.now()  # Optuna's trial times are naive local times
        # One lock per sampler: the threads of study.optimize(n_jobs=...) share it while they
        # claim rows; it is released while a trial waits for its generation to complete.
        self._lock = threading.Lock()
        self._asked_here = threading.local()  # numbers of trials this thread asked and has not seen told
        self._warned_budget = False
        # Per (storage, study, generation): the optimizer with that generation asked, and its
        # points. Both follow from the stored state; this only saves recomputing them.
        self._asked: dict[tuple, tuple[Any, np.ndarray]] = {}

    def remaining_trials(self, study: optuna.Study) -> int:
        """Trials left in the budget: ``n_trials`` less the rows that have a result. Trials of a
        killed process (still RUNNING) are not counted, so a restarted study spends exactly the
        budget: ``study.optimize(objective, n_trials=sampler.remaining_trials(study))``."""
        if self._n_trials is None:
            raise ValueError("remaining_trials() needs the sampler's n_trials")
        storage = _storage_of(study)
        attrs = storage.get_study_system_attrs(_study_id(study))
        config = attrs.get(CONFIG_KEY)
        last = _last_generation(attrs)
        if config is None or config["n_trials"] is None or last is None:
            return self._n_trials
        told = int(attrs[GENERATION_KEY.format(last)]["optimizer"]["evaluations"])
        trials = storage.get_all_trials(_study_id(study), deepcopy=False)
        rows = _trials_by_row(trials, last, _digest(config))
        retried = _retried(trials)
        done = told + sum(_first_finished(ts, retried) is not None for ts in rows.values())
        return max(0, int(config["n_trials"]) - done)

    # -- Optuna's sampler interface -------------------------------------------------
    def reseed_rng(self) -> None:
        # Only the random fallback: the optimizer's generator is part of the stored state.
        self._random.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        # Called from study.ask(), outside the objective's `catch`: a wrong kind of study stops
        # study.optimize at its first trial instead of failing every trial quietly.
        several = len(study.directions) > 1
        refusal = None
        if several and self._algorithm not in MULTI_OBJECTIVE and not self._default_search:
            refusal = (f"DESampler({self._algorithm!r}) optimizes one objective; this study has "
                       f"{len(study.directions)}: choose one of {MULTI_OBJECTIVE}")
        elif not several and self._algorithm in MULTI_OBJECTIVE:
            refusal = (f"DESampler({self._algorithm!r}) needs a study with several objectives "
                       "(optuna.create_study(directions=[...]))")
        if refusal is not None:
            # The storage already holds the new trial: close it rather than leave it RUNNING.
            _storage_of(study).set_trial_state_values(_trial_id(trial), state=TrialState.FAIL)
            raise ValueError(refusal)
        asked = getattr(self._asked_here, "numbers", None)
        if asked:
            # Those told by now are no longer this thread's own; the storage says which.
            storage = _storage_of(study)
            self._asked_here.numbers = {n for n in asked if not storage.get_trial(
                storage.get_trial_id_from_study_id_trial_number(_study_id(study), n)).state.is_finished()}

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        config = _storage_of(study).get_study_system_attrs(_study_id(study)).get(CONFIG_KEY)
        if config is not None:
            return {name: json_to_distribution(d) for name, d in config["space"]}
        if self._search_space is not None:
            return dict(self._search_space)
        first = next(iter(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))), None)
        return {} if first is None else relative_distributions(first.distributions)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space or "fixed_params" in trial.system_attrs:
            return {}
        config = self._config(study, search_space)
        slot = self._take_slot(study, trial, config)
        if slot is None:
            if not self._warned_budget:
                self._warned_budget = True
                warnings.warn(f"DESampler: the budget of {config['n_trials']} trials is spent or all out; "
                              "a new trial is pruned before it trains and study.optimize stops", stacklevel=2)
            try:
                study.stop()
            except RuntimeError:
                pass  # ask-and-tell, outside study.optimize: the caller sees the pruned trial
            raise optuna.TrialPruned(f"DESampler: nothing of the budget of {config['n_trials']} trials is "
                                     "left to train")
        generation, row, point = slot
        space = space_from_distributions(
            {name: json_to_distribution(d) for name, d in config["space"]}, config["encoding"])
        return space.decode(point)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    # -- the stored configuration ---------------------------------------------------
    def _settings(self, dim: int | None = None, seed: int | None = None) -> dict[str, Any]:
        population = self._population
        if population is None and dim is not None:
            population = ALGORITHMS[self._algorithm].default_population(dim)
        return {"algorithm": self._algorithm, "population": population,
                "seed": self._seed if seed is None else seed, "n_trials": self._n_trials,
                "options": self._options, "failure_value": self._failure_value, "encoding": ENCODING_VERSION}

    def _config(self, study: optuna.Study, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        storage, study_id = _storage_of(study), _study_id(study)
        stored = storage.get_study_system_attrs(study_id).get(CONFIG_KEY)
        if self._search_space is not None:
            search_space = self._search_space
        dim = space_from_distributions(search_space).dim
        mine = self._settings(dim)
        if stored is None and self._default_search and len(study.directions) > 1:
            algorithm, options = search_of({"objectives": study.directions})
            mine.update(algorithm=algorithm, options=options,
                        population=ALGORITHMS[algorithm].default_population(dim))
        mine["space"] = [[name, distribution_to_json(d)] for name, d in search_space.items()]
        mine["objectives"] = len(study.directions)
        if stored is None:
            if mine["seed"] is None:
                mine["seed"] = _study_seed(study)
            _check_settings(mine)
            storage.set_study_system_attr(study_id, CONFIG_KEY, mine)
            # Read back: a process that wrote at the same moment may have been last.
            return storage.get_study_system_attrs(study_id)[CONFIG_KEY]
        # Settings left to the study (None) take the stored ones; the rest must agree.
        given = {"n_trials", "failure_value"}
        if self._options != self._default_options:  # an algorithm named, or options beyond the default's
            given |= {"algorithm", "options"}
        given |= {k for k, v in (("population", self._population), ("seed", self._seed)) if v is not None}
        if self._search_space is not None:
            given.add("space")
        differs = sorted(k for k in given if json.dumps(mine[k]) != json.dumps(stored.get(k)))
        if differs:
            raise ValueError("this study was started by a DESampler with other settings: "
                             + ", ".join(f"{k}={stored.get(k)!r} (here {mine[k]!r})" for k in differs))
        return stored

    # -- generations and rows -------------------------------------------------------
    def _take_slot(self, study: optuna.Study, trial: FrozenTrial,
                   config: dict[str, Any]) -> tuple[int, int, np.ndarray] | None:
        storage = _storage_of(study)
        pause = _POLL_S[0]
        while True:
            with self._lock:
                current = self._current_generation(study, config)
                if current is None:
                    return None
                generation, opt, points, trials = current
                row = self._choose_row(study, trial, config, generation, len(points), trials)
                if row is None and config["n_trials"] is not None \
                        and opt.evaluations + len(points) >= config["n_trials"]:
                    return None  # the last rows of the budget are all out: nothing left to train
                if row is not None:
                    slot = [generation, row, _digest(config), *_WORKER]
                    storage.set_trial_system_attr(_trial_id(trial), SLOT_KEY, slot)
                    if any(t.number != trial.number and t.state == TrialState.RUNNING
                           and not t.system_attrs.get(SLOT_KEY) for t in trials):
                        # Others are choosing too: let a claim written at the same moment land
                        # before reading the claims back (no storage compares and sets).
                        time.sleep(_SETTLE_S)
                    if not self._lost_claim(study, trial, config, generation, row):
                        numbers = getattr(self._asked_here, "numbers", set())
                        self._asked_here.numbers = numbers | {trial.number}
                        return generation, row, points[row]
                    storage.set_trial_system_attr(_trial_id(trial), SLOT_KEY, None)  # withdrawn
                    continue
            if _heartbeat(storage):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # fail_stale_trials is marked experimental
                    optuna.storages.fail_stale_trials(study)
            time.sleep(pause)
            pause = min(_POLL_S[1], pause * 1.5)

    def _current_generation(self, study: optuna.Study, config: dict[str, Any]
                            ) -> tuple[int, Any, np.ndarray, list[FrozenTrial]] | None:
        """The first generation with a row lacking a result (told generations before it are
        stored on the way), the optimizer that asked it, its points and the study's trials; None
        once the budget is spent."""
        storage, study_id = _storage_of(study), _study_id(study)
        digest = _digest(config)
        attrs = storage.get_study_system_attrs(study_id)
        first = attrs.get(GENERATION_KEY.format(0))
        if first is None or first.get("config", digest) != digest:
            opt = _optimizer(config)
            storage.set_study_system_attr(study_id, GENERATION_KEY.format(0),
                                          {"optimizer": opt.state_dict(), "worst": None, "config": digest})
            self._asked.clear()
            attrs = storage.get_study_system_attrs(study_id)
        generation = _last_generation(attrs)
        trials = storage.get_all_trials(study_id, deepcopy=False)
        retried = _retried(trials)
        first_unfinished = generation
        while True:
            record = attrs[GENERATION_KEY.format(generation)]
            opt, points = self._asked_generation(study, config, generation, record)
            if not len(points):
                return None
            by_row = _trials_by_row(trials, generation, digest)
            winners = [_first_finished(by_row.get(row, []), retried) for row in range(len(points))]
            if any(w is None for w in winners):
                if generation > first_unfinished:
                    # Telling took a while (a model may have been fitted): others may have
                    # claimed rows of the new generation since the trials were read.
                    trials = storage.get_all_trials(study_id, deepcopy=False)
                return generation, opt, points, trials
            told, worst = _told_values(study, config, record, winners)
            opt.tell_generation(told, [_duration(w) for w in winners])
            self._asked.pop(_cache_key(study, generation), None)
            generation += 1
            storage.set_study_system_attr(study_id, GENERATION_KEY.format(generation),
                                          {"optimizer": opt.state_dict(), "worst": worst, "config": digest})
            attrs = storage.get_study_system_attrs(study_id)

    def _choose_row(self, study: optuna.Study, trial: FrozenTrial, config: dict[str, Any], generation: int,
                    rows: int, trials: Sequence[FrozenTrial]) -> int | None:
        """A row for ``trial``: a free one, else one this trial may ask again, else None (wait)."""
        by_row = _trials_by_row(trials, generation, _digest(config), exclude=trial.number)
        retried = _retried(trials)
        live = {row: [t for t in by_row.get(row, []) if _live(t, retried)] for row in range(rows)}
        free = [row for row in range(rows) if not live[row]
                and _first_finished(by_row.get(row, []), retried) is None]
        if free:
            # Trials created before this one that have not claimed yet are choosing now: let
            # them have the lowest rows (sequentially there are none, and this is the lowest).
            choosing = sum(1 for t in trials if t.number < trial.number and t.state == TrialState.RUNNING
                           and SLOT_KEY not in t.system_attrs and "fixed_params" not in t.system_attrs)
            return free[choosing % len(free)]
        unfinished = [row for row in range(rows) if _first_finished(by_row.get(row, []), retried) is None]
        for row in sorted(unfinished, key=lambda r: (len(by_row.get(r, [])), r)):
            waiting = [t for t in live[row] if t.state == TrialState.WAITING]
            if waiting and len(waiting) == len(live[row]) and self._supersede(study, trial, waiting):
                return row
            if all(self._may_ask_again(study, t, trials) for t in live[row]):
                return row
        return None

    def _may_ask_again(self, study: optuna.Study, holder: FrozenTrial, trials: Sequence[FrozenTrial]) -> bool:
        if holder.number in getattr(self._asked_here, "numbers", set()):
            return True  # asked by this thread and not told: it cannot finish while we wait
        if holder.state != TrialState.RUNNING or holder.datetime_start is None:
            return False
        if _heartbeat(_storage_of(study)):
            return False  # the storage fails it, and its retry callback queues it again
        alive = _worker_alive(holder.system_attrs.get(SLOT_KEY))
        if alive is not None:  # its process ran on this machine: we know
            return not alive
        durations = [d for t in trials if t.state.is_finished() and (d := _duration(t)) is not None]
        age = (datetime.now() - holder.datetime_start).total_seconds()
        if self._reask_after is not None:
            return age > self._reask_after
        if not durations:
            return holder.datetime_start < self._created
        return age > max(REASK_FLOOR_S, _LONGEST_FACTOR * max(durations))

    def _supersede(self, study: optuna.Study, trial: FrozenTrial, waiting: Sequence[FrozenTrial]) -> bool:
        """Take a row's queued retries out of the queue (atomically: no worker has started them)
        so that ``trial`` evaluates the row instead of waiting for a worker to pick them up."""
        storage = _storage_of(study)
        for t in waiting:
            try:
                if not storage.set_trial_state_values(_trial_id(t), state=TrialState.RUNNING):
                    return False
            except optuna.exceptions.UpdateFinishedTrialError:
                return False
            storage.set_trial_system_attr(_trial_id(t), SUPERSEDED_KEY, trial.number)
            storage.set_trial_state_values(_trial_id(t), state=TrialState.FAIL)
        return True

    def _lost_claim(self, study: optuna.Study, trial: FrozenTrial, config: dict[str, Any],
                    generation: int, row: int) -> bool:
        """Whether another trial claimed the same row at the same moment and keeps it: one that
        finished already, or a live lower-numbered one."""
        trials = _storage_of(study).get_all_trials(_study_id(study), deepcopy=False)
        retried = _retried(trials)
        rivals = _trials_by_row(trials, generation, _digest(config), exclude=trial.number).get(row, [])
        return any(_first_finished([t], retried) is not None
                   or (t.number < trial.number and _live(t, retried) and not self._may_ask_again(study, t, trials))
                   for t in rivals)

    def _asked_generation(self, study: optuna.Study, config: dict[str, Any], generation: int,
                          record: dict[str, Any]) -> tuple[Any, np.ndarray]:
        key = _cache_key(study, generation)
        if key not in self._asked:
            opt = _optimizer(config)
            opt.load_state_dict(record["optimizer"])
            self._asked = {k: v for k, v in self._asked.items() if k[:2] != key[:2]}  # keep one per study
            self._asked[key] = (opt, opt.ask_generation())
        return self._asked[key]


# -- Optuna's private names, in one place (see the module docstring) ---------------------
def _storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    return study._storage


def _study_id(study: optuna.Study) -> int:
    return study._study_id


def _trial_id(trial: FrozenTrial) -> int:
    return trial._trial_id


def _heartbeat(storage: optuna.storages.BaseStorage) -> bool:
    interval = getattr(storage, "get_heartbeat_interval", None)
    return interval is not None and interval() is not None


# -- pure helpers ----------------------------------------------------------------------
def _optimizer(config: dict[str, Any]):
    space = space_from_distributions({name: json_to_distribution(d) for name, d in config["space"]},
                                     config["encoding"])
    opt = make_optimizer(config["algorithm"], space.dim, population=config["population"], seed=config["seed"],
                         max_evaluations=config["n_trials"], objectives=config.get("objectives", 1),
                         **config["options"])
    # The model sees each configuration as the point that stands for it, as in a study; repeats
    # are asked (an Optuna sampler cannot skip the objective).
    opt.set_key(None, lambda x: space.encode(space.decode(x)))
    return opt


def _check_settings(settings: dict[str, Any]) -> None:
    """Build the optimizer once, so that settings no study could run fail here, not at a trial."""
    objectives = settings.get("objectives", 2 if settings["algorithm"] in MULTI_OBJECTIVE else 1)
    try:
        make_optimizer(settings["algorithm"], 2, population=settings["population"], seed=settings["seed"],
                       max_evaluations=settings["n_trials"], objectives=objectives, **settings["options"])
    except ValueError as exc:
        if settings["n_trials"] is None and "budget" in str(exc):
            raise ValueError(f"DESampler({settings['algorithm']!r}) needs n_trials=..., the number of "
                             f"trials you will run: {exc}") from None
        raise


def _last_generation(attrs: dict[str, Any]) -> int | None:
    """The newest generation stored (each is written only once its predecessor is)."""
    if GENERATION_KEY.format(0) not in attrs:
        return None
    generation = 0
    while GENERATION_KEY.format(generation + 1) in attrs:
        generation += 1
    return generation


def _digest(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def _cache_key(study: optuna.Study, generation: int) -> tuple:
    return (id(_storage_of(study)), _study_id(study), generation)


def _study_seed(study: optuna.Study) -> int:
    """A seed every process on the study derives alike: the study's name and its first trial's start."""
    storage = _storage_of(study)
    first = storage.get_trial(storage.get_trial_id_from_study_id_trial_number(_study_id(study), 0))
    text = f"{study.study_name}|{first.datetime_start}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def _worker_alive(slot: Sequence | None) -> bool | None:
    """Whether the process that claimed ``slot`` still runs, where this machine can tell: the
    claim names its host, pid and the process's start ("<boot id> <ticks>"); None elsewhere."""
    if slot is None or len(slot) < 6 or slot[3] != _WORKER[0]:
        return None
    if slot[5] is None or _WORKER[2] is None:
        return None  # not Linux: no process identity to compare
    if slot[5].split(" ")[0] != _WORKER[2].split(" ")[0]:
        return False  # claimed before this machine's last boot
    return process_start(int(slot[4])) == slot[5]


def _slot(trial: FrozenTrial, digest: str) -> tuple[int, int] | None:
    slot = trial.system_attrs.get(SLOT_KEY)  # None: a claim withdrawn
    if slot is None or (len(slot) > 2 and slot[2] != digest):  # [g, row] before the digest was kept
        return None
    return int(slot[0]), int(slot[1])


def _trials_by_row(trials: Sequence[FrozenTrial], generation: int, digest: str,
                   exclude: int | None = None) -> dict[int, list[FrozenTrial]]:
    rows: dict[int, list[FrozenTrial]] = {}
    for t in trials:
        slot = _slot(t, digest)
        if slot is not None and slot[0] == generation and t.number != exclude \
                and SUPERSEDED_KEY not in t.system_attrs:
            rows.setdefault(slot[1], []).append(t)
    return rows


def _retried(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of trials that a ``RetryFailedTrialCallback`` retry stands for."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}


def _live(trial: FrozenTrial, retried: set[int]) -> bool:
    return trial.state in (TrialState.RUNNING, TrialState.WAITING) and trial.number not in retried


def _first_finished(trials: Sequence[FrozenTrial], retried: set[int] = frozenset()) -> FrozenTrial | None:
    finished = [t for t in trials if t.state in _FINISHED
                and not (t.state == TrialState.FAIL and t.number in retried)]
    if not finished:
        return None
    return min(finished, key=lambda t: (t.datetime_complete, t.number))


def _duration(trial: FrozenTrial) -> float | None:
    """A trial's run time in seconds: what Optuna records of its cost (for ``cost_weight``)."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _told_values(study: optuna.Study, config: dict[str, Any], record: dict[str, Any],
                 winners: Sequence[FrozenTrial]) -> tuple[list, Any]:
    """The values to tell for a generation's first finished trials, and the worst so far after it
    (one number, or one per objective)."""
    signs = np.array([Direction(d.name.lower()).sign for d in study.directions])
    several = len(signs) > 1
    worst = None if record["worst"] is None else np.array(record["worst"], dtype=float).reshape(len(signs))
    values = []
    for t in winners:
        has_value = t.state == TrialState.COMPLETE or (t.state == TrialState.PRUNED and t.values is not None)
        values.append(signs * np.array(t.values, dtype=float) if has_value else None)
        if t.state == TrialState.COMPLETE:  # the study's tally counts complete trials only
            worst = values[-1] if worst is None else np.maximum(worst, values[-1])
    if config["failure_value"] is not None:
        penalty = signs * np.array(config["failure_value"], dtype=float).reshape(len(signs))
    else:
        penalty = np.full(len(signs), math.inf) if worst is None else worst
    told = [penalty if v is None else v for v in values]
    # JSON has no inf: a worst of +inf (a complete trial that returned inf) is kept as a string.
    stored = None if worst is None else [float(w) if math.isfinite(w) else repr(float(w)) for w in worst]
    if not several:
        return [float(v[0]) for v in told], None if stored is None else stored[0]
    return [list(map(float, v)) for v in told], stored


__all__ = ["CONFIG_KEY", "GENERATION_KEY", "SLOT_KEY", "SUPERSEDED_KEY", "DESampler"]
