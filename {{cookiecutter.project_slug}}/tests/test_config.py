"""The configuration files of ``configs/`` and their validation."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import EnvConfig, ExperimentConfig, LoggingConfig, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_file_spells_out_every_default() -> None:
    with (CONFIGS / "default.toml").open("rb") as file:
        raw = tomllib.load(file)
    defaults = dataclasses.asdict(ExperimentConfig())
    assert raw == defaults
    assert load_config(CONFIGS / "default.toml") == ExperimentConfig()


def test_missing_keys_keep_their_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[env]\nenv_id = "Pendulum-v1"\ngamma = 1\n'))
    assert config.env == dataclasses.replace(EnvConfig(), env_id="Pendulum-v1", gamma=1.0)
    assert isinstance(config.env.gamma, float)
    assert config.logging == LoggingConfig()


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['sead'\] in \[env\]; expected some of"):
        load_config(write(tmp_path, "[env]\nsead = 1\n"))


def test_unknown_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"unknown table\(s\) \['agent'\]"):
        load_config(write(tmp_path, "[agent]\nlr = 0.1\n"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("seed = true", r"env.seed must be of type int, got bool: True"),
        ("seed = 1.5", r"env.seed must be of type int, got float: 1.5"),
        ('gamma = "high"', r"env.gamma must be of type float, got str: 'high'"),
        ("normalize_reward = 1", r"env.normalize_reward must be of type bool, got int: 1"),
        ("gamma = nan", r"env.gamma must be finite, got nan"),
        ("gamma = 1.5", r"env.gamma must be in \[0, 1\], got 1.5"),
        ("frame_stack = 0", r"env.frame_stack must be an integer >= 1, got 0"),
    ],
)
def test_bad_env_values_are_rejected(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        load_config(write(tmp_path, f"[env]\n{line}\n"))


def test_bad_logger_is_rejected(tmp_path: Path) -> None:
    expected = r"logging.logger must be one of \('csv', 'tensorboard', 'wandb'\), got 'mlflow'"
    with pytest.raises(ValueError, match=expected):
        load_config(write(tmp_path, '[logging]\nlogger = "mlflow"\n'))
