"""rlcore.checkpoint against the faults of issue 14: damaged bits, ill-formed payloads, half-done loads,
saves killed mid-write and full disks. Each test reproduces an input that the adversarial review found.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import rlcore.checkpoint as checkpoint
from rlcore._checkpoint_format import digest, temporary_name
from rlcore.buffers import ReplayBuffer
from rlcore.checkpoint import CheckpointError, load, save, verify


def _payload(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = torch.load(path, weights_only=True)
    return payload


def _rewrite(path: Path, payload: dict[str, Any], *, checksum: bool = True) -> None:
    if checksum:
        payload["checksum"] = digest(payload)
    torch.save(payload, path)


# --------------------------------------------------------------------------- integrity
def test_a_flipped_bit_in_the_weights_is_refused(tmp_path: Path) -> None:
    model = nn.Linear(64, 64)
    path = save(tmp_path / "ckpt.pt", model=model)
    data = bytearray(path.read_bytes())
    at = bytes(data).find(model.weight.detach().numpy().tobytes())
    assert at > 0
    data[at + 3] ^= 0x40  # the exponent of the first weight: about 1e38 instead of about 0.1
    path.write_bytes(bytes(data))
    assert abs(_payload(path)["objects"]["model"]["weight"][0, 0].item()) > 1e30  # torch loads it as is
    fresh = nn.Linear(64, 64)
    before = fresh.weight.detach().clone()
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))} is damaged: its checksum is sha256:"):
        load(path, model=fresh)
    assert torch.equal(fresh.weight, before)
    with pytest.raises(CheckpointError, match=r"checkpoint.verify: .* is damaged"):
        verify(path)


@pytest.mark.parametrize("where", ["metadata", "rng", "versions"])
def test_a_changed_value_anywhere_in_the_file_is_refused(tmp_path: Path, where: str) -> None:
    path = save(tmp_path / "ckpt.pt", metadata={"step": 100}, model=nn.Linear(2, 2))
    payload = _payload(path)
    if where == "metadata":
        payload["metadata"] = '{"step": 900}'
    elif where == "rng":
        payload["rng"]["numpy"]["pos"] = (payload["rng"]["numpy"]["pos"] + 1) % 624
    else:
        payload["versions"]["torch"] = "0.0.1"
    _rewrite(path, payload, checksum=False)
    with pytest.raises(CheckpointError, match="is damaged: its checksum"):
        load(path, model=nn.Linear(2, 2))


def test_verify_returns_the_metadata_and_loads_nothing(tmp_path: Path) -> None:
    model = nn.Linear(3, 3)
    path = save(tmp_path / "ckpt.pt", metadata={"step": 7}, model=model)
    state = random.getstate()
    assert verify(path) == {"step": 7}
    assert random.getstate() == state
    with pytest.raises(FileNotFoundError, match=r"checkpoint.verify: no checkpoint file at"):
        verify(tmp_path / "missing.pt")


def test_a_version_1_file_without_checksum_still_loads(tmp_path: Path) -> None:
    model = nn.Linear(3, 3)
    path = save(tmp_path / "old.pt", metadata={"step": 3}, model=model)
    payload = _payload(path)
    payload["format_version"] = 1
    del payload["checksum"]
    _rewrite(path, payload, checksum=False)
    fresh = nn.Linear(3, 3)
    assert load(path, model=fresh) == {"step": 3}
    assert torch.equal(fresh.weight, model.weight)
    payload["format_version"] = 2  # but a version 2 file must have one
    _rewrite(path, payload, checksum=False)
    with pytest.raises(CheckpointError, match=r"is incomplete: missing entries \['checksum'\]"):
        load(path, model=fresh)


class _State:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state


def test_every_kind_of_tensor_round_trips_through_the_checksum(tmp_path: Path) -> None:
    matrix = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    odd = {
        "transposed": matrix.t(),
        "sliced": matrix[:, ::2],
        "conjugated": torch.tensor([1 + 2j, 3 - 1j]).conj(),
        "negated": torch.tensor([1 + 2j]).conj().imag,
        "bfloat16": torch.ones(3, dtype=torch.bfloat16),
        "bool": torch.tensor([True, False]),
        "empty": torch.zeros(0, 5),
        "scalar": torch.tensor(2.5),
        "sparse": torch.eye(3).to_sparse(),
        "nested": [(1, 2.5, None, "x", b"y", torch.float16, torch.device("cpu"), 1 + 1j)],
    }
    path = save(tmp_path / "odd.pt", thing=_State(odd))
    loaded = _State({})
    load(path, thing=loaded)
    for key, value in odd.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(loaded.state[key].to_dense(), value.to_dense().resolve_conj().resolve_neg()), (
                key
            )


_DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.uint8, torch.bool]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shapes=st.lists(st.lists(st.integers(1, 5), min_size=1, max_size=3), min_size=1, max_size=4),
    dtypes=st.lists(st.sampled_from(_DTYPES), min_size=4, max_size=4),
    seed=st.integers(0, 2**31 - 1),
    bit=st.integers(0, 10_000),
)
def test_any_flipped_bit_in_any_tensor_is_caught(
    tmp_path: Path, shapes: list[list[int]], dtypes: list[torch.dtype], seed: int, bit: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    state = {
        f"t{i}": (torch.rand(shape, generator=generator) * 200).to(dtypes[i])
        for i, shape in enumerate(shapes)
    }
    state["marker"] = torch.randint(0, 2**62, (2,), generator=generator)  # 16 bytes found once in the file
    path = save(tmp_path / f"ckpt{seed}.pt", thing=_State(state))
    load(path, thing=_State({}), restore_rng=False)  # whole: loads
    data = bytearray(path.read_bytes())
    raw = state[f"t{bit % len(shapes)}"].numpy().tobytes()
    if bit % 2 or len(raw) < 16 or bytes(data).count(raw) != 1:  # where it is found for sure
        raw = state["marker"].numpy().tobytes()
    at = bytes(data).find(raw)
    assert at >= 0 and bytes(data).count(raw) == 1
    flipped = at * 8 + bit % (len(raw) * 8)
    data[flipped // 8] ^= 1 << (flipped % 8)
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is damaged: its checksum"):
        load(path, thing=_State({}), restore_rng=False)


def test_a_value_no_checkpoint_holds_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(
        CheckpointError,
        match=r"checkpoint.save: the checkpoint holds a builtins.set at objects\['thing'\]\['tags'\], which no "
        r"checkpoint holds .*; nothing was written",
    ):
        save(tmp_path / "ckpt.pt", thing=_State({"tags": {"a", "b"}}))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- ill-formed payloads
def _break(payload: dict[str, Any], case: str) -> None:
    rng = payload["rng"]
    edits = {
        "versions-list": lambda: payload.update(versions=["2.0"]),
        "versions-number": lambda: payload.update(versions={"rlcore": 2}),
        "metadata-int": lambda: payload.update(metadata=123),
        "metadata-bad-json": lambda: payload.update(metadata="{not json"),
        "metadata-list": lambda: payload.update(metadata="[1, 2]"),
        "objects-list": lambda: payload.update(objects=[1]),
        "objects-int-key": lambda: payload.update(objects={1: {}}),
        "rng-empty": lambda: payload.update(rng={}),
        "rng-python": lambda: rng.update(python=(3, (1, 2), None)),
        "rng-numpy-key": lambda: rng["numpy"].update(key=[1, 2, 3]),
        "rng-numpy-missing": lambda: rng["numpy"].pop("pos"),
        "rng-torch-size": lambda: rng.update(torch=torch.zeros(7, dtype=torch.uint8)),
        "rng-torch-type": lambda: rng.update(torch="state"),
        "rng-cuda": lambda: rng.update(cuda=[1.5]),
        "format-version-str": lambda: payload.update(format_version="2"),
        "format-version-bool": lambda: payload.update(format_version=True),
        "format-version-0": lambda: payload.update(format_version=0),
    }
    edits[case]()


@pytest.mark.parametrize(
    "case",
    [
        "versions-list",
        "versions-number",
        "metadata-int",
        "metadata-bad-json",
        "metadata-list",
        "objects-list",
        "objects-int-key",
        "rng-empty",
        "rng-python",
        "rng-numpy-key",
        "rng-numpy-missing",
        "rng-torch-size",
        "rng-torch-type",
        "rng-cuda",
        "format-version-str",
        "format-version-bool",
        "format-version-0",
    ],
)
def test_a_well_formed_file_with_a_wrong_payload_raises_checkpoint_error(tmp_path: Path, case: str) -> None:
    model = nn.Linear(2, 2)
    path = save(tmp_path / "ckpt.pt", metadata={"step": 1}, model=model)
    payload = _payload(path)
    _break(payload, case)
    _rewrite(path, payload)  # a checksum that matches: the structure itself is wrong
    fresh = nn.Linear(2, 2)
    before = [p.detach().clone() for p in fresh.parameters()]
    state = (random.getstate(), torch.get_rng_state())
    with pytest.raises(CheckpointError, match=rf"checkpoint.load: {re.escape(str(path))} (has|is)"):
        load(path, model=fresh)
    assert all(torch.equal(p, b) for p, b in zip(fresh.parameters(), before, strict=True))
    assert random.getstate() == state[0] and torch.equal(torch.get_rng_state(), state[1])


# --------------------------------------------------------------------------- all or nothing
def test_an_unusable_rng_state_is_refused_before_any_object_is_loaded(tmp_path: Path) -> None:
    saved = nn.Linear(4, 4)
    path = save(tmp_path / "ckpt.pt", model=saved)
    payload = _payload(path)
    payload["rng"]["torch"] = payload["rng"]["torch"][:100]
    _rewrite(path, payload)
    fresh = nn.Linear(4, 4)
    before = fresh.weight.detach().clone()
    with pytest.raises(CheckpointError, match=r"unusable rng\['torch'\] state"):
        load(path, model=fresh)
    assert torch.equal(fresh.weight, before)


def test_objects_loaded_before_a_failing_one_get_their_state_back(tmp_path: Path) -> None:
    actor, critic = nn.Linear(3, 2), nn.Linear(3, 1)
    optimizer = torch.optim.Adam([*actor.parameters(), *critic.parameters()])
    actor(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    path = save(tmp_path / "ckpt.pt", actor=actor, optimizer=optimizer, critic=critic)
    fresh_actor, wrong_critic = nn.Linear(3, 2), nn.Linear(3, 4)  # the critic's shapes do not match
    fresh_optimizer = torch.optim.Adam([*fresh_actor.parameters(), *wrong_critic.parameters()])
    actor_before = {k: v.clone() for k, v in fresh_actor.state_dict().items()}
    critic_before = {k: v.clone() for k, v in wrong_critic.state_dict().items()}
    state = random.getstate()
    with pytest.raises(
        CheckpointError, match=r"(?s)loading object 'critic' .* failed: .*; no object was changed"
    ):
        load(path, actor=fresh_actor, optimizer=fresh_optimizer, critic=wrong_critic)
    for name, value in fresh_actor.state_dict().items():
        assert torch.equal(value, actor_before[name]), name
    for name, value in wrong_critic.state_dict().items():
        assert torch.equal(value, critic_before[name]), name  # partly copied by torch, then restored
    assert fresh_optimizer.state_dict()["state"] == {}
    assert random.getstate() == state


def test_a_replay_buffer_is_checked_before_anything_loads_and_is_never_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    buffer = ReplayBuffer(64, space, spaces.Discrete(2), autoreset_mode="SameStep", seed=0)
    for _ in range(5):
        buffer.add(np.zeros((1, 3)), np.ones((1, 3)), np.zeros(1, np.int64), np.ones(1), [False], [False])
    model = nn.Linear(2, 2)
    path = save(tmp_path / "ckpt.pt", model=model, buffer=buffer)
    smaller = ReplayBuffer(32, space, spaces.Discrete(2), autoreset_mode="SameStep", seed=0)
    fresh = nn.Linear(2, 2)
    before = fresh.weight.detach().clone()
    with pytest.raises(CheckpointError, match=r"loading object 'buffer' \(ReplayBuffer\) .* has shape"):
        load(path, model=fresh, buffer=smaller)
    assert torch.equal(fresh.weight, before) and len(smaller) == 0
    copied = []
    real_deepcopy = checkpoint.copy.deepcopy

    def counting_deepcopy(value: Any, *args: Any) -> Any:
        if not args:  # a top-level copy (the copy module's own recursion passes its memo)
            copied.append(value)
        return real_deepcopy(value, *args)

    monkeypatch.setattr(checkpoint.copy, "deepcopy", counting_deepcopy)
    same = ReplayBuffer(64, space, spaces.Discrete(2), autoreset_mode="SameStep", seed=0)
    load(path, model=fresh, buffer=same)
    assert len(same) == 5 and len(copied) == 1  # the module is snapshotted, the buffer is not
    with pytest.raises(KeyError):
        smaller.check_state_dict({"head": 0})


# --------------------------------------------------------------------------- killed saves, full disks
_KILLED_SAVE = textwrap.dedent(
    """
    import os, sys, time, torch
    from rlcore import checkpoint
    real_fsync = os.fsync
    def stall(fd):
        real_fsync(fd)
        print("written", flush=True)
        time.sleep(600)
    os.fsync = stall
    checkpoint.save(sys.argv[1], weights=torch.nn.Linear(512, 512))
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_the_temporary_file_of_a_save_killed_mid_write_is_deleted_by_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.pt"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SAVE, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "written\n"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    orphans = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(orphans) == 1 and orphans[0].stat().st_size > 512 * 512 * 4  # full size, never renamed
    assert not target.exists()
    save(target, weights=nn.Linear(2, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_the_temporary_files_of_live_saves_are_kept(tmp_path: Path) -> None:
    live = temporary_name(tmp_path / "other.pt", "a" * 32).name
    parent_pid = str(os.getppid())
    live = live.replace(f"-{os.getpid()}.", f"-{parent_pid}.")  # a save another live process is making
    (tmp_path / live).write_bytes(b"partial")
    (tmp_path / ".notes.tmp").write_bytes(b"not ours")
    save(tmp_path / "ckpt.pt", weights=nn.Linear(2, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".notes.tmp", live, "ckpt.pt"])


def test_a_full_disk_is_reported_as_such_and_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    path = save(tmp_path / "ckpt.pt", metadata={"step": 1}, weights=nn.Linear(8, 8))
    before = path.read_bytes()

    def open_on_a_full_disk(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        Path(file).touch()  # the temporary file exists, as it would
        return open("/dev/full", "wb")

    monkeypatch.setattr(checkpoint, "open", open_on_a_full_disk, raising=False)
    with pytest.raises(
        CheckpointError,
        match=r"no space left on the device of .* writing ckpt.pt \(it needs about 0.0 MB, .* free\); "
        r"nothing was written and the previous checkpoint is intact",
    ):
        save(path, metadata={"step": 2}, weights=nn.Linear(8, 8))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]
    assert load(path, weights=nn.Linear(8, 8)) == {"step": 1}
