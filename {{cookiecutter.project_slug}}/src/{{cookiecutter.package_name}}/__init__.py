"""{{ cookiecutter.package_name }}: reinforcement-learning experiments built on rlcore.

* ``config``: the experiment configuration (the TOML files in ``configs/``).
* ``envs``: ``make_env``, a Gymnasium env wrapped with rlcore's wrappers.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
