"""The agents on 2 processes (Lightning Fabric, gloo on CPU: the ``fabric`` extra, in ``dev``).

``--devices 2`` runs 2 processes of the agent: each steps its own ``num_envs`` sub-envs with its
own seeds, DDP averages the gradients, rank 0 writes the run directory. The run's plumbing
(launch, statistics merged across processes, every rank's state in the checkpoints) is rlcore's,
tested there; this checks that the project's agents go through it: a 2-process run interrupted
after a checkpoint and resumed ends exactly as the run that was not interrupted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from rlcore import runs
from rlcore.logging import read_csv_log
from rlcore.testing import train_interrupted

from {{ cookiecutter.package_name }}.agents import AGENTS

pytest.importorskip("lightning_fabric", reason="needs the fabric extra (Lightning Fabric)")


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_two_processes_resume_exactly(name: str, tmp_path: Path) -> None:
    config = AGENTS.config(
        name,
        "CartPole-v1",
        devices=2,
        total_timesteps=2_048,  # summed over the processes
        checkpoint_every=1_024,
        keep_last=0,
        eval_every=0,
        final_eval_episodes=5,
        progress=False,
        logger="csv",
        run_dir=str(tmp_path / "run"),
    )
    train = AGENTS[name].train
    whole = runs.launch(train, config)
    assert whole["step"] == 2_048

    # The same run, stopped right after its checkpoint at step 1,024, then resumed.
    cut = dataclasses.replace(config, run_dir=str(tmp_path / "cut"))
    assert train_interrupted(train, cut, after_step=1_024) == 1_024
    resumed = runs.launch(train, cut, resume=True)
    assert resumed["episode_returns"] == whole["episode_returns"]
    logged = read_csv_log(tmp_path / "run" / "progress.csv")
    again = read_csv_log(tmp_path / "cut" / "progress.csv")
    assert sorted(logged) == sorted(again)
    for key in logged:
        if key.startswith("train/"):
            np.testing.assert_array_equal(logged[key], again[key], err_msg=key)
