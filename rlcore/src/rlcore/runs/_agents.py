"""Agents and a project's registry of them: what the entry points train, by name.

An :class:`Agent` is a name, a config type (a subclass of :class:`rlcore.runs.RunConfig`), a
``train(config, *, resume=False)`` function, the agent's tuned defaults per env and the builder
of its evaluation policy (what the evaluate command loads a checkpoint into); a project's
:class:`Registry` holds its agents and its project-wide defaults (logger, W&B project).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic

from rlcore.runs._config import ConfigT, RunConfig, config_for_env, tuned_for
from rlcore.runs._evaluations import Policy
from rlcore.runs._fields import check_names, config_fields

__all__ = ["Agent", "Registry"]


@dataclass(frozen=True)
class Agent(Generic[ConfigT]):
    """An agent as the entry points see it: a name, its config type, its training function.

    Attributes:
        name: the short name on the command line (``ppo``) and in ``config.json``'s ``algo``.
        config_type: its config dataclass, a subclass of :class:`RunConfig`.
        train: ``train(config, *, resume=False) -> summary``, the summary of
            :meth:`rlcore.runs.Run.finish`.
        env_defaults: tuned hyperparameters per env id, applied over the config's defaults; a key
            may be a pattern of ids (``"ALE/*"``, :func:`rlcore.runs.tuned_for`).
        policy: ``policy(config, envs, device) -> (networks, act)``: builds the networks of a
            run of ``config`` for the vector env ``envs`` on ``device`` (``networks``, by the
            names ``train`` registers them under with :meth:`rlcore.runs.Run.start`) and the
            deterministic evaluation policy on them (``act``, a :data:`rlcore.runs.Policy`).
            The evaluate command loads a checkpoint's weights into ``networks`` and runs
            ``act``; ``train`` builds its networks with it too, so that the names agree. None:
            the agent's runs cannot be evaluated from their checkpoints.
    """

    name: str
    config_type: type[ConfigT]
    train: Callable[..., dict[str, Any]]
    env_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    policy: Callable[..., tuple[Mapping[str, Any], Policy]] | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Agent.name must be a Python identifier, got {self.name!r}")
        if not (isinstance(self.config_type, type) and issubclass(self.config_type, RunConfig)):
            raise TypeError(
                f"Agent {self.name!r}: config_type must be a subclass of rlcore.runs.RunConfig, "
                f"got {self.config_type!r}"
            )
        if self.policy is not None and not callable(self.policy):
            raise TypeError(f"Agent {self.name!r}: policy must be callable or None, got {self.policy!r}")
        for env_id, values in self.env_defaults.items():
            check_names(self.config_type, values, f"Agent {self.name!r}: env_defaults[{env_id!r}]")

    def config_for_env(self, env_id: str, **overrides: Any) -> ConfigT:
        """:func:`config_for_env` of this agent: a ``config_type`` (mypy knows which)."""
        return config_for_env(self.config_type, self.env_defaults, env_id, **overrides)


class Registry(Mapping[str, "Agent[Any]"]):
    """A project's agents by name, and its project-wide defaults (logger, W&B project).

    Args:
        agents: the agents; a name may appear once.
        defaults: field values for every agent that has the field, applied under the agent's
            ``env_defaults`` (e.g. ``{"logger": "tensorboard", "wandb_project": "my-project"}``).
    """

    def __init__(self, *agents: Agent[Any], defaults: Mapping[str, Any] | None = None) -> None:
        self._agents: dict[str, Agent[Any]] = {}
        self.defaults: dict[str, Any] = dict(defaults or {})
        check_names(RunConfig, self.defaults, "Registry defaults")
        for agent in agents:
            self.register(agent)

    def register(self, agent: Agent[Any]) -> None:
        """Add ``agent``. Raises ValueError if an agent of that name is registered."""
        if not isinstance(agent, Agent):
            raise TypeError(f"Registry.register: expected an rlcore.runs.Agent, got {agent!r}")
        if agent.name in self._agents:
            raise ValueError(f"Registry.register: an agent named {agent.name!r} is registered")
        self._agents[agent.name] = agent

    def unregister(self, name: str) -> None:
        """Remove the agent ``name`` (tests that register a temporary agent)."""
        self[name]  # raises the KeyError that lists the agents
        del self._agents[name]

    def __getitem__(self, name: str) -> Agent[Any]:
        if name not in self._agents:
            known = ", ".join(self._agents) or "none registered"
            raise KeyError(f"no agent named {name!r}; the agents are: {known}")
        return self._agents[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)

    def __repr__(self) -> str:
        return f"Registry({', '.join(self._agents)})"

    def config(self, name: str, env_id: str, **overrides: Any) -> RunConfig:
        """Agent ``name``'s config for ``env_id``: defaults < project defaults < env < overrides."""
        agent = self[name]
        fields = set(config_fields(agent.config_type))
        project = {k: v for k, v in self.defaults.items() if k in fields}
        tuned = {**project, **tuned_for(agent.env_defaults, env_id)}
        config: RunConfig = config_for_env(agent.config_type, {env_id: tuned}, env_id, **overrides)
        return config
