"""autodehypo: energy-aware hyperparameter optimization with Differential Evolution."""

__version__ = "0.1.0"

from .config import ConfigError, load_config, parse_config  # noqa: E402
from .space import Categorical, Float, Int, SearchSpace  # noqa: E402
from .study import Interrupted, Study  # noqa: E402
from .trial_progress import report_progress  # noqa: E402

__all__ = ["Categorical", "ConfigError", "Float", "Int", "Interrupted", "SearchSpace", "Study",
           "load_config", "parse_config", "report_progress", "__version__"]
