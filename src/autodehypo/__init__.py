"""autodehypo: energy-aware hyperparameter optimization with Differential Evolution."""

__version__ = "0.1.0"

# Imported on first use: `autodehypo` and `python -m autodehypo` import this package before
# anything can catch a Ctrl-C, so it must not import numpy and the algorithms itself.
_EXPORTS = {"ConfigError": "config", "load_config": "config", "parse_config": "config",
            "Categorical": "space", "Float": "space", "Int": "space", "SearchSpace": "space",
            "Interrupted": "study", "Study": "study", "report_progress": "trial_progress"}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'autodehypo' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["Categorical", "ConfigError", "Float", "Int", "Interrupted", "SearchSpace", "Study",
           "load_config", "parse_config", "report_progress", "__version__"]
