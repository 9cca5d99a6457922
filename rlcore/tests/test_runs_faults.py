"""rlcore.runs against the faults of issue 14: torn logs, resumes that cut before they check, damaged
checkpoints, two writers on one run directory, and replay buffers in every checkpoint.

Each test reproduces an input the adversarial review found, on the tiny agent's runs (and, for
replay buffers, on a DQN-shaped loop written here).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _runs_kit import AGENT, assert_same_state, tiny_config, untimed_rows
from gymnasium.vector import AutoresetMode

from rlcore import checkpoint
from rlcore.buffers import ReplayBuffer
from rlcore.checkpoint import CheckpointError
from rlcore.logging import read_csv_log
from rlcore.runs import (
    CHECKPOINT_DIR,
    EVAL_FILENAME,
    Registry,
    Run,
    RunLockedError,
    make_envs,
    run_state,
    train_main,
)
from rlcore.testing import tiny_agent

LOCK = "run.lock"


@pytest.fixture(autouse=True)
def _no_learning_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run with three checkpoints (256, 512 and the end, 768): read or copy it."""
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        AGENT.train(_config(run_dir))
    return run_dir


def _config(run_dir: Path, **changes: Any) -> Any:
    return tiny_config(
        run_dir, **{"total_timesteps": 768, "checkpoint_every": 256, "eval_every": 320, **changes}
    )


def _names(run_dir: Path) -> list[str]:
    return sorted(path.name for path in (run_dir / CHECKPOINT_DIR).iterdir())


def _interrupted(whole: Path, target: Path, *, after: int) -> Path:
    """``whole`` as a process killed after its checkpoint at step ``after`` left it."""
    shutil.copytree(whole, target)
    for path in (target / CHECKPOINT_DIR).iterdir():
        if int(path.name.split("_")[1].split(".")[0]) > after:
            path.unlink()
    (target / EVAL_FILENAME).unlink()
    assert run_state(target) == "resumable"
    return target


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _assert_same_end(actual: Path, expected: Path) -> None:
    final = _names(expected)[-1]
    saved = [torch.load(run / CHECKPOINT_DIR / final, weights_only=True) for run in (actual, expected)]
    assert_same_state(saved[0]["objects"], saved[1]["objects"], "objects")
    assert_same_state(saved[0]["rng"], saved[1]["rng"], "rng")
    assert untimed_rows(actual) == untimed_rows(expected)
    returns = [json.loads((run / EVAL_FILENAME).read_text())["episode_returns"] for run in (actual, expected)]
    assert returns[0] == returns[1]


# ------------------------------------------------------------------------- torn logs
@pytest.mark.parametrize("torn", ["many-cells", "one-cell"])
def test_a_torn_last_row_is_dropped_on_resume_and_the_run_ends_readable(
    whole: Path, tmp_path: Path, torn: str
) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    log = run_dir / "progress.csv"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    # The process died while writing a row of a step before its checkpoint had been logged again.
    first_row = next(line for line in lines[1:] if line.startswith("64,"))
    partial = first_row[: len(first_row) // 2] if torn == "many-cells" else "6"
    log.write_text("".join(lines) + partial, encoding="utf-8")
    with pytest.warns(UserWarning, match=r"progress.csv"):
        AGENT.train(_config(run_dir), resume=True)
    read_csv_log(run_dir)  # no "line N has 13 cells, expected 16"
    _assert_same_end(run_dir, whole)
    AGENT.train(_config(run_dir, total_timesteps=1024), resume=True)  # and later resumes still work
    assert int(read_csv_log(run_dir)["step"][-1]) == 1024


# ------------------------------------------------------------------------- check before cutting
def test_a_resume_whose_config_does_not_fit_the_checkpoint_changes_no_file(
    whole: Path, tmp_path: Path
) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    before = _snapshot(run_dir)
    with pytest.raises(CheckpointError, match=r"loading object 'policy' \(Sequential\)"):
        AGENT.train(_config(run_dir, hidden_sizes=(32, 32)), resume=True)
    assert _snapshot(run_dir) == before  # progress.csv was not cut by a row, config.json not rewritten
    AGENT.train(_config(run_dir), resume=True)
    _assert_same_end(run_dir, whole)


def test_the_command_line_refuses_another_network_size_on_resume_and_changes_nothing(
    whole: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    before = _snapshot(run_dir)
    registry = Registry(tiny_agent())
    assert train_main(registry, ["--resume", str(run_dir), "--hidden-sizes", "32", "32"], prog="train") == 1
    error = capsys.readouterr().err
    assert error.startswith("train: error: checkpoint.load: loading object 'policy' (Sequential) from ")
    assert "size mismatch" in error or "Missing key" in error
    assert _snapshot(run_dir) == before
    again = ["tiny", "--run-dir", str(run_dir)]
    assert train_main(registry, again, prog="train") == 1
    assert "already holds a run; resume it (--resume" in capsys.readouterr().err
    assert _snapshot(run_dir) == before


def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one(whole: Path, tmp_path: Path) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    latest = run_dir / CHECKPOINT_DIR / "step_000000512.pt"
    data = bytearray(latest.read_bytes())
    weights = torch.load(latest, weights_only=True)["objects"]["policy"]["weight"]
    at = bytes(data).find(weights.numpy().tobytes())
    data[at + 3] ^= 0x40  # one flipped bit in the policy's weights
    latest.write_bytes(bytes(data))
    with pytest.warns(
        UserWarning,
        match=r"resuming .* from step_000000256.pt, the newest checkpoint that can be used; passed over: "
        r"step_000000512.pt \(is damaged: its checksum",
    ):
        AGENT.train(_config(run_dir), resume=True)
    _assert_same_end(run_dir, whole)  # exact: the steps after 256 were trained again


def test_a_resume_with_no_usable_checkpoint_says_why_for_each(whole: Path, tmp_path: Path) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    for path in (run_dir / CHECKPOINT_DIR).iterdir():
        path.write_bytes(path.read_bytes()[:100])
    (run_dir / CHECKPOINT_DIR / "step_000000256.pt").write_bytes(b"")
    before = _snapshot(run_dir)
    with pytest.raises(
        CheckpointError,
        match=r"cannot resume .*: none of its checkpoints can be used: step_000000512.pt \(.*cannot read.*\); "
        r"step_000000256.pt \(.*\). Start the run over in a new run_dir",
    ):
        AGENT.train(_config(run_dir), resume=True)
    assert _snapshot(run_dir) == before


def test_a_checkpoint_whose_counters_do_not_match_its_name_is_passed_over(
    whole: Path, tmp_path: Path
) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    # A checkpoint copied under another step's name: well formed, but not that step's.
    shutil.copyfile(
        run_dir / CHECKPOINT_DIR / "step_000000256.pt", run_dir / CHECKPOINT_DIR / "step_000000600.pt"
    )
    with pytest.warns(
        UserWarning, match=r"passed over: step_000000600.pt \(its metadata says step 256, its name"
    ):
        AGENT.train(_config(run_dir), resume=True)
    _assert_same_end(run_dir, whole)


# ------------------------------------------------------------------------- one writer per run directory
_HOLDER = textwrap.dedent(
    """
    import sys, time
    from rlcore.runs import Run
    from rlcore.testing import tiny_agent
    config = tiny_agent().config_for_env(
        "CartPole-v1", run_dir=sys.argv[1], total_timesteps=768, checkpoint_every=256, eval_every=320
    )
    run = Run(config, "tiny", resume=True)
    print("holding", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_second_writer_is_refused_and_a_dead_holder_s_lock_is_taken_over(
    whole: Path, tmp_path: Path
) -> None:
    run_dir = _interrupted(whole, tmp_path / "run", after=512)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        before = _snapshot(run_dir)
        with pytest.raises(
            RunLockedError,
            match=rf"is being written by process {holder.pid} on .* which holds run.lock; two processes",
        ):
            AGENT.train(_config(run_dir), resume=True)
        assert _snapshot(run_dir) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run_dir / LOCK).is_file()  # what the killed process left
    AGENT.train(_config(run_dir), resume=True)
    assert not (run_dir / LOCK).exists()
    _assert_same_end(run_dir, whole)


def test_a_new_run_in_the_same_process_takes_over_a_crashed_one(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    crashed = Run(_config(run_dir), "tiny")  # a notebook cell that raised and keeps its Run alive
    assert (run_dir / LOCK).is_file()
    AGENT.train(_config(run_dir), resume=True)
    assert run_state(run_dir) == "done" and not (run_dir / LOCK).exists()
    del crashed


def test_a_lock_file_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (run_dir / LOCK).symlink_to(outside)
    with pytest.raises(OSError):
        Run(_config(run_dir), "tiny")
    assert outside.read_text() == "keep me\n"


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_a_file_system_without_locks_is_said_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match=r"does not support locks \(No locks available\); a second process"):
        AGENT.train(_config(tmp_path / "run", total_timesteps=128, eval_every=0))
    assert run_state(tmp_path / "run") == "done"


# ------------------------------------------------------------------------- what checkpoints cost
def test_old_checkpoints_are_pruned_to_keep_last(tmp_path: Path) -> None:
    AGENT.train(tiny_config(tmp_path / "three", total_timesteps=640, checkpoint_every=64, eval_every=0))
    assert _names(tmp_path / "three") == [f"step_{step:09d}.pt" for step in (512, 576, 640)]
    AGENT.train(
        tiny_config(tmp_path / "all", total_timesteps=320, checkpoint_every=64, eval_every=0, keep_last=0)
    )
    assert _names(tmp_path / "all") == [f"step_{step:09d}.pt" for step in (64, 128, 192, 256, 320)]


def train_buffered(config: Any, *, resume: bool = False) -> dict[str, Any]:
    """A DQN-shaped loop: random actions into a replay buffer, a regression on sampled batches."""
    run = Run(config, "buffered", resume=resume)
    envs = make_envs(config, config.num_envs)
    eval_envs = make_envs(config, 2, evaluation_of=envs)
    policy = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    buffer = ReplayBuffer(
        200,
        envs.single_observation_space,
        envs.single_action_space,
        num_envs=config.num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        seed=config.seed,
    )
    obs = run.start(envs, eval_envs, policy=policy, optimizer=optimizer, buffer=buffer)

    def greedy(observations: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            actions: np.ndarray = policy(torch.as_tensor(observations)).argmax(dim=1).numpy()
        return actions

    while not run.done:
        actions = torch.randint(2, (config.num_envs,)).numpy()
        next_obs, rewards, terminated, truncated, info = envs.step(actions)
        run.advance(config.num_envs, info)
        real_next = next_obs.copy()
        ended = terminated | truncated
        if ended.any():
            real_next[ended] = np.stack(info["final_obs"][ended])
        buffer.add(obs, real_next, actions, rewards, terminated, truncated | run.checkpoint_due)
        obs = next_obs
        if run.step % 16 == 0 and len(buffer) >= 8:
            batch = buffer.sample(8)
            q = policy(batch.observations).gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
            loss = ((q - batch.rewards) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        obs = run.after_step(greedy, obs)
    return run.finish(greedy)


def _buffered_config(run_dir: Path, **changes: Any) -> Any:
    defaults = {"num_envs": 1, "total_timesteps": 300, "checkpoint_every": 100, "eval_every": 0}
    return tiny_config(run_dir, **{**defaults, **changes})


def test_replay_buffers_are_saved_apart_with_the_newest_checkpoint_only_and_resume_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole"
    save_checkpoint = Run.save_checkpoint

    def save_and_copy(run: Run) -> Path:  # the run directory as a process killed right after would leave it
        path = save_checkpoint(run)
        shutil.copytree(run.path, tmp_path / f"killed_at_{run.step}")
        return path

    monkeypatch.setattr(Run, "save_checkpoint", save_and_copy)
    train_buffered(_buffered_config(whole))
    monkeypatch.undo()
    assert _names(whole) == [
        "step_000000100.pt",
        "step_000000200.pt",
        "step_000000300.buffers.pt",
        "step_000000300.pt",
    ]
    for name in ("step_000000100.pt", "step_000000300.pt"):
        saved = torch.load(whole / CHECKPOINT_DIR / name, weights_only=True)
        assert sorted(saved["objects"]) == ["optimizer", "policy"]  # no buffer in the weights' file
        assert json.loads(saved["metadata"])["kept_apart"] == ["buffer"]
    weights = (whole / CHECKPOINT_DIR / "step_000000300.pt").stat().st_size
    assert weights < (whole / CHECKPOINT_DIR / "step_000000300.buffers.pt").stat().st_size

    # Killed after its checkpoint at 200: that checkpoint's buffers are there, the later ones not.
    interrupted = tmp_path / "killed_at_200"
    assert _names(interrupted) == ["step_000000100.pt", "step_000000200.buffers.pt", "step_000000200.pt"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exact resume: nothing to say
        train_buffered(_buffered_config(interrupted), resume=True)
    final = "step_000000300.buffers.pt"
    assert_same_state(
        torch.load(interrupted / CHECKPOINT_DIR / final, weights_only=True)["objects"],
        torch.load(whole / CHECKPOINT_DIR / final, weights_only=True)["objects"],
    )
    _assert_same_end(interrupted, whole)


def test_a_checkpoint_without_its_buffers_resumes_with_empty_buffers_and_says_so(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train_buffered(_buffered_config(run_dir))
    (run_dir / EVAL_FILENAME).unlink()
    (run_dir / CHECKPOINT_DIR / "step_000000300.pt").unlink()  # resumes from 200, whose buffers went
    with pytest.warns(
        UserWarning,
        match=r"resuming from step_000000200.pt, but its replay buffers' file step_000000200.buffers.pt is "
        r"missing .*\['buffer'\] start empty, so this resume is not exact",
    ):
        train_buffered(_buffered_config(run_dir), resume=True)
    assert run_state(run_dir) == "done"


def test_a_buffers_file_that_does_not_fit_refuses_the_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train_buffered(_buffered_config(run_dir))
    (run_dir / EVAL_FILENAME).unlink()
    buffers = run_dir / CHECKPOINT_DIR / "step_000000300.buffers.pt"
    checkpoint.save(buffers, metadata={"step": 300}, buffer=torch.nn.Linear(2, 2))  # whole, but not a buffer
    before = _snapshot(run_dir)
    with pytest.raises(CheckpointError, match=r"loading object 'buffer' \(ReplayBuffer\)"):
        train_buffered(_buffered_config(run_dir, total_timesteps=400), resume=True)
    assert _snapshot(run_dir) == before
