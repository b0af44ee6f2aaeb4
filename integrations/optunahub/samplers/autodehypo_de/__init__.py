"""OptunaHub entry point: the sampler lives in the autodehypo package (requirements.txt)."""

from autodehypo.integrations.optuna import DESampler


__all__ = ["DESampler"]
