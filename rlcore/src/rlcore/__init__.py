"""rlcore: trusted building blocks for PyTorch reinforcement-learning research.

The public names are listed in ``__all__`` below; import them from ``rlcore`` or from the
public submodules (``rlcore.wrappers``, ``rlcore.nn``, ...). Names that start with an
underscore are private and may change in any release.
"""

from __future__ import annotations

__version__ = "0.1.0"

from rlcore.deprecation import RLCoreDeprecationWarning
from rlcore.stats import RunningMeanStd

__all__ = [
    "RLCoreDeprecationWarning",
    "RunningMeanStd",
    "__version__",
]
