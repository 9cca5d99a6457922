"""The sweep command of a project: ``sys.exit(sweep_main(AGENTS, prog="python -m <pkg>.sweep"))``.

::

    # 5 seeds x 2 learning rates x 2 batch sizes = 20 trials, one per CPU of this machine
    python -m <pkg>.sweep ppo --name lr-batch --seeds 0-4 \\
        --set learning_rate=3e-4,1e-3 --set batch_size=64,256 --total-timesteps 50000

    # the same on a running Ray cluster (e.g. started inside a SLURM job)
    python -m <pkg>.sweep ppo --address auto --name lr-batch ...

The grid is every combination of the ``--set`` values (each read by tyro as its config field's
type) times the ``--seeds``. Every other option is the agent's, as the train command reads it
(:func:`rlcore.runs.build_config`: ``--config FILE.toml`` and ``--field value`` flags over the
project's defaults and the agent's tuned values for ``--env-id``, for each env when ``env_id``
is swept), and applies to every trial.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlcore.runs import Registry, RunConfig, build_config, read_config_file
from rlcore.sweep._grid import FIELDS_SET_BY_THE_SWEEP, parse_seeds, parse_set
from rlcore.sweep._options import (
    CPUS_PER_TRIAL,
    GPUS_PER_TRIAL,
    MAX_CONCURRENT,
    NUM_CPUS,
    PROGRESS_EVERY,
    cluster_address,
    metric_key,
    sweep_name,
)
from rlcore.sweep._runner import run_sweep
from rlcore.sweep._trials import make_trials, safe_name, trial_run_settings

__all__ = ["build_parser", "flag_given", "sweep_main"]

# The errors a user causes (a bad option, value, config file, agent name, run directory or a
# missing Ray); anything else is a bug and keeps its traceback.
_USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, ImportError)


def flag_given(argv: Sequence[str], field: str) -> bool:
    """Whether the agent's options ``argv`` set ``field`` (``--a-b``, ``--a_b``, ``--no-a-b``).

    >>> flag_given(["--total-timesteps", "512", "--no-progress"], "progress")
    True
    """
    dashed = field.replace("_", "-")
    flags = {f"--{field}", f"--{dashed}", f"--no-{dashed}", f"--no_{field}"}
    return any(arg.split("=", 1)[0] in flags for arg in argv)


def build_parser(registry: Registry, prog: str) -> argparse.ArgumentParser:
    """The sweep's own options; the rest of the command line is the agent's."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train an agent on a grid of seeds x configurations on Ray, one trial per "
        "CPU by default, then summarise across seeds. Any option not listed here is the agent's "
        "(--config FILE.toml, --FIELD VALUE; see the train command's AGENT --help) and applies "
        "to every trial.",
        allow_abbrev=False,  # else the agent's --seed would be read as --seeds
    )
    add = parser.add_argument
    add("algo", nargs="?", metavar="AGENT", help=f"the agent: {', '.join(registry) or 'none registered'}")
    add(
        "--name",
        type=sweep_name,
        help="the sweep's directory in --runs-dir (default: sweep-<agent>-<env_id>)",
    )
    add("--runs-dir", type=Path, default=Path("runs"), help="the sweeps' folder (default: runs)")
    add("--seeds", default="0-4", help="the seeds: 0-4, 0,3,7 or 0-2,10; at most 10000 (default: 0-4)")
    add(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="a config field and its values in the grid, read as the field's flag reads them "
        "(repeatable; lists in brackets: hidden_sizes=[64,64],[32])",
    )
    add(
        "--address",
        type=cluster_address,
        help="a running Ray cluster to use: auto or HOST:PORT (default: start Ray here)",
    )
    add("--num-cpus", type=NUM_CPUS, help="CPUs of the Ray started here (default: all)")
    add(
        "--cpus-per-trial",
        type=CPUS_PER_TRIAL,
        default=1.0,
        help="CPUs held by each trial (default: 1); also its torch threads unless set",
    )
    add(
        "--gpus-per-trial",
        type=GPUS_PER_TRIAL,
        default=0.0,
        help="GPUs held by each trial, e.g. 0.25 (default: 0); with GPUs, device defaults to cuda",
    )
    add("--max-concurrent", type=MAX_CONCURRENT, help="at most this many trials at once")
    add(
        "--in-process",
        action="store_true",
        help="run the trials one after another in this process, without Ray (to debug a trial)",
    )
    add("--progress-every", type=PROGRESS_EVERY, default=10.0, help="seconds between progress lines")
    add("--verbose", action="store_true", help="show the trials' own output")
    add("--key", type=metric_key, help="the metric summarised (default: eval/mean_return)")
    return parser


def _given_fields(config_type: type[Any], agent_argv: Sequence[str], config_file: Path | None) -> set[str]:
    """The fields the agent's options and the config file set."""
    given = {field.name for field in dataclasses.fields(config_type) if flag_given(agent_argv, field.name)}
    if config_file is not None:
        given |= set(read_config_file(config_file, config_type)) - {"algo"}
    return given


def _sweep(registry: Registry, args: argparse.Namespace, agent_argv: list[str], prog: str) -> int:
    if args.algo is None or args.algo not in registry:
        named = "" if args.algo is None else f"no agent named {args.algo!r}; "
        raise ValueError(
            f"{named}name the agent first: {prog} AGENT --name NAME ... "
            f"(agents: {', '.join(registry) or 'none registered'})"
        )
    for field, use in (*FIELDS_SET_BY_THE_SWEEP.items(), ("resume", "the same command again")):
        if flag_given(agent_argv, field):
            raise ValueError(f"the sweep sets each trial's {field}; use {use}")
    agent = registry[args.algo]
    seeds = parse_seeds(args.seeds)
    grid = parse_set(args.assignments, agent.config_type)
    both = [field for field in grid if flag_given(agent_argv, field)]
    if both:
        raise ValueError(f"{both} both swept (--set) and fixed (an agent option); give each once")
    _, default, _, config_file = build_config(registry, [agent.name, *agent_argv], prog=prog)
    given = set(grid) | _given_fields(agent.config_type, agent_argv, config_file)
    settings = trial_run_settings(
        agent.config_type,
        given,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
    )

    def base_config(overrides: Mapping[str, Any]) -> RunConfig:
        config = default
        if "env_id" in overrides:
            # That env's tuned defaults, under the config file and the options given.
            env = ["--env-id", str(overrides["env_id"])]
            _, config, _, _ = build_config(registry, [agent.name, *agent_argv, *env], prog=prog)
        return dataclasses.replace(config, **settings)

    name = args.name or f"sweep-{agent.name}" + ("" if "env_id" in grid else f"-{default.env_id}")
    sweep_dir = (args.runs_dir / safe_name(name)).resolve()
    trials = make_trials(grid, seeds, sweep_dir, base_config)
    outcome = run_sweep(
        trials,
        sweep_dir,
        train=agent.train,
        config_file=config_file,
        address=args.address,
        num_cpus=args.num_cpus,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        progress_every=args.progress_every,
        log_to_driver=args.verbose,
        key=args.key,
        in_process=args.in_process,
    )
    return 1 if outcome.failed else 0


def sweep_main(registry: Registry, argv: Sequence[str] | None = None, *, prog: str = "sweep") -> int:
    """Run the sweep the command line asks for (see the module's docstring).

    ``python -m <pkg>.sweep AGENT --name N --seeds 0-4 --set FIELD=V1,V2 ... [--config FILE.toml]
    [--FIELD VALUE ...]``, with the sweep's options of :func:`build_parser`.

    Args:
        registry: the project's agents (:class:`rlcore.runs.Registry`).
        argv: the arguments (default: ``sys.argv[1:]``).
        prog: the command's name in messages, e.g. ``"python -m my_project.sweep"``.

    Returns:
        The exit status: 0 if every trial is done, 1 if one failed, 2 for a bad option, value,
        config file or agent (the message on stderr), 130 if interrupted.
    """
    parser = build_parser(registry, prog)
    try:
        args, agent_argv = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        return _sweep(registry, args, agent_argv, prog)
    except SystemExit as exit:  # argparse's and tyro's errors (printed) and --help
        return exit.code if isinstance(exit.code, int) else 2
    except _USER_ERRORS as error:
        # str(KeyError) quotes its message; the message is what the user needs.
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
