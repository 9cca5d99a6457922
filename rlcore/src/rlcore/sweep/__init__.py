"""Seed and hyperparameter sweeps of any registered agent on Ray.

A project's ``sweep.py`` is ``sys.exit(sweep_main(AGENTS, prog="python -m <pkg>.sweep"))``; the
command needs Ray (the project's ``sweep`` extra, or ``pip install "rlcore[ray]"``)::

    # 5 seeds x 2 learning rates x 2 batch sizes = 20 trials, one per CPU of this machine
    python -m <pkg>.sweep ppo --name lr-batch --seeds 0-4 \\
        --set learning_rate=3e-4,1e-3 --set batch_size=64,256 --total-timesteps 50000

    # the same on a running Ray cluster (e.g. started inside a SLURM job)
    python -m <pkg>.sweep ppo --address auto --name lr-batch ...

The grid is every combination of the ``--set`` values (:func:`parse_set`: each read by tyro as
its config field's type, lists in brackets: ``hidden_sizes=[64,64],[32]``) times the
``--seeds``. Every other option is the agent's, read as the train command reads it
(:func:`rlcore.runs.build_config`: ``--config FILE.toml``, ``--field value``), and applies to
every trial. A trial is one call of the agent's ``train(config, resume=...)`` in a Ray worker
holding ``--cpus-per-trial`` CPUs (default 1; also its torch threads unless set) and
``--gpus-per-trial`` GPUs (default 0; with GPUs its device is ``cuda`` unless set); its console
progress is off unless set. Ray runs in this process (``--num-cpus``) unless ``--address`` names
a cluster (``auto`` or ``HOST:PORT``). Every option is checked before anything runs: a value out
of its bounds (``--seeds 0-99999``, more than the 10000 seeds a sweep takes, or a seed above
``2**32 - 1``; ``--cpus-per-trial nan``) is refused with the option, the value and what it takes.

Each trial is a run directory (:class:`rlcore.runs.Run`) at
``<runs-dir>/<name>/<configuration>/seed=<seed>/``, the configuration named by its swept values
(``base`` without any), e.g. ``runs/lr-batch/learning_rate=0.001,batch_size=64/seed=3``. Running
the same command again skips the done trials, resumes the interrupted ones from their latest
checkpoint and starts over those that failed before their first one
(:func:`rlcore.runs.run_state`); it refuses trials made with other hyperparameters. A trial that
fails is reported with its error (its traceback saved as ``error.txt`` in its directory) and
does not stop the others; the command then exits with status 1 (2 for a bad option).

At the end :func:`summarize_sweep` writes the table of ``rlcore summarize`` (per configuration
across its seeds: mean, std and IQM of the final return with bootstrap 95% CIs) to
``summary.md`` and the learning curves to ``learning_curves.png`` in the sweep's directory.

``import rlcore.sweep`` does not import Ray: the grid, the summary and their tests work without
it; :func:`run_sweep` imports it.
"""

from __future__ import annotations

from rlcore.sweep._cli import build_parser, flag_given, sweep_main
from rlcore.sweep._grid import FIELDS_SET_BY_THE_SWEEP, parse_seeds, parse_set, parse_value, split_values
from rlcore.sweep._ray import import_ray, use_cluster_token
from rlcore.sweep._runner import SweepOutcome, run_sweep
from rlcore.sweep._summary import PLOT_FILENAME, SUMMARY_FILENAME, SweepSummary, summarize_sweep
from rlcore.sweep._trials import (
    BASE_CONFIGURATION,
    Trial,
    configuration_name,
    make_trials,
    refuse_stale_trials,
    trial_run_settings,
)

__all__ = [
    "BASE_CONFIGURATION",
    "FIELDS_SET_BY_THE_SWEEP",
    "PLOT_FILENAME",
    "SUMMARY_FILENAME",
    "SweepOutcome",
    "SweepSummary",
    "Trial",
    "build_parser",
    "configuration_name",
    "flag_given",
    "import_ray",
    "make_trials",
    "parse_seeds",
    "parse_set",
    "parse_value",
    "refuse_stale_trials",
    "run_sweep",
    "split_values",
    "summarize_sweep",
    "sweep_main",
    "trial_run_settings",
    "use_cluster_token",
]
