"""``rlcore.distributed`` and runs on several processes: checked against one process that did it all.

* Rank seeds: rank 0 keeps the seed, the others get independent ones (``rlcore.seeding.rank_seed``).
* Statistics: :class:`StatisticsSync` over simulated ranks (threads) and over 2 real processes
  equals a float64 ``RunningMeanStd`` fed every sample (hypothesis), on every rank alike.
* DDP through :class:`Distributed` on 2 gloo processes: the parameters are the same on every rank
  after each update, and equal to one process stepping on the mean of the ranks' gradients.
* A run of the tiny agent on 2 processes: reproducible, resumed exactly, written by rank 0 only,
  refused on another number of processes; and one device is exactly today's single process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from _distributed_kit import (
    raise_on_rank_one,
    rank_batches,
    reference_model,
    statistics_rounds,
    train_in_lockstep,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from rlcore import distributed as dist
from rlcore._moments import moments_since
from rlcore.checkpoint import CheckpointError
from rlcore.distributed import Distributed, StatisticsSync, launch
from rlcore.logging import read_csv_log
from rlcore.runs import launch as launch_run
from rlcore.seeding import env_seeds, rank_seed
from rlcore.stats import RunningMeanStd
from rlcore.testing import tiny_agent

pytest.importorskip("lightning_fabric")
TINY = tiny_agent()
tiny_train = TINY.train  # a functools.partial of a module-level function: spawned ranks import it


# --------------------------------------------------------------------------- rank seeds
@given(st.integers(0, 2**32 - 1))
def test_rank_zero_keeps_the_seed_and_the_others_get_their_own(seed: int) -> None:
    seeds = [rank_seed(seed, rank) for rank in range(8)]
    assert seeds[0] == seed
    assert len(set(seeds)) == 8
    assert all(0 <= s < 2**32 for s in seeds)
    assert seeds == [rank_seed(seed, rank) for rank in range(8)]
    # Sub-env streams of different ranks share nothing.
    streams = [set(env_seeds(s, 16)) for s in seeds]
    assert all(not (a & b) for i, a in enumerate(streams) for b in streams[i + 1 :])


@pytest.mark.parametrize("rank", [-1, 1.0, True, "1"])
def test_rank_seed_refuses_a_bad_rank(rank: object) -> None:
    with pytest.raises(ValueError, match="rank must be an int >= 0"):
        rank_seed(0, rank)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- statistics
def _batches(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    rows = draw(st.integers(0, 6))
    return draw(hnp.arrays(np.float64, (rows, *shape), elements=st.floats(-1e3, 1e3)))


@st.composite
def _rounds(draw: st.DrawFn) -> tuple[int, list[list[np.ndarray]]]:
    world = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(), (3,), (2, 2)]))
    rounds = draw(st.integers(1, 4))
    return world, [[_batches(draw, shape) for _ in range(world)] for _ in range(rounds)]


def _threads_gather(world: int):  # a barrier-based all_gather between threads, one per rank
    slots: list[torch.Tensor | None] = [None] * world
    barrier = threading.Barrier(world, timeout=20)

    def all_gather_of(rank: int):
        def all_gather(tensor: torch.Tensor) -> torch.Tensor:
            slots[rank] = tensor.clone()
            barrier.wait()
            stacked = torch.stack([t for t in slots if t is not None])
            barrier.wait()
            return stacked

        return all_gather

    return all_gather_of


@settings(deadline=None, max_examples=60)
@given(_rounds())
def test_merged_statistics_equal_one_process_that_saw_all_the_data(
    case: tuple[int, list[list[np.ndarray]]],
) -> None:
    world, rounds = case
    shape = rounds[0][0].shape[1:]
    reference = RunningMeanStd(shape)
    statistics = [RunningMeanStd(shape) for _ in range(world)]
    syncs = [StatisticsSync([rms]) for rms in statistics]
    all_gather_of = _threads_gather(world)
    for data in rounds:
        for rank in range(world):
            if len(data[rank]):
                statistics[rank].update(data[rank])
                reference.update(data[rank])
        threads = [threading.Thread(target=syncs[r].merge, args=(all_gather_of(r),)) for r in range(world)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Every rank holds the same statistics, bit for bit: those of all the data so far.
        for rms in statistics[1:]:
            np.testing.assert_array_equal(rms.mean, statistics[0].mean)
            np.testing.assert_array_equal(rms.var, statistics[0].var)
            assert rms.count == statistics[0].count
        assert statistics[0].count == pytest.approx(reference.count, rel=1e-12)  # the new data, once
        scale = (
            1.0
            + float(np.abs(reference.mean).max(initial=0.0))
            + float(np.sqrt(reference.var).max(initial=0.0))
        )
        np.testing.assert_allclose(statistics[0].mean, reference.mean, rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(statistics[0].var, reference.var, rtol=1e-7, atol=1e-9 * scale**2)


@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 20), st.just(3)), elements=st.floats(-1e3, 1e3)),
    hnp.arrays(np.float64, st.tuples(st.integers(1, 20), st.just(3)), elements=st.floats(-1e3, 1e3)),
)
def test_moments_since_gives_back_the_new_data(old: np.ndarray, new: np.ndarray) -> None:
    rms = RunningMeanStd((3,))
    rms.update(old)
    base = (rms.mean.copy(), rms.var.copy(), rms.count)
    rms.update(new)
    mean, var, count = moments_since(rms.mean, rms.var, rms.count, *base)
    assert count == pytest.approx(len(new))
    scale = 1.0 + np.abs(np.concatenate([old, new])).max()
    np.testing.assert_allclose(mean, new.mean(axis=0), rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(var, new.var(axis=0), rtol=0, atol=1e-7 * scale**2)


def test_statistics_sync_refuses_per_stream_statistics() -> None:
    with pytest.raises(TypeError, match="num_streams=None"):
        StatisticsSync([RunningMeanStd((2,), num_streams=3)])


def test_statistics_merge_across_two_processes() -> None:
    rng = np.random.default_rng(5)
    rounds = [[rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 9)] for _ in range(3)]
    states = launch(statistics_rounds, rounds, processes=2)["states"]
    reference = [RunningMeanStd((4,)), RunningMeanStd(())]
    for data in rounds:
        for batch in data:
            reference[0].update(batch)
            reference[1].update(batch[:, 0])
    for rank_state in states:
        for (mean, var, count), ref in zip(rank_state, reference, strict=True):
            np.testing.assert_allclose(mean, ref.mean, rtol=1e-12)
            np.testing.assert_allclose(var, ref.var, rtol=1e-10)
            assert count == pytest.approx(ref.count, rel=1e-14)
    assert [np.array_equal(a[0], b[0]) for a, b in zip(states[0], states[1], strict=True)] == [True, True]


# --------------------------------------------------------------------------- DDP
def test_ddp_keeps_every_rank_equal_to_one_process_on_the_mean_gradient() -> None:
    updates, batch, max_norm = 4, 8, 0.5
    result = launch(train_in_lockstep, updates, batch, max_norm, processes=2)
    assert result["world_size"] == 2
    first, second = result["history"]
    torch.testing.assert_close(first, second, rtol=0, atol=0)  # identical on every rank
    # One process: rank 0's initial weights, the mean of the two ranks' losses (equal batches).
    model = reference_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = list(zip(rank_batches(0, updates, batch), rank_batches(1, updates, batch), strict=True))
    for step, ((x0, y0), (x1, y1)) in enumerate(data):
        loss = (nn.functional.mse_loss(model(x0), y0) + nn.functional.mse_loss(model(x1), y1)) / 2
        optimizer.zero_grad()
        torch.autograd.backward(loss)
        nn.utils.clip_grad_norm_(list(model.parameters()), max_norm)
        optimizer.step()
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.testing.assert_close(first[step], flat, rtol=1e-5, atol=1e-6)


def test_one_device_is_plain_pytorch_without_lightning() -> None:
    code = (
        "import sys, torch\n"
        "from rlcore.distributed import Distributed\n"
        "d = Distributed(torch.device('cpu'))\n"
        "m = torch.nn.Linear(2, 1); o = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "assert d.setup(m, o) == (m, o) and d.world_size == 1 and d.is_main\n"
        "assert d.all_gather(torch.ones(3)).shape == (1, 3) and d.broadcast(5) == 5\n"
        "assert not any(name.startswith(('lightning', 'lightning_fabric')) for name in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_several_devices_need_a_launched_process() -> None:
    with pytest.raises(RuntimeError, match="was not started as one of 2"):
        Distributed(torch.device("cpu"), devices=2)


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork", "ddp_notebook"])
def test_strategies_that_start_processes_are_refused(strategy: str) -> None:
    with pytest.raises(ValueError, match="starts processes itself"):
        Distributed(torch.device("cpu"), strategy=strategy)


def test_several_nodes_are_started_by_the_cluster() -> None:
    with pytest.raises(RuntimeError, match="srun"):
        launch(print, processes=2, num_nodes=2)


def test_fabric_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlcore.distributed import _processes

    monkeypatch.setattr(_processes, "_fabric_module", lambda name="": None)
    with pytest.raises(ImportError, match=r"rlcore\[fabric\]"):
        Distributed(torch.device("cpu"), precision="bf16-mixed")


def test_a_failing_rank_stops_the_launch_with_its_error() -> None:
    with pytest.raises(Exception, match="rank one failed on purpose"):
        launch(raise_on_rank_one, processes=2)


# --------------------------------------------------------------------------- a run on 2 processes
def _config(run_dir: Path, **overrides: object) -> object:
    settings_ = {
        "total_timesteps": 1024,
        "checkpoint_every": 256,
        "keep_last": 0,
        "normalize_observation": True,
    }
    return TINY.config_type(run_dir=str(run_dir), **{**settings_, **overrides})


def test_a_run_on_two_processes_is_reproducible_resumable_and_written_by_rank_zero(tmp_path: Path) -> None:
    full = launch_run(tiny_train, _config(tmp_path / "full", devices=2))
    again = launch_run(tiny_train, _config(tmp_path / "again", devices=2))
    assert full["episode_returns"] == again["episode_returns"]
    assert full["step"] == 1024
    checkpoint = torch.load(tmp_path / "full" / "checkpoints" / "step_000001024.pt", weights_only=True)
    assert json.loads(checkpoint["metadata"])["world_size"] == 2
    assert set(checkpoint["objects"]["ranks"]) == {"1"}  # rank 1's own state, beside rank 0's
    written = {path.name for path in (tmp_path / "full").iterdir()}
    assert {"checkpoints", "config.json", "eval.json", "progress.csv"} <= written
    assert written <= {"checkpoints", "config.json", "eval.json", "progress.csv", "learning_curve.png"}

    # Interrupted after the checkpoint at 768: resumed, it continues exactly where it stopped.
    shutil.copytree(tmp_path / "again", tmp_path / "cut")
    for late in (tmp_path / "cut" / "checkpoints").glob("step_000001024*"):
        late.unlink()
    (tmp_path / "cut" / "eval.json").unlink()
    resumed = launch_run(tiny_train, _config(tmp_path / "cut", devices=2), resume=True)
    assert resumed["episode_returns"] == full["episode_returns"]
    a, b = read_csv_log(tmp_path / "full" / "progress.csv"), read_csv_log(tmp_path / "cut" / "progress.csv")
    np.testing.assert_array_equal(a["train/loss"], b["train/loss"])
    final = torch.load(tmp_path / "cut" / "checkpoints" / "step_000001024.pt", weights_only=True)
    for name, tensor in checkpoint["objects"]["policy"].items():
        torch.testing.assert_close(final["objects"]["policy"][name], tensor, rtol=0, atol=0)

    # Started again without --resume: rank 0's refusal, raised here as one process raises it.
    with pytest.raises(FileExistsError, match="already holds a run"):
        launch_run(tiny_train, _config(tmp_path / "full", devices=2))

    # On another number of processes: refused, and the run is left as it was.
    for late in (tmp_path / "cut" / "checkpoints").glob("step_000001024*"):
        late.unlink()
    before = sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir())
    with pytest.raises(CheckpointError, match="saved by a run on 2 process"):
        tiny_train(_config(tmp_path / "cut", devices=1), resume=True)
    assert sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()) == before


def test_one_device_gives_exactly_the_single_process_run(tmp_path: Path) -> None:
    direct = tiny_train(_config(tmp_path / "direct"))
    launched = launch_run(tiny_train, _config(tmp_path / "launched", devices=1))
    assert direct["episode_returns"] == launched["episode_returns"]
    checkpoint = torch.load(tmp_path / "direct" / "checkpoints" / "step_000001024.pt", weights_only=True)
    assert "ranks" not in checkpoint["objects"]
    assert dist.is_launched() is False
