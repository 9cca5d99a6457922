"""Runs of the example agent: the run directory, checkpoints and resume, the command line."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlcore
import torch

from {{ cookiecutter.package_name }} import {{ cookiecutter.example_agent }} as agent
from {{ cookiecutter.package_name }} import train as cli
from {{ cookiecutter.package_name }}.runs import (
    CHECKPOINT_DIR,
    CURVE_FILENAME,
    EVAL_FILENAME,
    SEEDING,
    TRAIN_CPU_SECONDS_KEY,
    TRAIN_SECONDS_KEY,
    Run,
)

ENV_ID = "CartPole-v1"
# A run of a second or two: two checkpoints (half-way and at the end), four evaluations.
{%- if cookiecutter.example_agent == "ppo" %}
SMALL: dict[str, Any] = {
    "total_timesteps": 1_024,
    "num_envs": 4,
    "num_steps": 64,
    "batch_size": 64,
    "update_epochs": 2,
}
{%- else %}
SMALL: dict[str, Any] = {
    "total_timesteps": 1_024,
    "learning_starts": 128,
    "train_freq": 64,
    "gradient_steps": 8,
    "buffer_size": 1_024,
    "batch_size": 32,
    "hidden_sizes": (32, 32),
}
{%- endif %}
SMALL.update(
    checkpoint_every=512,
    eval_every=256,
    eval_episodes=2,
    final_eval_episodes=3,
    progress=False,
    logger="csv",
)


def small_config(run_dir: Path, **changes: Any) -> Any:
    return agent.config_for_env(ENV_ID, run_dir=str(run_dir), **{**SMALL, **changes})


def read_log(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "progress.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def untimed_rows(run_dir: Path) -> list[dict[str, str]]:
    """The run log without its clock columns, which differ from run to run."""
    clock = {"time", TRAIN_SECONDS_KEY, TRAIN_CPU_SECONDS_KEY}
    return [{k: v for k, v in row.items() if k not in clock} for row in read_log(run_dir)]


def assert_same_state(actual: Any, expected: Any, where: str = "checkpoint") -> None:
    """Equal nested state dicts: tensors element for element, everything else by ==."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert actual.keys() == expected.keys(), where
        for key in expected:
            assert_same_state(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_state(a, e, f"{where}[{i}]")
    elif isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), where
    else:
        assert actual == expected, where


def test_run_directory_holds_config_log_checkpoints_evaluation_and_curve(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = small_config(run_dir, seed=7)
    summary = agent.train(config)

    record = json.loads((run_dir / "config.json").read_text())
    fields = dataclasses.asdict(config)
    # run_dir differs between the seeds of one setting, which plots group by config.json.
    del fields["run_dir"]
    assert {k: record[k] for k in fields} == json.loads(json.dumps(fields))
    assert record["algo"] == "{{ cookiecutter.example_agent }}"
    assert record["rlcore_version"] == rlcore.__version__
    assert record["seeding"] == SEEDING
    assert record["git_commit"] is None or isinstance(record["git_commit"], str)

    steps = sorted(p.name for p in (run_dir / CHECKPOINT_DIR).iterdir())
    assert steps == ["step_000000512.pt", f"step_{summary['step']:09d}.pt"]

    evaluation = json.loads((run_dir / EVAL_FILENAME).read_text())
    returns = np.asarray(evaluation["episode_returns"], dtype=np.float64)
    assert len(returns) == config.final_eval_episodes == evaluation["num_episodes"]
    assert evaluation["mean_return"] == pytest.approx(returns.mean())
    assert evaluation["std_return"] == pytest.approx(returns.std())
    assert evaluation == {k: v for k, v in summary.items() if k != "learning_curve"}

    rows = read_log(run_dir)
    evaluations = [row for row in rows if row["eval/mean_return"]]
    assert [int(row["step"]) for row in evaluations][-1] == summary["step"]
    assert len(evaluations) >= 4
    for key in (TRAIN_SECONDS_KEY, TRAIN_CPU_SECONDS_KEY):
        seconds = [float(row[key]) for row in evaluations]
        assert seconds == sorted(seconds)
        assert seconds[0] > 0
    assert any(row["train/episodic_return"] for row in rows)
    assert (run_dir / CURVE_FILENAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resumed_run_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    whole, interrupted = tmp_path / "whole", tmp_path / "interrupted"
    agent.train(small_config(whole))
    # The same run, stopped after its half-way checkpoint: the log goes on past it, as the
    # process ran until it was killed, and nothing of the end was written.
    shutil.copytree(whole, interrupted)
    checkpoints = sorted((interrupted / CHECKPOINT_DIR).iterdir())
    assert checkpoints[0].name == "step_000000512.pt"
    for path in [*checkpoints[1:], interrupted / EVAL_FILENAME, interrupted / CURVE_FILENAME]:
        path.unlink()

    agent.train(small_config(interrupted), resume=True)

    final = sorted((whole / CHECKPOINT_DIR).iterdir())[-1].name
    expected = torch.load(whole / CHECKPOINT_DIR / final, weights_only=True)
    actual = torch.load(interrupted / CHECKPOINT_DIR / final, weights_only=True)
    assert_same_state(actual["objects"], expected["objects"], "objects")
    assert_same_state(actual["rng"], expected["rng"], "rng")
    expected_eval = json.loads((whole / EVAL_FILENAME).read_text())
    actual_eval = json.loads((interrupted / EVAL_FILENAME).read_text())
    assert actual_eval["episode_returns"] == expected_eval["episode_returns"]
    # The log holds each step once: the rows after the checkpoint were logged again, identically.
    assert untimed_rows(interrupted) == untimed_rows(whole)


def test_a_finished_run_trains_longer_when_resumed_with_more_steps(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = agent.train(small_config(run_dir))
    total = 2 * SMALL["total_timesteps"]
    second = agent.train(small_config(run_dir, total_timesteps=total), resume=True)
    assert second["step"] >= total > first["step"]
    steps = [int(row["step"]) for row in read_log(run_dir)]
    assert steps == sorted(steps)
    assert steps[-1] == second["step"]


def test_an_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    agent.train(small_config(tmp_path / "run"))
    with pytest.raises(FileExistsError, match=r"already holds a run; resume it \(--resume .*\)"):
        agent.train(small_config(tmp_path / "run"))


def test_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    algo = "{{ cookiecutter.example_agent }}"
    missing = r"cannot resume '.*empty': it holds no checkpoints/step_\*\.pt"
    with pytest.raises(FileNotFoundError, match=missing):
        Run(small_config(tmp_path / "empty"), algo, resume=True)
    nowhere = r"resume=True needs config.run_dir, the run to continue; got None"
    with pytest.raises(ValueError, match=nowhere):
        Run(dataclasses.replace(small_config(tmp_path), run_dir=None), algo, resume=True)


# ------------------------------------------------------------------------ command line
def test_help_lists_every_field_with_its_docstring(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no wrapped docstrings
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--resume RUN_DIR" in text
    for field in dataclasses.fields(cli.Config):
        assert f"--{field.name.replace('_', '-')}" in text
    assert "Environment steps to train for (summed over the sub-environments)." in text


def test_flags_override_the_defaults_of_the_chosen_env() -> None:
    args = ["--env-id", ENV_ID, "--seed", "3", "--total-timesteps", "2000", "--no-progress"]
    config, resume = cli.parse_args(args)
    assert not resume
    assert config == agent.config_for_env(ENV_ID, seed=3, total_timesteps=2000, progress=False)


def test_command_line_trains_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    flags = ["--no-progress"]
    for name, value in SMALL.items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, tuple):
            flags += [flag, *map(str, value)]
        elif not isinstance(value, bool):
            flags.append(f"{flag}={value}")
    assert cli.main(["--env-id", ENV_ID, "--run-dir", str(run_dir), *flags]) == 0
    out = capsys.readouterr().out
    assert f"learning curve: {(run_dir / CURVE_FILENAME).resolve()}" in out
    config, resume = cli.parse_args(["--resume", str(run_dir), "--total-timesteps", "2048"])
    assert resume
    assert config == small_config(run_dir, total_timesteps=2048)
    assert cli.main(["--resume", str(run_dir), "--total-timesteps", "2048"]) == 0
    assert json.loads((run_dir / EVAL_FILENAME).read_text())["step"] >= 2048


def test_resume_refuses_a_directory_without_config(tmp_path: Path) -> None:
    message = r"--resume .*: no config.json there; is it a run directory\?"
    with pytest.raises(FileNotFoundError, match=message):
        cli.parse_args(["--resume", str(tmp_path)])
