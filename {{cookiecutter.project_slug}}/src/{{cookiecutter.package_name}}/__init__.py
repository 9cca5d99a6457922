"""{{ cookiecutter.package_name }}: reinforcement-learning experiments built on rlcore.

* ``agents``: the registry of the project's agents, one file each.
* ``train`` / ``sweep``: the command lines (``python -m {{ cookiecutter.package_name }}.train --help``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
