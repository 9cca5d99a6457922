"""What one periodic checkpoint of a DQN run costs: bytes on disk and seconds, old layout vs new.

The old layout (rlcore 0.2's ``Run``) wrote every object, the replay buffer included, into each
``step_N.pt`` and kept them all. The new one (``rlcore.runs._checkpoints.save_run_checkpoint``)
writes the networks, optimiser, RNG states and counters to ``step_N.pt``, the replay buffers to
``step_N.buffers.pt`` beside the newest checkpoint only (older buffer files deleted), and keeps
the newest ``keep_last=3`` checkpoints. Two setups, built directly and filled completely:

* CartPole DQN: Q-network MLP 4-64-64-2, target copy, Adam (one step taken), a 100k
  ``ReplayBuffer`` (1 env, float32 observations) filled from a real ``CartPole-v1`` env.
* Atari-shaped DQN: ``NatureCNN`` + ``Linear(512, 6)`` Q-network, target copy, Adam, a 100k
  ``ReplayBuffer`` of (4, 84, 84) uint8 frame stacks, 8 envs, ``store_frames_once=True``, filled
  with stacks that overlap as a frame stack's do (random frames, random episode ends).

Prints a Markdown table per setup: bytes, save seconds (median over repeats, ``time.perf_counter``,
files deleted and ``gc.collect()`` between repeats; ``checkpoint.save`` fsyncs the file and its
directory), the part of it that computing the SHA-256 checksum takes, load + verify seconds
(``checkpoint.load``, from the page cache: the file was just written), the ratios new / old, and
the disk that K periodic checkpoints leave in each layout.

    python benchmarks/bench_checkpoint.py                              # a few minutes, ~2 GB RAM
    python benchmarks/bench_checkpoint.py --quick                      # a smoke run, under a minute
    python benchmarks/bench_checkpoint.py --atari-capacity 1000000     # Atari 1M: ~16 GB RAM, 8 GB a file
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn

import rlcore
from rlcore import checkpoint
from rlcore._checkpoint_format import FORMAT, FORMAT_VERSION, digest, rng_state
from rlcore.buffers import ReplayBuffer
from rlcore.nn import NatureCNN
from rlcore.runs._checkpoints import save_run_checkpoint

KEEP_LAST = 3  # RunConfig.keep_last's default
ATARI_ENVS = 8
MiB = 1024**2


@dataclass
class Setup:
    name: str
    networks: dict[str, Any]  # q_network, target_network, optimizer (the template's names)
    buffer: ReplayBuffer
    notes: list[str] = field(default_factory=list)

    @property
    def everything(self) -> dict[str, Any]:
        return {**self.networks, "buffer": self.buffer}


@dataclass
class FileCost:
    """One file (or one periodic checkpoint): bytes, save, checksum and load seconds."""

    nbytes: int
    save: float
    digest: float
    load: float


# ------------------------------------------------------------------------------------ setups
def with_optimizer_state(q_network: nn.Module, obs: torch.Tensor, num_actions: int) -> dict[str, Any]:
    """Q-network, target copy and an Adam that has taken one step (so it holds its moments)."""
    target_network = copy.deepcopy(q_network)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=1e-4)
    actions = torch.randint(num_actions, (obs.shape[0],))
    q = q_network(obs).gather(1, actions[:, None]).squeeze(1)
    with torch.no_grad():
        target = target_network(obs).max(dim=1).values
    nn.functional.smooth_l1_loss(q, target + 1.0).backward()
    optimizer.step()
    optimizer.zero_grad()
    return {"q_network": q_network, "target_network": target_network, "optimizer": optimizer}


def cartpole_setup(capacity: int, seed: int) -> Setup:
    torch.manual_seed(seed)
    q_network = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    networks = with_optimizer_state(q_network, torch.randn(64, 4), 2)
    buffer = ReplayBuffer(
        capacity,
        spaces.Box(-np.inf, np.inf, (4,), np.float32),
        spaces.Discrete(2),
        num_envs=1,
        autoreset_mode="SameStep",
        seed=seed,
    )
    # A real CartPole-v1 with random actions; SAME_STEP: next_obs is the final observation.
    start = time.perf_counter()
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 2, capacity)
    episodes = 0
    for t in range(capacity):
        next_obs, reward, terminated, truncated, _ = env.step(int(actions[t]))
        buffer.add(
            obs[None],
            next_obs[None],
            actions[t : t + 1],
            np.array([reward], np.float32),
            np.array([terminated]),
            np.array([truncated]),
        )
        if terminated or truncated:
            obs, _ = env.reset()
            episodes += 1
        else:
            obs = next_obs
    env.close()
    note = (
        f"CartPole: buffer {len(buffer):,}/{buffer.capacity:,} transitions ({episodes:,} random-policy "
        f"episodes), arrays {buffer.nbytes / MiB:.2f} MiB, filled in {time.perf_counter() - start:.1f} s"
    )
    return Setup("CartPole DQN", networks, buffer, [note])


def atari_buffer(capacity: int, seed: int) -> ReplayBuffer:
    return ReplayBuffer(
        capacity,
        spaces.Box(0, 255, (4, 84, 84), np.uint8),
        spaces.Discrete(6),
        num_envs=ATARI_ENVS,
        autoreset_mode="SameStep",
        store_frames_once=True,
        seed=seed,
    )


def atari_setup(capacity: int, seed: int) -> Setup:
    torch.manual_seed(seed)
    q_network = nn.Sequential(NatureCNN((4, 84, 84)), nn.Linear(512, 6))
    networks = with_optimizer_state(q_network, torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8), 6)
    buffer = atari_buffer(capacity, seed)
    # Push as many frames as the frame ring holds, so that every stored frame is a real one.
    frame_capacity = int(buffer.state_dict()["frames"].shape[0])
    steps = -(-frame_capacity // ATARI_ENVS) + 4
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    # "reset" padding: an episode's first stack is its first frame four times.
    stacks = np.repeat(rng.integers(0, 256, (ATARI_ENVS, 1, 84, 84), dtype=np.uint8), 4, axis=1)
    no = np.zeros(ATARI_ENVS, dtype=bool)
    episodes = 0
    for _ in range(steps):
        frames = rng.integers(0, 256, (ATARI_ENVS, 1, 84, 84), dtype=np.uint8)
        next_stacks = np.concatenate([stacks[:, 1:], frames], axis=1)  # shifted by one new frame
        actions = rng.integers(0, 6, ATARI_ENVS)
        rewards = (rng.random(ATARI_ENVS) < 0.05).astype(np.float32)
        terminated = rng.random(ATARI_ENVS) < 1 / 1000  # episodes of ~1000 agent steps
        truncated = no
        buffer.add(stacks, next_stacks, actions, rewards, terminated, truncated)
        stacks = next_stacks
        for i in np.flatnonzero(terminated):
            stacks[i] = rng.integers(0, 256, (84, 84), dtype=np.uint8)  # the reset stack
            episodes += 1
    note = (
        f"Atari: buffer {len(buffer):,}/{buffer.capacity:,} transitions, {frame_capacity:,} frames in the "
        f"ring ({episodes:,} episode ends), arrays {buffer.nbytes / MiB:,.0f} MiB, filled in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return Setup(f"Atari DQN, {buffer.capacity:,} (frames once)", networks, buffer, [note])


# ------------------------------------------------------------------------------------ timing
def timed(fn: Callable[[], object]) -> float:
    """Seconds of one call, after a ``gc.collect()``, with the collector off while it runs."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def run_metadata(step: int, kept_apart: bool) -> dict[str, Any]:
    """What ``Run.save_checkpoint`` passes (with ``kept_apart`` added by the new layout)."""
    metadata: dict[str, Any] = {
        "step": step,
        "next_eval": step + 10_000,
        "next_checkpoint": step + 50_000,
        "train_seconds": 1234.5,
        "train_cpu_seconds": 2345.6,
    }
    if kept_apart:
        metadata["kept_apart"] = ["buffer"]
    return metadata


def payload_like_save(metadata: dict[str, Any], objects: dict[str, Any]) -> dict[str, Any]:
    """The dict ``checkpoint.save`` builds and hashes (everything but the checksum itself)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {
            "rlcore": rlcore.__version__,
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "metadata": json.dumps(metadata),
        "objects": {name: obj.state_dict() for name, obj in objects.items()},
        "rng": rng_state(),
    }


def digest_seconds(metadata: dict[str, Any], objects: dict[str, Any], repeats: int) -> float:
    """Median seconds of ``digest`` (the SHA-256 checksum) over the payload ``checkpoint.save`` would build."""
    payload = payload_like_save(metadata, objects)
    return statistics.median(timed(partial(digest, payload)) for _ in range(repeats))


def measure_files(setup: Setup, folder: Path, repeats: int, small_repeats: int) -> dict[str, FileCost]:
    """Save, checksum and load each single file; the files are timed in alternating rounds."""
    step = 50_000
    files = {
        # name: (file, objects, metadata, restore_rng on load, repeats)
        "weights": (
            folder / "step_000050000.pt",
            setup.networks,
            run_metadata(step, True),
            True,
            small_repeats,
        ),
        "buffers": (
            folder / "step_000050000.buffers.pt",
            {"buffer": setup.buffer},
            {"step": step},
            False,
            repeats,
        ),
        "old": (
            folder / "old" / "step_000050000.pt",
            setup.everything,
            run_metadata(step, False),
            True,
            repeats,
        ),
    }
    saves: dict[str, list[float]] = {name: [] for name in files}
    sizes: dict[str, int] = {}
    for r in range(max(spec[4] for spec in files.values())):
        for name, (path, objects, metadata, _, count) in files.items():
            if r >= count:
                continue
            path.unlink(missing_ok=True)
            saves[name].append(timed(partial(checkpoint.save, path, metadata=metadata, **objects)))
            sizes[name] = path.stat().st_size
            path.unlink()
    results = {}
    for name, (path, objects, metadata, restore_rng, count) in files.items():
        digest_s = digest_seconds(metadata, objects, max(3, count // 2))
        checkpoint.save(path, metadata=metadata, **objects)
        load = partial(checkpoint.load, path, restore_rng=restore_rng, **objects)
        loads = [timed(load) for _ in range(max(3, count // 2))]
        path.unlink()
        results[name] = FileCost(
            sizes[name], statistics.median(saves[name]), digest_s, statistics.median(loads)
        )
    return results


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


def periodic_new(setup: Setup, run_dir: Path, count: int) -> tuple[float, int, int]:
    """``count`` periodic checkpoints of the new layout into ``run_dir``.

    Returns the median seconds of one (all but the first, which has nothing to delete), and the
    bytes and number of files left in ``run_dir/checkpoints``.
    """
    stateful = setup.everything
    times = []
    for i in range(1, count + 1):
        step = i * 50_000
        path = run_dir / "checkpoints" / f"step_{step:09d}.pt"
        metadata = run_metadata(step, False)  # save_run_checkpoint adds kept_apart
        times.append(timed(partial(save_run_checkpoint, path, stateful, metadata, keep_last=KEEP_LAST)))
    folder = run_dir / "checkpoints"
    return statistics.median(times[1:]), folder_bytes(folder), len(list(folder.iterdir()))


def periodic_old(setup: Setup, run_dir: Path, count: int) -> tuple[float, int, int]:
    """``count`` checkpoints of the old layout (each file holds everything, none is deleted)."""
    times = []
    for i in range(1, count + 1):
        step = i * 50_000
        path = run_dir / "checkpoints" / f"step_{step:09d}.pt"
        metadata = run_metadata(step, False)
        times.append(timed(partial(checkpoint.save, path, metadata=metadata, **setup.everything)))
    folder = run_dir / "checkpoints"
    return statistics.median(times), folder_bytes(folder), len(list(folder.iterdir()))


# ------------------------------------------------------------------------------------ output
def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} us"
    return f"{seconds * 1e3:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def fmt_bytes(nbytes: float) -> str:
    if nbytes < MiB:
        return f"{nbytes / 1024:,.1f} KiB"
    return f"{nbytes / MiB:,.1f} MiB" if nbytes < 1024 * MiB else f"{nbytes / 1024**3:,.2f} GiB"


def fmt_ratio(new: float, old: float) -> str:
    return f"{new / old:.3f}" if new / old < 0.1 else f"{new / old:.2f}"


def bench_setup(
    setup: Setup, root: Path, repeats: int, small_repeats: int, checkpoints: int, measure_disk: bool
) -> tuple[list[str], list[str], dict[str, FileCost]]:
    """The setup's rows of the cost table and of the disk table, and its per-file costs."""
    folder = root / "files"
    costs = measure_files(setup, folder, repeats, small_repeats)
    weights, buffers, old = costs["weights"], costs["buffers"], costs["old"]
    # One periodic checkpoint of the new layout: both files written, the older buffers file
    # deleted, the checkpoints pruned to KEEP_LAST (steady state: the first save is not counted).
    series = checkpoints if measure_disk else max(repeats + 1, KEEP_LAST + 2)
    periodic_s, new_disk, new_files = periodic_new(setup, root / "run_new", series)
    new = FileCost(
        weights.nbytes + buffers.nbytes,
        periodic_s,
        weights.digest + buffers.digest,
        weights.load + buffers.load,
    )
    s = setup.name
    rows = []
    for label, cost in (
        ("new: `step_N.pt` (networks, optimiser, RNG, counters)", weights),
        ("new: `step_N.buffers.pt` (replay buffer)", buffers),
        (f"new: one periodic checkpoint (both files, older buffers deleted, keep_last={KEEP_LAST})", new),
        ("old: `step_N.pt` with everything", old),
    ):
        rows.append(
            f"| {s} | {label} | {fmt_bytes(cost.nbytes)} | {fmt_time(cost.save)} | {fmt_time(cost.digest)} | "
            f"{cost.digest / cost.save:.0%} | {fmt_time(cost.load)} |"
        )
    for label, a in (
        ("**new / old**, one periodic checkpoint", new),
        ("**new / old**, `step_N.pt` alone (a checkpoint without its buffers)", weights),
    ):
        rows.append(
            f"| {s} | {label} | {fmt_ratio(a.nbytes, old.nbytes)} | {fmt_ratio(a.save, old.save)} | "
            f"{fmt_ratio(a.digest, old.digest)} | | {fmt_ratio(a.load, old.load)} |"
        )

    kept = min(checkpoints, KEEP_LAST)
    old_total = checkpoints * old.nbytes
    new_total = kept * weights.nbytes + buffers.nbytes
    disk = [
        f"| {s} | {checkpoints} | {fmt_bytes(old_total)} | {fmt_bytes(new_total)} | "
        f"{fmt_ratio(new_total, old_total)} | computed from the file sizes above |"
    ]
    if measure_disk:
        old_s, old_disk, old_files = periodic_old(setup, root / "run_old", checkpoints)
        disk.append(
            f"| {s} | {checkpoints} | {fmt_bytes(old_disk)} ({old_files} files) | "
            f"{fmt_bytes(new_disk)} ({new_files} files) | {fmt_ratio(new_disk, old_disk)} | "
            f"measured: {checkpoints} saves in each layout; median save {fmt_time(old_s)} old, "
            f"{fmt_time(periodic_s)} new |"
        )
    return rows, disk, costs


def extrapolate(capacity: int, measured: ReplayBuffer, costs: dict[str, FileCost], checkpoints: int) -> str:
    """Linear extrapolation of the Atari numbers to ``capacity`` transitions (not filled, not saved)."""
    big = atari_buffer(capacity, 0)  # np.zeros maps pages lazily: nothing is touched
    target_nbytes = big.nbytes
    del big
    gc.collect()
    weights, buffers, old = costs["weights"], costs["buffers"], costs["old"]
    scale = target_nbytes / measured.nbytes
    buffers_bytes = buffers.nbytes - measured.nbytes + target_nbytes  # same per-file overhead
    old_bytes = old.nbytes - measured.nbytes + target_nbytes
    buffers_scale, old_scale = buffers_bytes / buffers.nbytes, old_bytes / old.nbytes
    old_total = checkpoints * old_bytes
    new_total = min(checkpoints, KEEP_LAST) * weights.nbytes + buffers_bytes
    return (
        f"Atari at {capacity:,} transitions (NOT measured; linear in the buffer's arrays, "
        f"{target_nbytes / 1024**3:.2f} GiB = {scale:.2f} x the measured buffer's; seconds scaled by "
        f"each file's bytes): buffers file ~{fmt_bytes(buffers_bytes)}, saved in "
        f"~{fmt_time(buffers.save * buffers_scale)} (of which checksum ~{fmt_time(buffers.digest * buffers_scale)}), "
        f"loaded in ~{fmt_time(buffers.load * buffers_scale)}; old all-in-one file ~{fmt_bytes(old_bytes)}, "
        f"saved in ~{fmt_time(old.save * old_scale)}, loaded in ~{fmt_time(old.load * old_scale)}; "
        f"after {checkpoints} checkpoints ~{fmt_bytes(old_total)} old vs ~{fmt_bytes(new_total)} new "
        f"({fmt_ratio(new_total, old_total)}). Measure with --atari-capacity {capacity} (~2x "
        f"{target_nbytes / 1024**3:.0f} GiB of RAM)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repeats, Atari buffer of 10k: a smoke run")
    parser.add_argument(
        "--atari-capacity",
        type=int,
        default=None,
        help="transitions of the Atari buffer (default 100000, 10000 with --quick; 1000000 needs ~16 GB RAM)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="saves of each large file (default 7, 3 quick)"
    )
    parser.add_argument(
        "--checkpoints",
        type=int,
        default=20,
        help="K, the periodic checkpoints of the disk table (default 20)",
    )
    parser.add_argument(
        "--dir", default=None, help="where the files are written (default: the system temp dir)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = args.repeats or (3 if args.quick else 7)
    small_repeats = 3 * repeats
    atari_capacity = args.atari_capacity or (10_000 if args.quick else 100_000)
    cartpole_capacity = 100_000

    temp_root = Path(args.dir or tempfile.gettempdir())
    print(
        f"rlcore {rlcore.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs; "
        f"files in {temp_root}" + (" (--quick)" if args.quick else "")
    )
    print()
    cost_rows: list[str] = []
    disk_rows: list[str] = []
    notes: list[str] = []
    for build, capacity, measure_disk in (
        (cartpole_setup, cartpole_capacity, True),
        (atari_setup, atari_capacity, False),
    ):
        setup = build(capacity, 0)
        # The setup's objects (and torch's, some 300k) move out of the collector's sight, so the
        # gc.collect() before each timed call takes microseconds instead of half a second.
        gc.collect()
        gc.freeze()
        with tempfile.TemporaryDirectory(prefix="bench_checkpoint_", dir=temp_root) as tmp:
            rows, disk, costs = bench_setup(
                setup, Path(tmp), repeats, small_repeats, args.checkpoints, measure_disk
            )
        cost_rows += rows
        disk_rows += disk
        notes += setup.notes
        if build is atari_setup and setup.buffer.capacity < 1_000_000:
            notes.append(extrapolate(1_000_000, setup.buffer, costs, args.checkpoints))
        gc.unfreeze()
        del setup
        gc.collect()

    print("| setup | file | bytes | save | of which SHA-256 | SHA-256 share | load + verify |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(cost_rows))
    print()
    print(
        f"Disk after K periodic checkpoints (old: K full files; new: min(K, {KEEP_LAST}) `step_N.pt` + 1 buffers file):"
    )
    print()
    print("| setup | K | old | new | new / old | how |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(disk_rows))
    print()
    print("Notes:")
    print()
    for note in [
        *notes,
        f"Medians: save of `step_N.pt` over {small_repeats} repeats, of the buffers and old files over {repeats}; "
        "checksum and load over half as many (at least 3). One periodic checkpoint of the new layout: "
        "median of a series of `save_run_checkpoint` calls but the first.",
        "SHA-256: `digest(payload)` on the dict `checkpoint.save` builds, without the file; its share is of "
        "the median save. Load + verify: `checkpoint.load` into the same objects (torch.load, checksum, "
        "checks, load_state_dict) from the page cache.",
        "The new layout still writes the buffers at every checkpoint (with the newest one), so its time "
        "per checkpoint is about the old one's; what it saves is disk. During a save it briefly holds "
        f"{KEEP_LAST + 1} `step_N.pt` and 2 buffers files (the new one is written before the old is deleted).",
    ]:
        print(f"- {note}")


if __name__ == "__main__":
    main()
