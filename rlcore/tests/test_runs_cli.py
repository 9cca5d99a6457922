"""rlcore.runs.train_main / build_config: a project's train command over its registry of agents.

Where each value comes from (config defaults < project defaults < env_defaults[env_id] < the
``--config`` file < the flags; with ``--resume``: saved config.json < file < flags), what the
command prints, and that every bad command line exits 2 with a message and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from _runs_kit import AGENT, ENV_ID, attribute_docstrings, read_log, tiny_config, write_text

from rlcore.runs import (
    CONFIG_FILE_COPY,
    CURVE_FILENAME,
    EVAL_FILENAME,
    PRECEDENCE,
    Agent,
    Registry,
    build_config,
    config_record,
    run_state,
    saved_config,
    train_main,
)
from rlcore.testing import tiny_agent

TinyConfig: Any = AGENT.config_type
PROG = "python -m proj.train"
OTHER_ENV = "Acrobot-v1"
#: Tuned values of the "tuned" agent; the project defaults of its registry are PROJECT.
TUNED = {
    ENV_ID: {"eval_episodes": 5, "checkpoint_every": 96, "seed": 2, "gamma": 0.9},
    OTHER_ENV: {"gamma": 0.8},
}
PROJECT = {"eval_episodes": 4, "final_eval_episodes": 6, "checkpoint_every": 64, "seed": 1}


@pytest.fixture
def registry() -> Registry:
    """The tiny agent, a second one under another name, and one with tuned values and defaults."""
    tuned = Agent("tuned", TinyConfig, AGENT.train, TUNED)
    return Registry(tiny_agent(), tiny_agent("other"), tuned, defaults=PROJECT)


@pytest.fixture
def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs without the learning curve (as without the plot extra), a third of a tiny run's time."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def main(registry: Registry, argv: Sequence[str]) -> int:
    """train_main's exit status, whether it returns it or the flag parser exits with it."""
    try:
        return train_main(registry, list(argv), prog=PROG)
    except SystemExit as exit_info:
        assert isinstance(exit_info.code, int)
        return exit_info.code


def config_of(registry: Registry, argv: Sequence[str]) -> Any:
    agent, config, _, _ = build_config(registry, list(argv), prog=PROG)
    assert isinstance(config, agent.config_type)
    return config


def small_flags(run_dir: Path) -> list[str]:
    return [
        "--run-dir",
        str(run_dir),
        "--total-timesteps",
        "128",
        "--checkpoint-every",
        "64",
        "--eval-every",
        "0",
    ]


def write_run_record(run_dir: Path, config: Any, algo: str) -> Path:
    """A run directory as a run that crashed at once leaves it: its config.json."""
    write_text(run_dir / "config.json", json.dumps(config_record(config, algo)))
    return run_dir


# ------------------------------------------------------------------------- where values come from
def test_values_come_from_defaults_project_env_file_and_flags_in_that_order(
    registry: Registry, tmp_path: Path
) -> None:
    # Each field is set up to some level: the highest level it reaches wins.
    expected_without = TinyConfig(
        final_eval_episodes=6, eval_episodes=5, checkpoint_every=96, seed=2, gamma=0.9
    )
    assert config_of(registry, ["tuned"]) == expected_without
    file = write_text(tmp_path / "c.toml", "checkpoint_every = 160\nseed = 3\n")
    with_file = dataclasses.replace(expected_without, checkpoint_every=160, seed=3)
    assert config_of(registry, ["tuned", "--config", str(file)]) == with_file
    assert config_of(registry, ["tuned", f"--config={file}", "--seed", "4"]) == dataclasses.replace(
        with_file, seed=4
    )
    assert config_of(registry, ["tuned", "--seed", "4", "--config", str(file)]) == dataclasses.replace(
        with_file, seed=4
    )
    # Another env: its tuned values, none of CartPole's.
    assert config_of(registry, ["tuned", "--env-id", OTHER_ENV]) == TinyConfig(
        env_id=OTHER_ENV, final_eval_episodes=6, eval_episodes=4, checkpoint_every=64, seed=1, gamma=0.8
    )
    # The project defaults reach every agent, under its tuned values.
    assert config_of(registry, ["tiny"]) == TinyConfig(
        final_eval_episodes=6, eval_episodes=4, checkpoint_every=64, seed=1, gamma=0.98
    )
    # A bare registry: the config's defaults and the agent's tuned values only.
    assert config_of(Registry(tiny_agent()), ["tiny"]) == TinyConfig(gamma=0.98)


@pytest.mark.parametrize(
    ("file_text", "flags", "env_id", "gamma"),
    [
        ("", [], ENV_ID, 0.9),  # the config's default env
        (f'env_id = "{OTHER_ENV}"\n', [], OTHER_ENV, 0.8),  # the file's env, with its tuned values
        (f'env_id = "{OTHER_ENV}"\ngamma = 0.7\n', [], OTHER_ENV, 0.7),  # the file over them
        (f'env_id = "{OTHER_ENV}"\n', ["--env-id", ENV_ID], ENV_ID, 0.9),  # the flag over the file
        ("", [f"--env-id={OTHER_ENV}"], OTHER_ENV, 0.8),
        ("", ["--env_id", OTHER_ENV], OTHER_ENV, 0.8),
        ("", ["--env-id", "MountainCar-v0"], "MountainCar-v0", TinyConfig.gamma),  # untuned
        ("gamma = 0.5\n", ["--env-id", OTHER_ENV], OTHER_ENV, 0.5),
    ],
)
def test_env_id_comes_from_the_flag_else_the_file_else_the_default_and_tuned_values_follow(
    registry: Registry, tmp_path: Path, file_text: str, flags: list[str], env_id: str, gamma: float
) -> None:
    file = write_text(tmp_path / "c.toml", file_text)
    config = config_of(registry, ["tuned", "--config", str(file), *flags])
    assert (config.env_id, config.gamma) == (env_id, gamma)


def test_resume_takes_the_saved_config_under_the_file_and_the_flags(
    registry: Registry, tmp_path: Path
) -> None:
    saved = TinyConfig(env_id=OTHER_ENV, seed=5, eval_episodes=9, checkpoint_every=32, gamma=0.5, num_steps=8)
    run_dir = write_run_record(tmp_path / "run", saved, "tuned")
    # The saved config replaces the config's, the project's and the tuned values.
    expected = dataclasses.replace(saved, run_dir=str(run_dir))
    assert config_of(registry, ["--resume", str(run_dir)]) == expected
    assert config_of(registry, ["tuned", "--resume", str(run_dir)]) == expected
    assert config_of(registry, [f"--resume={run_dir}"]) == expected
    file = write_text(tmp_path / "more.toml", 'algo = "tuned"\ncheckpoint_every = 48\nseed = 7\n')
    agent, config, resume, config_file = build_config(
        registry, ["--resume", str(run_dir), "--config", str(file), "--seed", "8"], prog=PROG
    )
    assert agent is registry["tuned"]
    assert resume
    assert config_file == file
    assert config == dataclasses.replace(expected, checkpoint_every=48, seed=8)
    assert saved_config(run_dir, TinyConfig) == expected  # reading the run changed nothing


def test_build_config_says_whether_to_resume_and_which_file(registry: Registry, tmp_path: Path) -> None:
    agent, config, resume, config_file = build_config(registry, ["other", "--seed", "3"], prog=PROG)
    assert agent is registry["other"]
    assert (resume, config_file) == (False, None)
    assert config == registry.config("other", ENV_ID, seed=3)


# ------------------------------------------------------------------------- help and usage
def test_help_lists_every_field_with_its_docstring(
    registry: Registry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no wrapped docstrings
    assert train_main(registry, ["tuned", "--help"], prog=PROG) == 0
    text = capsys.readouterr().out
    docstrings = attribute_docstrings(TinyConfig)
    assert set(docstrings) == {field.name for field in dataclasses.fields(TinyConfig)}
    for field in dataclasses.fields(TinyConfig):
        assert f"--{field.name.replace('_', '-')}" in text, field.name
        assert docstrings[field.name] in text, field.name
    assert "Environment steps to train for (summed over the sub-environments)." in text
    assert f"{PROG} tuned" in text
    assert "--resume RUN_DIR" in text
    assert "--config FILE" in text
    assert f"Tuned values for: {ENV_ID}, {OTHER_ENV}." in text
    # The defaults shown are the ones this command line would use (the tuned ones).
    assert re.search(r"--gamma FLOAT\s+Discount factor of the rewards-to-go\. \(default: 0\.9\)", text)


def test_no_arguments_print_the_usage_with_the_agents(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_main(registry, [], prog=PROG) == 2
    out = capsys.readouterr().err  # a usage error: on stderr
    assert out.startswith(f"usage: {PROG} AGENT [--env-id ID] [--config FILE.toml] [--FIELD VALUE ...]")
    assert f"{PROG} --resume RUN_DIR" in out
    first_line = TinyConfig.__doc__.splitlines()[0]
    for name in ("tiny", "other", "tuned"):
        assert re.search(rf"^  {name}\s+{re.escape(first_line)}$", out, re.MULTILINE), name
    assert PRECEDENCE in out
    assert train_main(registry, ["--help"], prog=PROG) == 0
    assert "agents:" in capsys.readouterr().out
    assert train_main(Registry(), ["-h"], prog=PROG) == 0
    assert "(none registered: add one to the registry)" in capsys.readouterr().out


# ------------------------------------------------------------------------- training
def test_main_trains_prints_the_evaluation_and_the_paths_and_resumes(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(registry, ["tiny", "--run-dir", "runs/t", "--seed", "3"]) == 0
    run_dir = (tmp_path / "runs" / "t").resolve()
    evaluation = json.loads((run_dir / EVAL_FILENAME).read_text(encoding="utf-8"))
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"tiny on {ENV_ID}, seed 3: final evaluation over 6 episodes: {evaluation['mean_return']:.2f} "
        f"+/- {evaluation['std_return']:.2f} after 512 steps",
        f"run directory:  {run_dir}",
        f"evaluation:     {run_dir / EVAL_FILENAME}",
        f"learning curve: {run_dir / CURVE_FILENAME}",
    ]
    assert (evaluation["step"], evaluation["num_episodes"]) == (512, 6)  # the project's default
    assert json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["seed"] == 3

    # Train for longer: the saved config, more steps.
    made = TinyConfig(**{**PROJECT, "seed": 3, "gamma": 0.98})
    resumed = build_config(registry, ["--resume", "runs/t", "--total-timesteps", "1024"])[1]
    assert resumed == dataclasses.replace(made, run_dir="runs/t", total_timesteps=1024)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(registry, ["--resume", "runs/t", "--total-timesteps", "1024"]) == 0
    out = capsys.readouterr().out
    assert "after 1,024 steps" in out
    assert "learning curve" not in out  # none without matplotlib
    assert json.loads((run_dir / EVAL_FILENAME).read_text(encoding="utf-8"))["step"] == 1024
    steps = [int(row["step"]) for row in read_log(run_dir)]
    assert steps == sorted(steps)
    assert steps[-1] == 1024


@pytest.mark.usefixtures("without_matplotlib")
def test_the_config_file_is_copied_into_the_run_and_recorded(registry: Registry, tmp_path: Path) -> None:
    file = write_text(
        tmp_path / "configs" / "tiny.toml", '# tuned by hand\nalgo = "tiny"\nseed = 4\nlearning_rate = 1\n'
    )
    run_dir = tmp_path / "run"
    assert main(registry, ["tiny", "--config", str(file), *small_flags(run_dir)]) == 0
    assert (run_dir / CONFIG_FILE_COPY).read_bytes() == file.read_bytes()
    record = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert record["config_file"] == str(file)
    assert (record["seed"], record["learning_rate"]) == (4, 1.0)
    assert isinstance(record["learning_rate"], float)
    # A run started from the command line alone records no file and has no copy.
    assert main(registry, ["tiny", *small_flags(tmp_path / "plain")]) == 0
    assert json.loads((tmp_path / "plain" / "config.json").read_text())["config_file"] is None
    assert not (tmp_path / "plain" / CONFIG_FILE_COPY).exists()


@pytest.mark.usefixtures("without_matplotlib")
def test_a_resumed_run_keeps_the_record_of_its_config_file(registry: Registry, tmp_path: Path) -> None:
    file = write_text(tmp_path / "tiny.toml", "seed = 4\n")
    run_dir = tmp_path / "run"
    assert main(registry, ["tiny", "--config", str(file), *small_flags(run_dir)]) == 0
    assert main(registry, ["--resume", str(run_dir), "--total-timesteps", "192"]) == 0
    assert (run_dir / CONFIG_FILE_COPY).read_bytes() == file.read_bytes()
    record = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert record["total_timesteps"] == 192
    assert record["config_file"] == str(file)


@pytest.mark.usefixtures("without_matplotlib")
def test_an_agent_registered_under_another_name_records_that_name(registry: Registry, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert main(registry, ["other", *small_flags(run_dir)]) == 0
    assert json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["algo"] == "other"
    assert json.loads((run_dir / EVAL_FILENAME).read_text(encoding="utf-8"))["algo"] == "other"
    assert build_config(registry, ["--resume", str(run_dir)])[0] is registry["other"]


@pytest.mark.usefixtures("without_matplotlib")
def test_a_failed_run_does_not_block_the_same_command(registry: Registry, tmp_path: Path) -> None:
    run_dir = write_run_record(tmp_path / "run", tiny_config(tmp_path / "run"), "tiny")
    write_text(run_dir / "progress.csv", "step,time\n")
    assert run_state(run_dir) == "failed"
    assert main(registry, ["tiny", *small_flags(run_dir)]) == 0
    assert run_state(run_dir) == "done"
    again = write_run_record(
        tmp_path / "again", tiny_config(tmp_path / "again", **{"total_timesteps": 128}), "tiny"
    )
    assert main(registry, ["--resume", str(again)]) == 0
    assert run_state(again) == "done"


# ------------------------------------------------------------------------- bad command lines
BAD_COMMAND_LINES = [
    pytest.param(
        ["ghost", "--run-dir", "{d}/run"],
        r"no agent named 'ghost'; the agents are: tiny, other, tuned",
        id="unknown-agent",
    ),
    pytest.param(
        ["--seed", "3"],
        r"name an agent first: python -m proj.train AGENT \.\.\. \(agents: tiny, other, tuned\)",
        id="no-agent",
    ),
    pytest.param(
        ["--resume", "{d}/empty"],
        r"--resume .*empty: no config.json there; is it a run directory\?",
        id="resume-no-run",
    ),
    pytest.param(
        ["--resume", "{d}/nowhere"], r"--resume .*nowhere: no config.json there", id="resume-missing-dir"
    ),
    pytest.param(
        ["other", "--resume", "{d}/made_by_tiny"],
        r"--resume .*made_by_tiny: the run was made by 'tiny', not 'other'",
        id="resume-other-agent",
    ),
    pytest.param(
        ["--resume", "{d}/made_by_ghost"],
        r"no agent named 'ghost'; the agents are",
        id="resume-unknown-agent",
    ),
    pytest.param(
        ["--resume", "{d}/no_algo"],
        r"--resume .*no_algo: config.json names no agent \(its 'algo' key\)",
        id="resume-no-algo",
    ),
    pytest.param(
        ["--resume", "{d}/broken"],
        r"--resume .*broken: .*config.json. is not valid JSON",
        id="resume-broken-json",
    ),
    pytest.param(
        ["tiny", "--config", "{d}/for_other.toml", "--run-dir", "{d}/run"],
        r"config file '.*for_other.toml' is for 'other', not 'tiny'",
        id="file-for-other-agent",
    ),
    pytest.param(
        ["tiny", "--config", "{d}/negative.toml", "--run-dir", "{d}/run"],
        r"config file '.*negative.toml': TinyConfig.seed must be an int >= 0, got -1",
        id="file-bad-value",
    ),
    pytest.param(
        ["tiny", "--config", "{d}/string.toml", "--run-dir", "{d}/run"],
        r"config file '.*string.toml': TinyConfig.gamma must be of type float, got str: 'high'",
        id="file-bad-type",
    ),
    pytest.param(
        ["tiny", "--config", "{d}/unknown.toml", "--run-dir", "{d}/run"],
        r"config file '.*unknown.toml': unknown key\(s\) \['sead'\]",
        id="file-unknown-key",
    ),
    pytest.param(
        ["tiny", "--config", "{d}/env_number.toml", "--run-dir", "{d}/run"],
        r"config file '.*env_number.toml': TinyConfig.env_id must be of type str, got int: 3",
        id="file-bad-env-id",
    ),
    pytest.param(
        ["tiny", "--config", "{d}/missing.toml", "--run-dir", "{d}/run"],
        r"config file '.*missing.toml' does not exist",
        id="file-missing",
    ),
    pytest.param(
        ["tiny", "--env-id", "NoSuchEnv-v0", "--run-dir", "{d}/run"],
        r"env_id 'NoSuchEnv-v0' is not a registered Gymnasium id",
        id="unknown-env",
    ),
    pytest.param(
        ["tiny", "--env-id", "NoSuchEnv-v0"],
        r"env_id 'NoSuchEnv-v0' is not a registered Gymnasium id",
        id="unknown-env-default-dir",
    ),
    pytest.param(
        ["tiny", "--device", "cuda", "--run-dir", "{d}/run"],
        r"device 'cuda': this torch build .* sees no CUDA GPU",
        id="no-cuda",
    ),
    pytest.param(
        ["tiny", "--seed", "-1", "--run-dir", "{d}/run"],
        r"TinyConfig.seed must be an int >= 0, got -1",
        id="flag-bad-value",
    ),
    pytest.param(["tiny", "--seed", "many", "--run-dir", "{d}/run"], r"--seed", id="flag-bad-type"),
    pytest.param(
        ["tiny", "--sead", "3", "--run-dir", "{d}/run"], r"Unrecognized options: --sead", id="flag-unknown"
    ),
]


@pytest.mark.parametrize(("argv", "message"), BAD_COMMAND_LINES)
def test_a_bad_command_line_exits_2_with_a_message_and_writes_nothing(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    argv = [arg.format(d=tmp_path) for arg in argv]
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    (tmp_path / "empty").mkdir()
    write_run_record(tmp_path / "made_by_tiny", tiny_config(tmp_path / "made_by_tiny"), "tiny")
    write_run_record(tmp_path / "made_by_ghost", tiny_config(tmp_path / "made_by_ghost"), "ghost")
    write_text(tmp_path / "no_algo" / "config.json", json.dumps(dataclasses.asdict(TinyConfig())))
    write_text(tmp_path / "broken" / "config.json", "{")
    write_text(tmp_path / "for_other.toml", 'algo = "other"\nseed = 1\n')
    write_text(tmp_path / "negative.toml", "seed = -1\n")
    write_text(tmp_path / "string.toml", 'gamma = "high"\n')
    write_text(tmp_path / "unknown.toml", "sead = 1\n")
    write_text(tmp_path / "env_number.toml", "env_id = 3\n")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)

    assert main(registry, argv) == 2

    captured = capsys.readouterr()
    assert re.search(message, captured.err), captured.err
    assert captured.out == ""
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
