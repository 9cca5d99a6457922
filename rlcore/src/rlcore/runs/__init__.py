"""Run directories as a library: configs, agents, the training run's bookkeeping, the commands.

A project's agent is a config dataclass (a subclass of :class:`RunConfig`: the settings every
run has, with the field checks declared on the fields), a ``train(config, *, resume=False)``
function written around :class:`Run`, its tuned defaults per env and the builder of its
evaluation policy, put together as an :class:`Agent`. The project's :class:`Registry` of agents
feeds its entry points, :func:`train_main` (``python -m <pkg>.train AGENT ...``),
:func:`evaluate_main` (``python -m <pkg>.evaluate RUN_DIR ...``) and ``rlcore.sweep.sweep_main``.
Everything a run writes (``config.json``, ``progress.csv``, checkpoints, ``eval.json``, the
learning curve) and how it resumes bit for bit lives here, tested once, for every project.
"""

from __future__ import annotations

from rlcore._rundir import (
    CHECKPOINT_DIR,
    CONFIG_FILE_COPY,
    CURVE_FILENAME,
    ERROR_FILENAME,
    EVAL_FILENAME,
    RunState,
    checkpoint_step,
    latest_checkpoint,
    read_record,
    run_state,
)
from rlcore.runs._agents import Agent, Registry
from rlcore.runs._cli import PRECEDENCE, build_config, train_main
from rlcore.runs._config import EnvWrapper, RunConfig, config_for_env, tuned_for
from rlcore.runs._config_files import read_config_file, saved_config
from rlcore.runs._envs import check_device, check_env_id, make_envs, per_sub_env, stateful_wrappers
from rlcore.runs._evaluate import evaluate_main, evaluate_run
from rlcore.runs._evaluations import (
    TRAIN_CPU_SECONDS_KEY,
    TRAIN_SECONDS_KEY,
    VIDEO_DIR,
    VIDEO_KEY,
    Policy,
    evaluation_report,
)
from rlcore.runs._fields import (
    AtLeast,
    Between,
    GreaterThan,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    RunSetting,
    UnitFloat,
    check_fields,
    config_fields,
    run_settings,
)
from rlcore.runs._lock import RunLockedError
from rlcore.runs._ranks import launch
from rlcore.runs._record import SEEDING, config_record, git_commit, started_from
from rlcore.runs._resume import default_run_dir, episode_seed
from rlcore.runs._run import EPISODIC_LENGTH_KEY, Run

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE_COPY",
    "CURVE_FILENAME",
    "EPISODIC_LENGTH_KEY",
    "ERROR_FILENAME",
    "EVAL_FILENAME",
    "PRECEDENCE",
    "SEEDING",
    "TRAIN_CPU_SECONDS_KEY",
    "TRAIN_SECONDS_KEY",
    "VIDEO_DIR",
    "VIDEO_KEY",
    "Agent",
    "AtLeast",
    "Between",
    "EnvWrapper",
    "GreaterThan",
    "NonNegativeFloat",
    "NonNegativeInt",
    "Policy",
    "PositiveFloat",
    "PositiveInt",
    "Registry",
    "Run",
    "RunConfig",
    "RunLockedError",
    "RunSetting",
    "RunState",
    "UnitFloat",
    "build_config",
    "check_device",
    "check_env_id",
    "check_fields",
    "checkpoint_step",
    "config_fields",
    "config_for_env",
    "config_record",
    "default_run_dir",
    "episode_seed",
    "evaluate_main",
    "evaluate_run",
    "evaluation_report",
    "git_commit",
    "latest_checkpoint",
    "launch",
    "make_envs",
    "per_sub_env",
    "read_config_file",
    "read_record",
    "run_settings",
    "run_state",
    "saved_config",
    "started_from",
    "stateful_wrappers",
    "train_main",
    "tuned_for",
]
