"""The study loop with the async schedule: busy workers, failures, kills, and the told order."""

import os

import numpy as np
import pytest

from autodehypo import Study
from autodehypo.storage import COMPLETE, FAILED, Storage
from autodehypo.config import build_search
from conftest import run_killed_at, toy_config


def async_config(algorithm="jde", evaluations=40, workers=3, **extra):
    return toy_config("toy_objectives:uneven_sleep", evaluations=evaluations, population=8,
                      algorithm=algorithm, seed=4, workers=workers,
                      extra_study={"schedule": "async", **extra}, executor={"timeout": 1.5})


def replay(directory):
    """Ask and tell a fresh optimizer in the order the file records; every ask must equal
    the stored trial. This is what "resume continues as an uninterrupted run that saw the
    same order of results" means."""
    study = Study.open(directory)
    cfg, trials = study.config, study.storage.trials()
    study.close()
    opt = build_search(cfg)
    told = sorted((t for t in trials if t.told_seq is not None), key=lambda t: t.told_seq)
    assert [t.told_seq for t in told] == list(range(len(told)))  # each result told once

    def tell(trial):  # several objectives: the vector the optimizer was told
        opt.tell(trial.number, trial.told_values if trial.told_values is not None else trial.told_value)
    done = 0
    for trial in trials:
        while done < trial.asked_after:
            tell(told[done])
            done += 1
        candidate = opt.ask()
        assert candidate.id == trial.number
        np.testing.assert_array_equal(candidate.x, np.asarray(trial.unit, dtype=float))
    for trial in told[done:]:
        tell(trial)
    return opt, trials


def test_async_study_with_failures_and_timeouts_completes(tmp_path):
    study = Study.create(tmp_path / "s", async_config())
    result = study.run()
    trials = study.storage.trials()
    study.close()
    assert result.evaluations == len(trials) == 40
    assert {t.status for t in trials} <= {COMPLETE, FAILED}
    failed = [t for t in trials if t.status == FAILED]
    assert failed and all(t.params["x0"] > 0.93 or t.params["x1"] < 0.05 for t in failed)
    assert any("timed out after 1.5 s" in (t.error or "") for t in failed)  # the start has x0 > 0.93
    # Asked ahead of earlier results: some trial was asked before an older one was told.
    assert any(t.asked_after < max(u.told_seq for u in trials if u.number < t.number)
               for t in trials if t.number > 8)
    opt, _ = replay(tmp_path / "s")
    assert opt.evaluations == 40 and opt.pending_ids() == []
    completed = [t.value for t in trials if t.status == COMPLETE]
    assert result.best_value == min(completed) < np.median(completed[:8])


def test_generational_study_records_the_same_order(tmp_path):
    """The generational loop stores its ask/tell order too; replaying it gives the same trials."""
    config = toy_config("toy_objectives:uneven_sleep", evaluations=24, population=6, seed=2,
                        executor={"timeout": 1.5})
    study = Study.create(tmp_path / "g", config)
    study.run()
    study.close()
    opt, trials = replay(tmp_path / "g")
    assert opt.generation == 4 and [t.generation for t in trials] == [g for g in range(4) for _ in range(6)]


def test_async_study_refuses_an_algorithm_that_cannot(tmp_path):
    from autodehypo.config import ConfigError
    with pytest.raises(ConfigError, match="study.schedule: spsrdemms runs only with the generational"):
        Study.create(tmp_path / "s", async_config(algorithm="spsrdemms"))
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_async_sigkill_at_random_moments_then_resume(tmp_path, subprocess_env):
    env = {**subprocess_env, "TOY_SLEEP_SCALE": "1"}
    config = tmp_path / "c.toml"
    config.write_text('[study]\nalgorithm = "shade"\nseed = 9\npopulation = 6\nschedule = "async"\n'
                      '[study.budget]\nevaluations = 45\n'
                      '[space.x0]\ntype = "float"\nlow = 0.0\nhigh = 0.9\n'
                      '[space.x1]\ntype = "float"\nlow = 0.1\nhigh = 1.0\n'
                      '[objective]\ntype = "python"\nfunction = "toy_objectives:uneven_sleep"\n'
                      '[executor]\nworkers = 3\n')
    directory = tmp_path / "killed"
    rng = np.random.default_rng(int(os.environ.get("KILL_SEED", "14")))
    kills = run_killed_at(config, directory, env, rng.uniform(0.1, 1.2, size=7))
    assert kills >= 3
    opt, trials = replay(directory)
    assert len(trials) == 45 and all(t.status == COMPLETE for t in trials)
    assert opt.evaluations == 45
    storage = Storage.open(directory, readonly=True)
    assert storage.meta("state") == "finished"
    storage.close()
