{%- set package = cookiecutter.package_name -%}
{#- The project's env (custom_env): id, module, class, time limit; custom_env=none prunes this file. -#}
{%- set point_mass = ["PointMass-v0", "point_mass", "PointMassEnv", 200] -%}
{%- set env = {"pybullet": ["CartPoleBullet-v0", "cartpole_bullet", "CartPoleBulletEnv", 500]}.get(cookiecutter.custom_env, point_mass) -%}
"""The project's environments, registered with Gymnasium when the package is imported.

A new env is three steps:

1. Write it: a ``gymnasium.Env`` subclass in a module of this folder.
   ``{{ env[1] }}.py`` is the pattern to copy: its spaces, seeding, terminated versus truncated,
   rendering, ``close`` and the type parameters that strict mypy checks.
2. Register it here: one more line in ``REGISTRATIONS``, ``(id, "module:Class",
   max_episode_steps)``. The id carries the package's name, ``{{ package }}/Name-v0``; the
   time limit wraps the env in ``TimeLimit``, which truncates its episodes. The entry point is
   a string: Gymnasium imports the module only when the env is made (so that importing the
   package stays cheap and needs no optional dependency), and strict mypy accepts it (a class
   is not the ``EnvCreator`` protocol, ``(**kwargs: Any) -> Env``, that ``gymnasium.register``
   types its callables with).
3. Train on it::

       python -m {{ package }}.train ppo --env-id {{ package }}/Name-v0

Gymnasium 1.x no longer loads environment plugins from package entry points: an id exists
once the module that registers it is imported. The package's ``__init__.py`` imports this
module, so every entry point (``train``, ``sweep``, ``evaluate``), every agent's module, and
with them the worker processes of async vector envs and of Ray, see the ids. Registering again
(a re-import, ``importlib.reload``) leaves an id that is already registered as it is.

Example:
    >>> import gymnasium as gym
    >>> import {{ package }}
    >>> gym.spec("{{ package }}/{{ env[0] }}").max_episode_steps
    {{ env[3] }}
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["REGISTRATIONS"]

#: ``(id, entry point, max_episode_steps)`` of each of the project's envs.
REGISTRATIONS: tuple[tuple[str, str, int | None], ...] = (
    ("{{ package }}/{{ env[0] }}", "{{ package }}.envs.{{ env[1] }}:{{ env[2] }}", {{ env[3] }}),
)

for _env_id, _entry_point, _max_episode_steps in REGISTRATIONS:
    # Gymnasium warns when an id is registered again.
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_episode_steps)
