"""TensorBoard's HParams tab and a resumed run's event files: ``write_hparams``, ``purge_step`` and
their wiring in ``make_logger``.

The event files are read back with TensorBoard's own readers (``EventAccumulator``, which applies
the purge as TensorBoard does, and ``EventFileLoader`` for one file's events) and the hparams
plugin's protobuf, not with anything of rlcore's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from rlcore.logging import EPISODIC_RETURN_KEY, EVAL_RETURN_KEY, TensorBoardLogger, make_logger


def accumulate(log_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return accumulator


def hparams_data(accumulator: EventAccumulator) -> dict[str, HParamsPluginData]:
    """The hparams plugin's summaries by tag (experiment, session start, session end); ``{}`` if none."""
    try:
        contents = accumulator.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    except KeyError:  # no summary of the plugin at all
        return {}
    return {tag: HParamsPluginData.FromString(content) for tag, content in contents.items()}


def event_files(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("events.out.tfevents.*"))


def hparams_tags_in(path: Path) -> list[str]:
    """The tags of the hparams plugin's summaries in one event file, in order."""
    return [
        value.tag
        for event in EventFileLoader(str(path)).Load()
        for value in event.summary.value
        if value.metadata.plugin_data.plugin_name == hparams_metadata.PLUGIN_NAME
    ]


CONFIG = {
    "learning_rate": 3e-4,
    "total_steps": 100_000,
    "env_id": "CartPole-v1",
    "norm_obs": True,
    "anneal_lr": False,
    "checkpoint": None,
    "hidden_sizes": (64, 64),
    "out_dir": Path("/data/runs"),
    "num_envs": np.int64(8),
    "gamma": np.float32(0.5),
    "env": {"id": "CartPole-v1"},
}


# ------------------------------------------------------------------ write_hparams
def test_hparams_are_in_the_run_event_file_with_the_metric_tags(tmp_path):
    run_dir = tmp_path / "seed_0"
    with TensorBoardLogger(run_dir) as logger:
        logger.write_hparams(CONFIG, [EVAL_RETURN_KEY, "train/loss"])
        for step, value in [(100, 1.5), (200, 2.5)]:
            logger.write({EVAL_RETURN_KEY: value}, step=step)
    # One event file in the run directory itself: no sub-run folder like add_hparams makes.
    assert [path.name for path in run_dir.iterdir()] == [event_files(run_dir)[0].name]
    accumulator = accumulate(run_dir)
    data = hparams_data(accumulator)
    assert sorted(data) == sorted(
        [
            hparams_metadata.EXPERIMENT_TAG,
            hparams_metadata.SESSION_START_INFO_TAG,
            hparams_metadata.SESSION_END_INFO_TAG,
        ]
    )
    experiment = data[hparams_metadata.EXPERIMENT_TAG].experiment
    assert [info.name.tag for info in experiment.metric_infos] == [EVAL_RETURN_KEY, "train/loss"]
    assert sorted(info.name for info in experiment.hparam_infos) == sorted(CONFIG)
    hparams = data[hparams_metadata.SESSION_START_INFO_TAG].session_start_info.hparams
    numbers = {name: value.number_value for name, value in hparams.items() if value.HasField("number_value")}
    strings = {name: value.string_value for name, value in hparams.items() if value.HasField("string_value")}
    assert numbers == {
        "learning_rate": 3e-4,
        "total_steps": 100_000,
        "norm_obs": 1.0,  # torch stores a bool as a number
        "anneal_lr": 0.0,
        "num_envs": 8,
        "gamma": 0.5,
    }
    assert strings == {
        "env_id": "CartPole-v1",
        "checkpoint": "None",
        "hidden_sizes": "(64, 64)",
        "out_dir": str(Path("/data/runs")),
        "env": "{'id': 'CartPole-v1'}",
    }
    # The metric's values are the logged scalars alone: no made-up value under the tag.
    assert accumulator.Tags()["scalars"] == [EVAL_RETURN_KEY]
    assert [(e.step, e.value) for e in accumulator.Scalars(EVAL_RETURN_KEY)] == [(100, 1.5), (200, 2.5)]


@pytest.mark.parametrize(
    ("hparams", "metrics", "error", "match"),
    [
        ([("lr", 1.0)], [], TypeError, r"hparams must be a mapping from str to a value, got list"),
        (
            {"lr": 1.0},
            EVAL_RETURN_KEY,
            TypeError,
            r"metrics must be a sequence of scalar tags .* got 'eval/mean_return'",
        ),
        ({"lr": 1.0}, ["eval/\x00x"], ValueError, r"keys must be non-empty strings .* it holds '\\x00'"),
        ({"lr": 1.0}, ["step"], ValueError, r"key 'step' is reserved"),
        ({1: 1.0}, [], TypeError, r"hyperparameter names must be non-empty strings, got 1"),
        ({"": 1.0}, [], TypeError, r"hyperparameter names must be non-empty strings, got ''"),
    ],
)
def test_write_hparams_errors_name_the_argument_and_write_nothing(tmp_path, hparams, metrics, error, match):
    with (
        TensorBoardLogger(tmp_path) as logger,
        pytest.raises(error, match=r"TensorBoardLogger\.write_hparams: " + match),
    ):
        logger.write_hparams(hparams, metrics)
    assert hparams_data(accumulate(tmp_path)) == {}
    with pytest.raises(RuntimeError, match=r"TensorBoardLogger\.write_hparams: the logger of .* is closed"):
        logger.write_hparams({"lr": 1.0}, [])


# ------------------------------------------------------------------ purge_step
def _make_older(path: Path) -> None:
    """Move an event file's creation second one earlier, as a crashed process's file would be.

    TensorBoard reads a directory's event files in name order, and the names start with the
    second a writer opened; two writers opened in the same second by one test would otherwise be
    ordered by a per-process counter, as text ("...10" before "...9").
    """
    parts = path.name.split(".")  # events.out.tfevents.<second>.<host>.<pid>.<counter>
    parts[3] = f"{int(parts[3]) - 1:010d}"
    path.rename(path.with_name(".".join(parts)))


def test_purge_step_hides_what_the_crashed_process_logged_after_the_checkpoint(tmp_path):
    with TensorBoardLogger(tmp_path) as crashed:
        for step in range(1, 6):
            crashed.write({"loss": float(step)}, step=step)
    (first,) = event_files(tmp_path)
    _make_older(first)
    with TensorBoardLogger(tmp_path, purge_step=3) as resumed:
        resumed.write({"loss": 30.0}, step=3)
        resumed.write({"loss": 40.0}, step=4)
    assert len(event_files(tmp_path)) == 2
    events = accumulate(tmp_path).Scalars("loss")
    assert [(e.step, e.value) for e in events] == [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]


def test_without_purge_step_both_processes_steps_are_shown(tmp_path):
    with TensorBoardLogger(tmp_path) as crashed:
        crashed.write({"loss": 4.0}, step=4)
    _make_older(event_files(tmp_path)[0])
    with TensorBoardLogger(tmp_path) as resumed:
        resumed.write({"loss": 3.0}, step=3)
    assert [e.step for e in accumulate(tmp_path).Scalars("loss")] == [4, 3]


@pytest.mark.parametrize("purge_step", [-1, 1.5, True, "3"])
def test_purge_step_error(purge_step):
    with pytest.raises(
        ValueError, match=rf"TensorBoardLogger: purge_step must be None or an int >= 0, got {purge_step!r}"
    ):
        TensorBoardLogger("unused", purge_step=purge_step)


# ------------------------------------------------------------------ make_logger
def test_make_logger_writes_hparams_once_and_passes_tensorboard_kwargs(tmp_path):
    run_dir = tmp_path / "seed_0"
    config = {"lr": 0.01, "seed": 0}
    metrics = (EVAL_RETURN_KEY, EPISODIC_RETURN_KEY)
    with make_logger(
        run_dir, backends=("csv", "tensorboard"), config=config, hparam_metrics=metrics
    ) as logger:
        for step in range(1, 6):
            logger.write({EVAL_RETURN_KEY: float(step)}, step=step)
    (first,) = event_files(run_dir)
    assert hparams_tags_in(first) == [
        hparams_metadata.EXPERIMENT_TAG,
        hparams_metadata.SESSION_START_INFO_TAG,
        hparams_metadata.SESSION_END_INFO_TAG,
    ]
    _make_older(first)
    # The resumed process: no second set of hparams, and purge_step reaches the SummaryWriter.
    with make_logger(
        run_dir,
        backends=("csv", "tensorboard"),
        config=config,
        append=True,
        tensorboard_kwargs={"purge_step": 3, "flush_secs": 1},
    ) as logger:
        logger.write({EVAL_RETURN_KEY: 30.0}, step=3)
    older, second = event_files(run_dir)
    assert hparams_tags_in(older) != []
    assert hparams_tags_in(second) == []
    accumulator = accumulate(run_dir)
    assert [(e.step, e.value) for e in accumulator.Scalars(EVAL_RETURN_KEY)] == [
        (1, 1.0),
        (2, 2.0),
        (3, 30.0),
    ]
    experiment = hparams_data(accumulator)[hparams_metadata.EXPERIMENT_TAG].experiment
    assert [info.name.tag for info in experiment.metric_infos] == list(metrics)
    # Without a config there are no hyperparameters to show; the default metric is the eval return.
    with make_logger(tmp_path / "no_config", backends=("tensorboard",)):
        pass
    assert hparams_data(accumulate(tmp_path / "no_config")) == {}
    with make_logger(tmp_path / "default", backends=("tensorboard",), config=config):
        pass
    experiment = hparams_data(accumulate(tmp_path / "default"))[hparams_metadata.EXPERIMENT_TAG].experiment
    assert [info.name.tag for info in experiment.metric_infos] == [EVAL_RETURN_KEY]


@pytest.mark.parametrize(
    ("backends", "kwargs", "error", "match"),
    [
        (
            ("csv",),
            {"tensorboard_kwargs": {"purge_step": 3}},
            ValueError,
            r'make_logger: tensorboard_kwargs was given but backends does not include "tensorboard"',
        ),
        (
            ("csv", "tensorboard"),
            {"hparam_metrics": EVAL_RETURN_KEY},
            TypeError,
            r"make_logger: hparam_metrics must be a sequence of scalar tags such as \['eval/mean_return'\], "
            r"got 'eval/mean_return'",
        ),
        (
            ("csv", "tensorboard"),
            {"tensorboard_kwargs": {"purge_step": -1}},
            ValueError,
            r"TensorBoardLogger: purge_step must be None or an int >= 0, got -1",
        ),
    ],
)
def test_make_logger_tensorboard_errors_replace_no_run_log(tmp_path, backends, kwargs, error, match):
    (tmp_path / "progress.csv").write_text("step,time,a\n1,0.5,2\n")
    with pytest.raises(error, match=match):
        make_logger(tmp_path, backends=backends, config={"lr": 0.1}, **kwargs)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["progress.csv"]
    assert (tmp_path / "progress.csv").read_text() == "step,time,a\n1,0.5,2\n"
