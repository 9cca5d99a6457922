"""W&B in rlcore.logging: videos, the run's W&B id in ``wandb-id.txt`` and a resumed run.

The real W&B runs here are offline (no account, no network) and write only under ``tmp_path``.
What they recorded is read back from the offline run's transaction log (``run-<id>.wandb``,
the file ``wandb sync`` uploads) with W&B's protobuf messages and a reader of its record format
written here, not through rlcore. Each real ``wandb.init`` takes about a second (the first one
starts W&B's service), so there are five; the wiring of arguments is checked against a fake
``wandb`` module.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import sys
import time
import types
from pathlib import Path

import imageio_ffmpeg
import pytest
from test_logging_media import make_mp4
from wandb.proto import wandb_internal_pb2

from rlcore.logging import EVAL_RETURN_KEY, WANDB_ID_FILENAME, WandbLogger, make_logger


def offline_wandb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make W&B offline and quiet, with every directory it writes to under ``tmp_path``."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.setenv("WANDB_DISABLE_CODE", "true")
    for variable in (
        "WANDB_DIR",
        "WANDB_CACHE_DIR",
        "WANDB_CONFIG_DIR",
        "WANDB_DATA_DIR",
        "WANDB_ARTIFACT_DIR",
    ):
        monkeypatch.setenv(variable, str(tmp_path / "wandb-home" / variable.lower()))


def offline_runs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "wandb").glob("offline-run-*"), key=lambda path: path.name)


def wandb_records(offline_run: Path) -> list[wandb_internal_pb2.Record]:
    """The records of an offline run's ``run-<id>.wandb`` file, once it holds the run's exit record.

    W&B's service writes the file's last records just after ``run.finish()`` returns (a few
    milliseconds later), so the file is read again until they are there.
    """
    (path,) = offline_run.glob("run-*.wandb")
    deadline = time.monotonic() + 30.0
    while True:
        records = _read_records(path.read_bytes())
        if any(record.WhichOneof("record_type") == "exit" for record in records):
            return records
        assert time.monotonic() < deadline, f"{path} holds no exit record 30 s after run.finish()"
        time.sleep(0.01)


def _read_records(data: bytes) -> list[wandb_internal_pb2.Record]:
    """Parse W&B's transaction log: W&B's header (``:W&B``, magic ``0xBEE1``, version 0) and a
    LevelDB log, 32 KiB blocks of chunks that each have a 7-byte header (CRC, length, type: 1 full,
    2 first, 3 middle, 4 last); a block's tail shorter than a header is padding.
    """
    assert data[:7] == b":W&B" + struct.pack("<HB", 0xBEE1, 0)
    records, pending, position, block = [], b"", 7, 32768
    while position + 7 <= len(data):
        left_in_block = block - position % block
        if left_in_block < 7:
            position += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == 0:  # zeros at the end of the file
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def records_of(records: list[wandb_internal_pb2.Record], kind: str) -> list:
    return [getattr(record, kind) for record in records if record.WhichOneof("record_type") == kind]


def history(records: list[wandb_internal_pb2.Record]) -> list[tuple[int, dict[str, object]]]:
    """``(step, {key: value})`` of each logged row; nested keys joined with ``.``."""
    rows = []
    for row in records_of(records, "history"):
        values = {".".join(item.nested_key) or item.key: json.loads(item.value_json) for item in row.item}
        rows.append((row.step.num, {k: v for k, v in values.items() if not k.startswith("_")}))
    return rows


# ------------------------------------------------------------------ real offline runs
def test_a_resumed_logger_continues_the_wandb_run_of_the_id_file(monkeypatch, tmp_path):
    offline_wandb(monkeypatch, tmp_path)
    video = tmp_path / "rl-video-episode-0.mp4"
    make_mp4(video, frames=12)
    run_dir = tmp_path / "ppo_seed_0"
    config = {"learning_rate": 0.00025, "env_id": "CartPole-v1"}
    with WandbLogger(run_dir, project="rlcore-test", config=config) as logger:
        run_id = logger._run.id
        logger.write({"loss": 0.5}, step=1)
        logger.write_video("eval/video", video, step=2)
    assert re.fullmatch(r"[a-z0-9]{8}", run_id)
    assert (run_dir / WANDB_ID_FILENAME).read_text() == run_id + "\n"
    with WandbLogger(run_dir, project="rlcore-test", config=config, resume=True) as logger:
        assert logger._run.id == run_id
        logger.write({"loss": 0.25}, step=3)
    assert (run_dir / WANDB_ID_FILENAME).read_text() == run_id + "\n"

    first, second = offline_runs(run_dir)
    for offline_run in (first, second):
        assert re.fullmatch(rf"offline-run-\d{{8}}_\d{{6}}-{run_id}(-\d+)?", offline_run.name)
        (run,) = records_of(wandb_records(offline_run), "run")
        assert run.run_id == run_id and run.project == "rlcore-test" and run.display_name == "ppo_seed_0"
    (run,) = records_of(wandb_records(first), "run")
    assert {
        item.key: json.loads(item.value_json) for item in run.config.update if item.key != "_wandb"
    } == config
    assert history(wandb_records(second)) == [(3, {"loss": 0.25})]

    # The video: a history row at its step, and the file copied byte for byte into the run's media.
    rows = history(wandb_records(first))
    assert rows[0] == (1, {"loss": 0.5})
    step, values = rows[1]
    assert step == 2 and values["eval/video._type"] == "video-file"
    (copied,) = (first / "files" / "media" / "videos").rglob("*.mp4")
    assert values["eval/video.path"] == copied.relative_to(first / "files").as_posix()
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == hashlib.sha256(video.read_bytes()).hexdigest()
    assert imageio_ffmpeg.count_frames_and_secs(str(copied))[0] == 12


def test_resume_without_an_id_file_warns_and_starts_a_new_run(monkeypatch, tmp_path):
    offline_wandb(monkeypatch, tmp_path)
    id_file = tmp_path / WANDB_ID_FILENAME
    with (
        pytest.warns(
            UserWarning, match=rf"WandbLogger: resume=True but '{re.escape(str(id_file))}' does not exist"
        ),
        WandbLogger(tmp_path, project="rlcore-test", resume=True) as logger,
    ):
        run_id = logger._run.id
    assert id_file.read_text() == run_id + "\n"
    (offline_run,) = offline_runs(tmp_path)
    assert offline_run.name.endswith("-" + run_id)


def test_an_id_given_to_wandb_init_wins_over_the_file_and_is_recorded(monkeypatch, tmp_path):
    offline_wandb(monkeypatch, tmp_path)
    (tmp_path / WANDB_ID_FILENAME).write_text("older01\n")
    with WandbLogger(tmp_path, project="rlcore-test", resume=True, id="chosen01", name="mine") as logger:
        assert logger._run.id == "chosen01"
    assert (tmp_path / WANDB_ID_FILENAME).read_text() == "chosen01\n"
    (run,) = records_of(wandb_records(offline_runs(tmp_path)[0]), "run")
    assert (run.run_id, run.display_name) == ("chosen01", "mine")


def test_make_logger_append_continues_the_wandb_run(monkeypatch, tmp_path):
    offline_wandb(monkeypatch, tmp_path)
    run_dir = tmp_path / "seed_1"
    config = {"lr": 0.1, "seed": 1}
    with make_logger(
        run_dir, backends=("csv", "wandb"), config=config, wandb_project="rlcore-test"
    ) as logger:
        logger.write({EVAL_RETURN_KEY: 1.0}, step=10)
    with make_logger(
        run_dir, backends=("csv", "wandb"), config=config, wandb_project="rlcore-test", append=True
    ) as logger:
        logger.write({EVAL_RETURN_KEY: 2.0}, step=20)
    run_id = (run_dir / WANDB_ID_FILENAME).read_text().strip()
    runs = [records_of(wandb_records(path), "run")[0] for path in offline_runs(run_dir)]
    assert [run.run_id for run in runs] == [run_id, run_id]


# ------------------------------------------------------------------ the id file is untrusted
@pytest.mark.parametrize(
    "content",
    [
        b"../x",
        b"A B",
        b"a" * 100,
        b"a" * 65 + b"\n",
        b"",
        b"\n",
        b"abc\n\n",
        b"ABC123",
        b"abc-def",
        b"\xff\xfe",
        b" abc",
    ],
)
def test_a_corrupt_id_file_is_a_value_error_naming_the_file(monkeypatch, tmp_path, content):
    offline_wandb(monkeypatch, tmp_path)
    id_file = tmp_path / WANDB_ID_FILENAME
    id_file.write_bytes(content)
    with pytest.raises(
        ValueError,
        match=rf"WandbLogger: the W&B id file '{re.escape(str(id_file))}' holds .*, expected a W&B run id of "
        r"1 to 64 characters a-z and 0-9",
    ):
        WandbLogger(tmp_path, project="rlcore-test", resume=True)
    assert id_file.read_bytes() == content
    assert not (tmp_path / "wandb").exists()  # wandb.init was not called


def test_a_bad_id_in_init_kwargs_is_a_value_error(monkeypatch, tmp_path):
    offline_wandb(monkeypatch, tmp_path)
    with pytest.raises(
        ValueError, match=r'WandbLogger: init_kwargs\["id"\] holds \'My-Run\', expected a W&B run id'
    ):
        WandbLogger(tmp_path, id="My-Run")
    assert not (tmp_path / WANDB_ID_FILENAME).exists() and not (tmp_path / "wandb").exists()


# ------------------------------------------------------------------ the wiring, with a fake wandb
class FakeWandb:
    """A stand-in ``wandb`` module that records ``init`` arguments and what the run logs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple] = []
        module = types.ModuleType("wandb")
        module.init = self.init
        module.Video = lambda path, format=None: ("Video", path, format)
        monkeypatch.setitem(sys.modules, "wandb", module)

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        calls = self.calls

        class Run:
            id = kwargs["id"]

            def log(self, data, step):
                calls.append(("log", data, step))

            def finish(self):
                calls.append(("finish",))

        return Run()


@pytest.mark.parametrize("content", [b"abc123\n", b"abc123", b"abc123\r\n", b"z" * 64 + b"\n"])
def test_a_valid_id_file_is_resumed_with_resume_allow(monkeypatch, tmp_path, content):
    fake = FakeWandb(monkeypatch)
    (tmp_path / WANDB_ID_FILENAME).write_bytes(content)
    WandbLogger(tmp_path, resume=True).close()
    (_, kwargs), _ = fake.calls
    assert (kwargs["id"], kwargs["resume"]) == (content.decode().strip(), "allow")


def test_make_logger_passes_wandb_kwargs_resume_and_the_id(monkeypatch, tmp_path):
    fake = FakeWandb(monkeypatch)
    video = tmp_path / "episode.mp4"
    video.write_bytes(b"an mp4")
    run_dir = tmp_path / "ppo_seed_2"
    wandb_kwargs = {"entity": "lab", "group": "ppo", "tags": ["cartpole"], "mode": "offline"}
    with make_logger(
        run_dir, backends=("wandb",), config={"lr": 0.1}, wandb_project="proj", wandb_kwargs=wandb_kwargs
    ) as logger:
        logger.write_video("eval/video", video, step=4)
    run_id = (run_dir / WANDB_ID_FILENAME).read_text().strip()
    assert fake.calls == [
        (
            "init",
            {
                "id": run_id,
                "project": "proj",
                "dir": str(run_dir),
                "config": {"lr": 0.1},
                **wandb_kwargs,
                "name": "ppo_seed_2",
            },
        ),
        ("log", {"eval/video": ("Video", str(video), "mp4")}, 4),
        ("finish",),
    ]
    fake.calls.clear()
    with make_logger(run_dir, backends=("wandb",), append=True, wandb_kwargs={"name": "renamed"}):
        pass
    (_, kwargs), _ = fake.calls
    assert kwargs == {
        "id": run_id,
        "project": None,
        "dir": str(run_dir),
        "config": None,
        "name": "renamed",
        "resume": "allow",
    }


def test_wandb_write_video_checks_its_arguments_and_the_closed_logger(monkeypatch, tmp_path):
    fake = FakeWandb(monkeypatch)
    logger = WandbLogger(tmp_path)
    with pytest.raises(
        FileNotFoundError, match=r"WandbLogger\.write_video: the video file .* does not exist"
    ):
        logger.write_video("eval/video", tmp_path / "missing.mp4", 1)
    with pytest.raises(ValueError, match=r"WandbLogger\.write_video: step must be an int >= 0, got -1"):
        logger.write_video("eval/video", tmp_path / WANDB_ID_FILENAME, -1)
    logger.close()
    with pytest.raises(RuntimeError, match=r"WandbLogger\.write_video: the logger of .* is closed"):
        logger.write_video("eval/video", tmp_path / WANDB_ID_FILENAME, 1)
    assert [call[0] for call in fake.calls] == ["init", "finish"]
