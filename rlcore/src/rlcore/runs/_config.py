"""The base config: :class:`RunConfig`, the settings every run has, and the config for an env.

An agent's configuration is a frozen dataclass that subclasses :class:`RunConfig` and adds its
hyperparameters. A field's checks are declared once, in its annotation, with
:class:`typing.Annotated` (the aliases :data:`PositiveInt`, :data:`UnitFloat`, ...), and
:meth:`RunConfig.__post_init__` applies them to every field of the subclass; a field marked
:data:`RunSetting` says how a run is executed, not what is learned, so it never splits the seeds
of one experiment into several configurations (``rlcore summarize``, sweeps).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

import gymnasium as gym

from rlcore.distributed import check_settings
from rlcore.runs._fields import (
    AtLeast,
    NonNegativeInt,
    PositiveInt,
    RunSetting,
    check_fields,
    check_names,
)
from rlcore.wrappers.atari import is_atari

__all__ = ["ConfigT", "EnvWrapper", "RunConfig", "config_for_env", "tuned_for"]

ConfigT = TypeVar("ConfigT", bound="RunConfig")
EnvWrapper: TypeAlias = Callable[[gym.Env[Any, Any]], gym.Env[Any, Any]]
"""A single-env wrapper as :meth:`RunConfig.env_wrappers` lists it: ``wrapper(env) -> env``."""


@dataclass(frozen=True)
class RunConfig:
    """The settings every agent's run has; an agent's config dataclass subclasses it.

    Subclasses add their hyperparameters (with defaults) and may redeclare a field here to
    change its default. A subclass that checks more in ``__post_init__`` (a field against
    another) calls ``super().__post_init__()`` first.
    """

    env_id: str = "CartPole-v1"
    """Gymnasium id of the task: a project's own envs register on import (<package>/Name-v0)."""
    seed: NonNegativeInt = 0
    """Base seed of the network, the action sampling, the environments and the buffers."""
    total_timesteps: PositiveInt = 100_000
    """Environment steps to train for (summed over the sub-environments)."""
    num_envs: PositiveInt = 1
    """Parallel sub-environments of the training vector env."""
    max_episode_steps: NonNegativeInt = 0
    """Cut every episode (training, evaluation) after this many steps, a truncation; 0: the env's own limit."""
    terminal_on_life_loss: bool = False
    """Atari games: a lost life ends the training episode (the game goes on; logs count games)."""
    eval_every: NonNegativeInt = 10_000
    """Evaluate every this many environment steps (deterministic policy); 0 turns it off."""
    eval_episodes: PositiveInt = 10
    """Episodes of each periodic evaluation."""
    final_eval_episodes: PositiveInt = 100
    """Episodes of the final evaluation (eval.json)."""
    checkpoint_every: Annotated[int, AtLeast(0), RunSetting] = 50_000
    """Save a checkpoint every this many environment steps (and at the end); 0: only at the end."""
    keep_last: Annotated[int, AtLeast(0), RunSetting] = 3
    """Checkpoints kept, the newest (a resume falls back on the older ones); 0 keeps all."""
    vector_mode: Annotated[Literal["sync", "async"], RunSetting] = "sync"
    """sync: sub-envs stepped in this process; async: one subprocess each (slow envs)."""
    run_dir: Annotated[str | None, RunSetting] = None
    """The run's directory; None: runs/<algo>-<env_id>/seed<seed>-<date>-<time>."""
    logger: Annotated[Literal["csv", "tensorboard", "wandb"], RunSetting] = "csv"
    """Where metrics go besides progress.csv."""
    wandb_project: Annotated[str | None, RunSetting] = None
    """The Weights & Biases project, with logger wandb (None: W&B's default)."""
    wandb_entity: Annotated[str | None, RunSetting] = None
    """The W&B entity (user or team) the run goes to, with logger wandb (None: your default)."""
    wandb_group: Annotated[str | None, RunSetting] = None
    """The W&B group of the run (e.g. one experiment's seeds), with logger wandb."""
    wandb_tags: Annotated[tuple[str, ...], RunSetting] = ()
    """W&B tags of the run, with logger wandb."""
    wandb_name: Annotated[str | None, RunSetting] = None
    """The W&B run's display name (None: the run directory's name), with logger wandb."""
    capture_video: Annotated[bool, RunSetting] = False
    """Record evaluation episodes as MP4 files in run_dir/videos (every evaluation and the final one)."""
    video_episodes: Annotated[int, AtLeast(1), RunSetting] = 1
    """Episodes recorded at each evaluation, with capture_video."""
    progress: Annotated[bool, RunSetting] = True
    """Show rlcore's console progress (steps, steps/s, latest return)."""
    torch_threads: Annotated[int, AtLeast(1), RunSetting] = 1
    """torch.set_num_threads: small networks run fastest on one thread."""
    device: Annotated[str, RunSetting] = "cpu"
    """Torch device of the networks and the minibatches (cpu, cuda, cuda:1, mps)."""
    devices: PositiveInt = 1
    """Processes on each node, one per device (Lightning Fabric); each steps num_envs sub-envs."""
    num_nodes: PositiveInt = 1
    """Machines of the run (started by srun / fabric run / torchrun on each, Lightning Fabric)."""
    strategy: Annotated[str, RunSetting] = "auto"
    """Lightning Fabric's strategy with several devices (auto: DDP; ddp, fsdp, deepspeed, ...)."""
    precision: str = "32-true"
    """Lightning Fabric's precision of the update (32-true; bf16-mixed, 16-mixed on GPUs)."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_settings(self.device, self.devices, self.strategy)
        if self.terminal_on_life_loss and not is_atari(self.env_id):
            raise ValueError(
                f"terminal_on_life_loss: only Atari games (ALE/<Game>-v5) have lives, got env_id {self.env_id!r}"
            )

    def env_wrappers(self) -> tuple[EnvWrapper, ...]:
        """The wrappers of each sub-env, innermost first; none here, an agent's config adds them.

        :func:`rlcore.runs.make_envs` applies them to every sub-env of the training and the
        evaluation envs (``gymnasium.make_vec(..., wrappers=...)``, so in every autoreset mode
        and inside the sub-processes of ``vector_mode="async"``), and so do the env whose
        episodes are recorded and ``evaluate``: all of them see the observations the agent
        learned on. Each item is ``wrapper(env) -> env``: a wrapper class, a
        ``functools.partial`` of one with its arguments (picklable, for async sub-envs), or
        :func:`rlcore.runs.per_sub_env` of a Gymnasium vector observation wrapper. Make them
        depend on this config's fields only, so that a run's ``config.json`` rebuilds them::

            def env_wrappers(self) -> tuple[runs.EnvWrapper, ...]:
                if self.frame_stack == 1:
                    return ()
                return (functools.partial(rlcore.wrappers.FrameStack, num_stack=self.frame_stack),)
        """
        return ()


def tuned_for(env_defaults: Mapping[str, Mapping[str, Any]], env_id: str) -> Mapping[str, Any]:
    """The tuned values of ``env_id`` (``[module:]id``) in ``env_defaults``, ``{}`` if none.

    A key is an env id, or a pattern of ids (:mod:`fnmatch`: ``"ALE/*"`` for every Atari game,
    as rl-baselines3-zoo's ``atari`` entry); the id's own key comes first, then the first pattern
    that matches it.
    """
    name = env_id.split(":", 1)[-1]
    for key in (env_id, name):
        if key in env_defaults:
            return env_defaults[key]
    for key, values in env_defaults.items():
        if any(char in key for char in "*?[") and fnmatch.fnmatchcase(name, key):
            return values
    return {}


def config_for_env(
    config_type: type[ConfigT],
    env_defaults: Mapping[str, Mapping[str, Any]],
    env_id: str,
    **overrides: Any,
) -> ConfigT:
    """The config for ``env_id``: the defaults, then its tuned values (:func:`tuned_for`), then ``overrides``.

    Raises:
        TypeError: if an override names no field of ``config_type``.
        ValueError: if a value breaks a field's declared check.
    """
    check_names(config_type, overrides, "config_for_env")
    return config_type(**{"env_id": env_id, **tuned_for(env_defaults, env_id), **overrides})
