"""Runs the sampler from this folder as OptunaHub would load it (python example.py, from here)."""

from __future__ import annotations

from pathlib import Path

import optuna
import optunahub


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 8)
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
    return (lr - 0.01) ** 2 + (layers - 3) ** 2 / 10 + (optimizer != "adam")


module = optunahub.load_local_module(package="samplers/autodehypo_de",
                                     registry_root=str(Path(__file__).resolve().parents[2]))
# Once registered: module = optunahub.load_module(package="samplers/autodehypo_de")
sampler = module.DESampler("jso", seed=0, n_trials=60)
study = optuna.create_study(sampler=sampler)
study.optimize(objective, n_trials=60)
print(study.best_params)
