"""Tests of rlcore.checkpoint: bitwise resume, atomic writes, weights_only loading, clear errors."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rlcore
from rlcore import checkpoint
from rlcore.checkpoint import CheckpointError, CheckpointVersionWarning, load, save
from rlcore.seeding import seed_everything
from rlcore.stats import RunningMeanStd

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- a small training run
def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1234)
    x = torch.randn(64, 8, generator=generator)
    return x, x.sum(1, keepdim=True).sin()


def _make() -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Fresh objects; their initial weights come from the global torch RNG as it stands."""
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Dropout(0.3), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.7)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, steps: int) -> None:
    """Every RNG matters: minibatch order (torch), dropout (torch), noise (NumPy), skips (random)."""
    x, y = _data()
    model.train()
    for _ in range(steps):
        index = torch.randperm(64)[:16]
        noise = torch.from_numpy(np.random.normal(0.0, 0.01, size=(16, 1)).astype(np.float32))  # noqa: NPY002
        loss = ((model(x[index]) - y[index] - noise) ** 2).mean()
        if random.random() < 0.2:
            loss = loss * 0.5
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def _straight_run(steps: int) -> nn.Module:
    seed_everything(7)
    objects = _make()
    _train(*objects, steps)
    return objects[0]


def _first_half(path: str | Path, steps: int) -> None:
    """The interrupted run: the straight run's first ``steps`` steps, then a checkpoint."""
    seed_everything(7)
    model, optimizer, scheduler = _make()
    _train(model, optimizer, scheduler, steps)
    save(path, model=model, optimizer=optimizer, scheduler=scheduler, metadata={"step": steps})


def _second_half(path: Path, steps: int, restore_rng: bool = True) -> nn.Module:
    """Another process state (other RNG draws, initial weights, optimiser state), then resume."""
    seed_everything(99)
    model, optimizer, scheduler = _make()
    _train(model, optimizer, scheduler, 3)
    metadata = load(path, restore_rng=restore_rng, model=model, optimizer=optimizer, scheduler=scheduler)
    assert metadata == {"step": steps}
    _train(model, optimizer, scheduler, steps)
    return model


def _same_parameters(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_resumed_training_is_bitwise_identical_to_an_uninterrupted_run(tmp_path):
    n = 12
    _first_half(tmp_path / "ckpt.pt", n)
    assert _same_parameters(_straight_run(2 * n), _second_half(tmp_path / "ckpt.pt", n))


def test_resuming_in_a_fresh_process_is_bitwise_identical(tmp_path):
    n = 10
    code = f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from test_checkpoint import _first_half
        _first_half({str(tmp_path / "ckpt.pt")!r}, {n})
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True)
    assert _same_parameters(_straight_run(2 * n), _second_half(tmp_path / "ckpt.pt", n))


def test_without_restore_rng_the_run_diverges(tmp_path):
    n = 6
    _first_half(tmp_path / "ckpt.pt", n)
    assert not _same_parameters(
        _straight_run(2 * n), _second_half(tmp_path / "ckpt.pt", n, restore_rng=False)
    )


# --------------------------------------------------------------------------- file format
def test_file_loads_with_weights_only_and_holds_versions_rng_and_metadata(tmp_path):
    rms = RunningMeanStd(shape=(2,))
    rms.update(np.array([[1.0, 2.0], [3.0, 5.0]]))
    path = save(
        tmp_path / "sub" / "dir" / "ckpt.pt", rms=rms, metadata={"config": {"lr": 3e-4, "layers": (64, 64)}}
    )
    assert path == tmp_path / "sub" / "dir" / "ckpt.pt"
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "rlcore.checkpoint" and payload["format_version"] == 2
    assert payload["checksum"].startswith("sha256:") and len(payload["checksum"]) == len("sha256:") + 64
    assert payload["versions"]["rlcore"] == rlcore.__version__
    assert payload["versions"]["torch"] == str(torch.__version__)
    assert json.loads(payload["metadata"]) == {"config": {"lr": 3e-4, "layers": [64, 64]}}
    assert set(payload["rng"]) == {"python", "numpy", "torch", "cuda"}
    restored = RunningMeanStd(shape=(2,))
    assert load(path, rms=restored) == {"config": {"lr": 3e-4, "layers": [64, 64]}}
    np.testing.assert_array_equal(restored.mean, rms.mean)
    np.testing.assert_array_equal(restored.var, rms.var)
    assert restored.count == rms.count
    assert load(path, strict=False, restore_rng=False) == {"config": {"lr": 3e-4, "layers": [64, 64]}}
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt.pt"]


def test_every_rng_is_restored(tmp_path):
    seed_everything(3)
    save(tmp_path / "ckpt.pt")
    expected = (random.random(), np.random.normal(), np.random.rand(), torch.randn(3))  # noqa: NPY002
    seed_everything(4)
    np.random.normal()  # noqa: NPY002 (leaves a cached Gaussian in the legacy state)
    assert load(tmp_path / "ckpt.pt") == {}
    got = (random.random(), np.random.normal(), np.random.rand(), torch.randn(3))  # noqa: NPY002
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])


# --------------------------------------------------------------------------- atomic write
def test_a_crash_mid_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    model = nn.Linear(4, 2)
    save(path, model=model, metadata={"step": 1})
    before, saved_weight = path.read_bytes(), model.weight.detach().clone()
    real_save = torch.save

    def crashing_save(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        file.seek(0)
        file.truncate(100)  # half-written file, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", crashing_save)
    with torch.no_grad():
        model.weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save(path, model=model, metadata={"step": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind
    fresh = nn.Linear(4, 2)
    assert load(path, model=fresh) == {"step": 1}
    assert torch.equal(fresh.weight, saved_weight)


def test_a_state_dict_that_needs_pickling_is_refused_before_replacing(tmp_path):
    class NumpyState:
        def state_dict(self):
            return {"inner": {"obs": np.zeros(3)}}

    path = tmp_path / "ckpt.pt"
    save(path, metadata={"step": 1})
    before = path.read_bytes()
    with pytest.raises(
        CheckpointError,
        match=r"checkpoint.save: object 'buffer' has a numpy.ndarray at state_dict\(\)\['inner'\]\['obs'\]; "
        r"torch.load\(weights_only=True\) could not load the checkpoint .*numpy.ndarray",
    ):
        save(path, model=nn.Linear(2, 2), buffer=NumpyState())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_save_rejects_bad_arguments(tmp_path):
    with pytest.raises(
        TypeError, match=r"checkpoint.save: object 'env' \(object\) has no state_dict\(\) method"
    ):
        save(tmp_path / "a.pt", env=object())
    with pytest.raises(
        TypeError, match=r"checkpoint.save: metadata must be JSON-serialisable: Object of type ndarray"
    ):
        save(tmp_path / "a.pt", metadata={"obs": np.zeros(2)})
    with pytest.raises(TypeError, match=r"checkpoint.save: metadata must be a mapping or None, got list"):
        save(tmp_path / "a.pt", metadata=[1, 2])  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- load errors
def test_a_checkpoint_from_another_version_loads_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(rlcore.checkpoint, "__version__", "0.0.1")
    save(tmp_path / "old.pt", model=nn.Linear(2, 2))
    monkeypatch.undo()
    message = rf"checkpoint {re.escape(str(tmp_path / 'old.pt'))} was saved by rlcore 0.0.1, and is being loaded by rlcore {re.escape(rlcore.__version__)}"
    with pytest.warns(CheckpointVersionWarning, match=message):
        load(tmp_path / "old.pt", model=nn.Linear(2, 2))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_corrupt_file_fails_with_its_path(tmp_path, damage):
    path = tmp_path / "ckpt.pt"
    save(path, model=nn.Linear(16, 16))
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(2000), "empty": b""}[damage])
    with pytest.raises(
        CheckpointError, match=rf"checkpoint.load: cannot read {re.escape(str(path))}: the file is corrupt"
    ):
        load(path, model=nn.Linear(16, 16))


def test_foreign_and_unsafe_files_are_refused(tmp_path):
    torch.save({"model": nn.Linear(2, 2).state_dict()}, tmp_path / "plain.pt")
    with pytest.raises(
        CheckpointError,
        match=r"plain.pt is not an rlcore checkpoint \(no 'format': 'rlcore.checkpoint' entry\)",
    ):
        load(tmp_path / "plain.pt")
    torch.save({"format": "rlcore.checkpoint", "array": np.zeros(2)}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match=r"cannot read .*pickled.pt: .*weights_only=True"):
        load(tmp_path / "pickled.pt")
    torch.save({"format": "rlcore.checkpoint", "format_version": 3}, tmp_path / "future.pt")
    with pytest.raises(
        CheckpointError,
        match=r"future.pt has checkpoint format_version 3; this rlcore reads versions 1 to 2; upgrade rlcore",
    ):
        load(tmp_path / "future.pt")
    torch.save({"format": "rlcore.checkpoint", "format_version": 1, "objects": {}}, tmp_path / "partial.pt")
    with pytest.raises(
        CheckpointError, match=r"partial.pt is incomplete: missing entries \['versions', 'metadata', 'rng'\]"
    ):
        load(tmp_path / "partial.pt")
    with pytest.raises(FileNotFoundError, match=r"checkpoint.load: no checkpoint file at .*missing.pt"):
        load(tmp_path / "missing.pt")


def test_object_mismatches_fail_clearly(tmp_path):
    path = tmp_path / "ckpt.pt"
    save(path, actor=nn.Linear(3, 2), critic=nn.Linear(3, 1))
    with pytest.raises(
        CheckpointError, match=r"ckpt.pt has no object named \['target'\]; it holds \['actor', 'critic'\]"
    ):
        load(path, actor=nn.Linear(3, 2), target=nn.Linear(3, 1))
    with pytest.raises(
        CheckpointError,
        match=r"ckpt.pt also holds \['critic'\], which were not passed; pass them too, or strict=False",
    ):
        load(path, actor=nn.Linear(3, 2))
    actor = nn.Linear(3, 2)
    load(path, strict=False, actor=actor)
    assert torch.equal(actor.weight, torch.load(path, weights_only=True)["objects"]["actor"]["weight"])
    with pytest.raises(
        CheckpointError,
        match=r"loading object 'critic' \(Linear\) from .*ckpt.pt failed: RuntimeError: Error\(s\) in loading state_dict",
    ):
        load(path, actor=nn.Linear(3, 2), critic=nn.Linear(3, 4))
    with pytest.raises(
        TypeError, match=r"checkpoint.load: object 'critic' \(int\) has no load_state_dict\(\) method"
    ):
        load(path, actor=nn.Linear(3, 2), critic=3)


def test_cuda_rng_states_that_cannot_be_restored_warn(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        checkpoint.torch.cuda, "get_rng_state_all", lambda: [torch.zeros(16, dtype=torch.uint8)] * 2
    )
    save(tmp_path / "gpu.pt")
    monkeypatch.undo()
    assert len(torch.load(tmp_path / "gpu.pt", weights_only=True)["rng"]["cuda"]) == 2
    if torch.cuda.is_available():
        pytest.skip("the warning path is for machines without CUDA")
    with pytest.warns(
        UserWarning, match=r"CUDA RNG states of 2 device\(s\) were saved but CUDA is not available"
    ):
        load(tmp_path / "gpu.pt")
