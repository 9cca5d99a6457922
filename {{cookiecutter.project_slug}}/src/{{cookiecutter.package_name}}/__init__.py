"""{{ cookiecutter.package_name }}: reinforcement-learning experiments built on rlcore.

* ``agents``: the registry of the project's agents, one file each.
* ``train`` / ``sweep``: the command lines (``python -m {{ cookiecutter.package_name }}.train --help``).
{%- if cookiecutter.custom_env != "none" %}
* ``envs``: the project's environments, which importing the package registers.
{%- endif %}
"""

from __future__ import annotations
{%- if cookiecutter.custom_env != "none" %}

# Importing any module of the package registers the project's envs (envs/__init__.py): their
# ids work in train, sweep and evaluate, and in every process that imports an agent's module
# (the workers of async vector envs and of Ray).
from {{ cookiecutter.package_name }} import envs
{%- endif %}

__version__ = "0.1.0"

__all__ = ["__version__"{{ ', "envs"' if cookiecutter.custom_env != "none" }}]
