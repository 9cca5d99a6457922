"""The evaluate command of a project: a run's saved policy, evaluated and recorded (rl-zoo's "enjoy").

A project's ``evaluate.py`` is ``sys.exit(evaluate_main(AGENTS, prog="python -m <pkg>.evaluate"))``::

    python -m <pkg>.evaluate RUN_DIR                     # the newest usable checkpoint
    python -m <pkg>.evaluate RUN_DIR --checkpoint 50000 --episodes 20 --video --seed 7

:func:`evaluate_run` builds the agent's networks (:attr:`rlcore.runs.Agent.policy`) for the
run's saved config, loads a checkpoint's weights and observation statistics into them (frozen),
runs the deterministic policy for whole episodes, and writes ``evaluate-<step>.json`` in the
run directory (with ``--video``, ``videos/evaluate-step_<step>-episode-<k>.mp4`` too). It works
on a finished run and on an interrupted one (a checkpoint is all it needs), and reads the run
directory as untrusted input: ``config.json`` is checked field by field, only regular files
inside ``checkpoints/`` are loaded, and those weights-only, after their checksum.

By default the episodes are the run's own final evaluation's: the ``"eval"`` seed stream of the
run's ``seed`` (independent of the training envs' streams), on as many sub-envs. Evaluating the
last checkpoint of a finished run therefore reproduces ``eval.json``; ``--seed`` draws others.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlcore import checkpoint
from rlcore._rundir import checkpoint_step, checkpoints, read_record
from rlcore._version import __version__
from rlcore.evaluation import evaluate
from rlcore.runs._agents import Registry
from rlcore.runs._config_files import saved_config
from rlcore.runs._envs import check_device, check_env_id, make_envs, video_env
from rlcore.runs._evaluations import evaluation_report, record_videos
from rlcore.runs._log import write_atomically
from rlcore.runs._resume import newest_usable
from rlcore.wrappers.vector.normalize import NormalizeObservation

__all__ = ["evaluate_main", "evaluate_run"]

_NORMALIZER = "NormalizeObservation"  # the name a run's checkpoints save the statistics under
_MAX_EVAL_ENVS = 10  # a checkpoint of rlcore 0.2 does not say how many evaluation envs the run had


def evaluate_run(
    registry: Registry,
    run_dir: str | Path,
    *,
    checkpoint_at: int | None = None,
    episodes: int | None = None,
    seed: int | None = None,
    video: bool = False,
    video_episodes: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate the policy saved in a run directory; write and return ``evaluate-<step>.json``.

    Args:
        registry: the project's agents; the run's ``config.json`` names which one made it.
        run_dir: the run directory (finished or interrupted).
        checkpoint_at: the step of the checkpoint to load (``checkpoints/step_<step>.pt``);
            None: the newest one that verifies.
        episodes: episodes to evaluate; None: the run's ``final_eval_episodes``.
        seed: base seed of the evaluation episodes' ``"eval"`` stream; None: the run's seed.
        video: also record ``video_episodes`` episodes (default: the run's ``video_episodes``).
        device: the torch device of the networks.

    Returns:
        The report: ``run_dir``, ``algo``, ``env_id``, ``checkpoint``, ``step``, ``seed``, the
        statistics of :func:`rlcore.runs.evaluation_report` (mean, std, IQM, every episode),
        ``videos`` and ``rlcore_version``; also written to ``run_dir/evaluate-<step>.json``.

    Raises:
        FileNotFoundError: if ``run_dir`` holds no ``config.json`` or no checkpoint (of that step).
        KeyError: if the registry has no agent of the run's name.
        ValueError: for a bad ``config.json``, an agent without a ``policy`` builder, or a bad
            argument.
        rlcore.checkpoint.CheckpointError: if the checkpoint is damaged or does not fit.
    """
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    algo = record.get("algo")
    if not isinstance(algo, str):
        raise ValueError(f"evaluate: {run_dir / 'config.json'} names no agent (its 'algo' key)")
    agent = registry[algo]
    if agent.policy is None:
        raise ValueError(
            f"evaluate: agent {algo!r} has no policy builder: give its Agent(...) policy=..., "
            "a function (config, envs, device) -> (networks, deterministic policy)"
        )
    config = saved_config(run_dir, agent.config_type)
    check_env_id(config.env_id)
    torch_device = check_device(device)
    path = _checkpoint(run_dir, checkpoint_at)
    metadata = checkpoint.verify(path)
    step = checkpoint_step(path)
    saved = metadata.get("objects")
    # Checkpoints of rlcore 0.2 do not list their objects: the config's flag says it then.
    normalized = (
        _NORMALIZER in saved
        if isinstance(saved, list)
        else bool(getattr(config, "normalize_observation", False))
    )
    episodes = config.final_eval_episodes if episodes is None else _at_least_one(episodes, "episodes")
    seed = config.seed if seed is None else seed

    num_envs = metadata.get("num_eval_envs")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or not 1 <= num_envs <= 1024:
        num_envs = min(config.eval_episodes, _MAX_EVAL_ENVS)
    envs = make_envs(dataclasses.replace(config, vector_mode="sync"), num_envs)
    try:
        objects, act = agent.policy(config, envs, torch_device)
        objects = dict(objects)
        if normalized:
            normalizer = NormalizeObservation(envs)
            envs, objects[_NORMALIZER] = normalizer, normalizer
        checkpoint.load(path, restore_rng=False, strict=False, **objects)
        if isinstance(envs, NormalizeObservation):
            envs.freeze()
        result = evaluate(act, envs, episodes, seed=seed)
        videos: list[Path] = []
        if video:
            recorder = video_env(config, envs)
            try:
                count = config.video_episodes if video_episodes is None else video_episodes
                videos = record_videos(
                    act,
                    recorder,
                    run_dir,
                    step,
                    episodes=_at_least_one(count, "video_episodes"),
                    seed=seed,
                    prefix=f"evaluate-step_{step:09d}",
                )
            finally:
                recorder.close()
    finally:
        envs.close()
    report = {
        "run_dir": str(run_dir),
        "algo": algo,
        "env_id": config.env_id,
        "checkpoint": str(path.relative_to(run_dir)),
        "step": step,
        "seed": seed,
        **evaluation_report(result),
        "videos": [str(p) for p in videos],
        "rlcore_version": __version__,
    }
    write_atomically(run_dir / f"evaluate-{step}.json", json.dumps(report, indent=2) + "\n")
    return report


def _at_least_one(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"evaluate: {name} must be an int >= 1, got {value!r}")
    return value


def _checkpoint(run_dir: Path, step: int | None) -> Path:
    """The checkpoint of ``step``, or the newest usable one, among the run's regular checkpoint files."""
    found = checkpoints(run_dir)
    if not found:
        raise FileNotFoundError(
            f"evaluate: {str(run_dir)!r} holds no checkpoint (checkpoints/step_<step>.pt)"
        )
    if step is None:
        return newest_usable(run_dir, found, owner="evaluate", verb="evaluate")[0]
    by_step = {checkpoint_step(candidate): candidate for candidate in found}
    if step not in by_step:
        raise FileNotFoundError(
            f"evaluate: {str(run_dir)!r} has no checkpoint of step {step}; it has steps {sorted(by_step)}"
        )
    return by_step[step]


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Evaluate a run's saved policy (deterministic episodes, normalisation statistics frozen); "
            "print the mean, std and IQM of the returns and write RUN_DIR/evaluate-<step>.json."
        ),
        allow_abbrev=False,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, finished or interrupted")
    parser.add_argument(
        "--checkpoint", type=int, metavar="STEP", help="the checkpoint's step (default: newest)"
    )
    parser.add_argument(
        "--episodes", type=int, metavar="N", help="episodes (default: the run's final_eval_episodes)"
    )
    parser.add_argument("--video", action="store_true", help="record episodes to RUN_DIR/videos/ (MP4)")
    parser.add_argument(
        "--video-episodes", type=int, metavar="K", help="episodes recorded (default: the run's)"
    )
    parser.add_argument(
        "--seed", type=int, metavar="S", help="seed of the episodes (default: the run's seed)"
    )
    parser.add_argument("--device", default="cpu", help="torch device of the networks (default: cpu)")
    return parser


def evaluate_main(registry: Registry, argv: Sequence[str] | None = None, *, prog: str = "evaluate") -> int:
    """Evaluate the run the command line names; print the statistics and the report's path.

    Returns:
        The exit status: 0 when evaluated (or ``--help``), 2 for a bad command line, 1 for a run
        that cannot be evaluated (no such directory or checkpoint, a damaged checkpoint, an
        unknown agent); the message on stderr.
    """
    try:
        args = _parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit:  # argparse's --help (0) and its errors (2), already printed
        return exit.code if isinstance(exit.code, int) else 2
    try:
        report = evaluate_run(
            registry,
            args.run_dir,
            checkpoint_at=args.checkpoint,
            episodes=args.episodes,
            seed=args.seed,
            video=args.video,
            video_episodes=args.video_episodes,
            device=args.device,
        )
    except (OSError, KeyError, ValueError, TypeError, checkpoint.CheckpointError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 1
    print(
        f"{report['algo']} on {report['env_id']}, {report['checkpoint']} (step {report['step']:,}): "
        f"{report['num_episodes']} episodes, seed {report['seed']}: mean {report['mean_return']:.2f} "
        f"+/- {report['std_return']:.2f}, IQM {report['iqm_return']:.2f}"
    )
    step = report["step"]
    print(f"report:  {Path(args.run_dir).resolve() / f'evaluate-{step}.json'}")
    for path in report["videos"]:
        print(f"video:   {Path(path).resolve()}")
    return 0
