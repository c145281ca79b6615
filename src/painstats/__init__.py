"""painstats: statistics of exercise-for-pain research.

Subpackages: :mod:`painstats.meta` (effect sizes, random-effects meta-analysis,
meta-regression, subgroups), :mod:`painstats.trials` and :mod:`painstats.doseresp`;
:mod:`painstats.datasets` loads the bundled published datasets.
"""

from painstats import datasets, meta
from painstats.errors import (
    ConvergenceError,
    InputTypeError,
    PainstatsError,
    PainstatsWarning,
    ValidationError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "meta",
    "datasets",
    "PainstatsError",
    "ValidationError",
    "InputTypeError",
    "ConvergenceError",
    "PainstatsWarning",
    "__version__",
]
