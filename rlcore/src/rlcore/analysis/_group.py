"""Grouping runs into configurations: the seeds of one experiment together, labelled.

Private: :mod:`rlcore.analysis` re-exports its public names. :func:`group_runs` compares the
runs' ``config.json`` hyperparameters (never the seed, the run settings or the record's
metadata) or their parent directories; :func:`group_runs_explained` also says which keys told
the configurations apart and which ignored ones differed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rlcore.analysis._load import Run
from rlcore.logging import CONFIG_FILENAME

__all__ = [
    "DEFAULT_RUN_SETTINGS",
    "RUN_METADATA_KEYS",
    "RUN_SETTINGS_KEY",
    "SEED_KEY",
    "Grouping",
    "group_runs",
    "group_runs_explained",
]

#: The ``config.json`` key of the run's seed: never compared by :func:`group_runs`.
SEED_KEY = "seed"

#: The ``config.json`` key under which rlcore 0.2's :class:`rlcore.runs.Run` lists the run
#: settings of the run's config: fields that do not define the experiment.
RUN_SETTINGS_KEY = "run_settings"

#: The record keys that say how a run was made (versions, git commit, seeding, the config file
#: it was started from, the list of run settings); :func:`group_runs` never compares them.
RUN_METADATA_KEYS = (
    "rlcore_version",
    "torch_version",
    "gymnasium_version",
    "python_version",
    "git_commit",
    "seeding",
    "config_file",
    RUN_SETTINGS_KEY,
)

#: The run settings of a record without a ``"run_settings"`` list (written by an rlcore 0.1
#: project): fields that change how a run is carried out or recorded, not what it learns.
DEFAULT_RUN_SETTINGS = (
    "run_dir",
    "progress",
    "logger",
    "device",
    "torch_threads",
    "vector_mode",
    "validate_distributions",
    "checkpoint_every",
    "wandb_project",
)


@dataclass(frozen=True, eq=False)
class Grouping:
    """Runs grouped into configurations, and why (:func:`group_runs_explained`).

    Attributes:
        groups: ``{label: runs}``, as :func:`group_runs` returns it.
        by: how the runs were grouped: ``"config"`` or ``"parent"``.
        differing: the ``config.json`` keys (nested ones as ``"a.b"``) whose values differ between
            the configurations; empty for one configuration or ``by="parent"``.
        ignored_differing: the keys that were not compared (run settings, record metadata such as
            ``git_commit``, the keys of ``ignore``; never ``seed``) whose values differ between the
            runs of one configuration: what the grouping looked past. Empty for ``by="parent"``.
    """

    groups: dict[str, list[Run]]
    by: Literal["config", "parent"]
    differing: tuple[str, ...] = ()
    ignored_differing: tuple[str, ...] = ()


def group_runs(
    runs: Sequence[Run],
    by: Literal["auto", "config", "parent"] = "auto",
    ignore: Sequence[str] = ("seed",),
    *,
    hyperparameters_only: bool = True,
) -> dict[str, list[Run]]:
    """Group runs into configurations, the seeds of each together.

    * ``by="config"``: runs whose ``config.json`` have equal hyperparameters (nested objects are
      compared key by key, as ``"a.b"``). Not compared: ``seed``, the keys in ``ignore``, the
      run settings (the keys listed in any run's ``"run_settings"``, or
      :data:`DEFAULT_RUN_SETTINGS` for runs whose record has no such list, as rlcore 0.1
      projects wrote) and the record's metadata (:data:`RUN_METADATA_KEYS`: versions, git
      commit, seeding text). So a seed run with ``progress=false``, on another device or after
      another commit stays in its experiment. A group's label lists the keys whose values differ
      between groups, e.g. ``"lr=0.001, env_id=CartPole-v1"``.
    * ``by="parent"``: runs in the same parent directory (``runs/<configuration>/<seed>/``),
      labelled by the parent's path relative to the parents' common directory.
    * ``by="auto"``: ``"config"`` if every run has a ``config.json``, else ``"parent"``.

    A single group is labelled by the name of the directory that holds all its runs' parents
    (the parent itself when they share one). :func:`group_runs_explained` also returns which keys
    told the configurations apart and which ignored ones differed.

    Args:
        runs: the runs, e.g. from :func:`load_runs` or :func:`select_runs`.
        by: ``"auto"``, ``"config"`` or ``"parent"``.
        ignore: further ``config.json`` keys not to compare (a key also covers its nested
            ``"key.sub"`` keys).
        hyperparameters_only: ``False`` compares every key but those in ``ignore``, as rlcore 0.1
            did (then ``ignore`` should hold ``"seed"``).

    Returns:
        ``{label: runs}``, groups in the order of their first run, runs in the given order.

    Raises:
        ValueError: if ``runs`` is empty, ``by`` is unknown, ``by="config"`` and a run has no
            ``config.json``, or a record's ``"run_settings"`` is not a list of key names.
    """
    return group_runs_explained(runs, by, ignore, hyperparameters_only=hyperparameters_only).groups


def group_runs_explained(
    runs: Sequence[Run],
    by: Literal["auto", "config", "parent"] = "auto",
    ignore: Sequence[str] = ("seed",),
    *,
    hyperparameters_only: bool = True,
) -> Grouping:
    """:func:`group_runs`, with the keys that split the configurations and those it looked past.

    Returns:
        A :class:`Grouping`.

    Example:
        >>> runs = [Run(Path(f"runs/{i}"), {}, {"lr": lr, "seed": i, "progress": i == 0})
        ...         for i, lr in enumerate([0.1, 0.1, 0.2])]
        >>> grouping = group_runs_explained(runs)
        >>> {label: len(runs) for label, runs in grouping.groups.items()}
        {'lr=0.1': 2, 'lr=0.2': 1}
        >>> grouping.differing, grouping.ignored_differing
        (('lr',), ('progress',))
    """
    if by not in ("auto", "config", "parent"):
        raise ValueError(f"group_runs: by must be 'auto', 'config' or 'parent', got {by!r}")
    if not runs:
        raise ValueError("group_runs: runs is empty, expected at least one run")
    if isinstance(ignore, str):
        raise TypeError(f"group_runs: ignore must be a list of keys, got the string {ignore!r}")
    if by == "auto":
        by = "config" if all(run.config is not None for run in runs) else "parent"
    if by == "parent":
        return _group_by_parent(runs)
    configs: list[Mapping[str, Any]] = []
    for run in runs:
        if run.config is None:
            raise ValueError(f"group_runs: by='config' but run {str(run.path)!r} has no {CONFIG_FILENAME}")
        configs.append(run.config)
    ignored = set(ignore)
    if hyperparameters_only:
        ignored.update((SEED_KEY, *RUN_METADATA_KEYS))
        for run, config in zip(runs, configs, strict=True):
            ignored.update(_run_settings(run.path, config))
    groups: dict[str, list[Run]] = {}
    identities: dict[str, dict[str, str]] = {}
    looked_past: dict[str, list[dict[str, str]]] = {}
    for run, config in zip(runs, configs, strict=True):
        flat = _flatten(config)
        kept = {k: v for k, v in flat.items() if not _is_ignored(k, ignored)}
        identity = json.dumps(kept, sort_keys=True)
        identities.setdefault(identity, kept)
        groups.setdefault(identity, []).append(run)
        past = {k: v for k, v in flat.items() if k != SEED_KEY and _is_ignored(k, ignored)}
        looked_past.setdefault(identity, []).append(past)
    ignored_differing = sorted({key for members in looked_past.values() for key in _differing_keys(members)})
    if len(groups) == 1:
        labels, differing = [_common_parent_name(runs)], []
    else:
        differing = _differing_keys(list(identities.values()))
        labels = _config_labels(list(identities.values()), differing)
    return Grouping(
        groups=dict(zip(labels, groups.values(), strict=True)),
        by="config",
        differing=tuple(differing),
        ignored_differing=tuple(ignored_differing),
    )


def _group_by_parent(runs: Sequence[Run]) -> Grouping:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(str(run.path.resolve().parent), []).append(run)
    if len(groups) == 1:
        return Grouping(groups={_common_parent_name(runs): list(runs)}, by="parent")
    common = Path(os.path.commonpath(list(groups)))
    labels = [Path(identity).relative_to(common).as_posix() for identity in groups]
    return Grouping(groups=dict(zip(labels, groups.values(), strict=True)), by="parent")


def _run_settings(path: Path, config: Mapping[str, Any]) -> tuple[str, ...]:
    """The run settings a record lists under ``"run_settings"``, or :data:`DEFAULT_RUN_SETTINGS`."""
    if RUN_SETTINGS_KEY not in config:
        return DEFAULT_RUN_SETTINGS
    names = config[RUN_SETTINGS_KEY]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(
            f"group_runs: {RUN_SETTINGS_KEY!r} in {str(path / CONFIG_FILENAME)!r} must be a list of key "
            f"names, got {names!r}"
        )
    return tuple(names)


def _is_ignored(flat_key: str, ignored: set[str]) -> bool:
    """Whether ``flat_key`` (``"a.b.c"``) or one of its enclosing keys (``"a"``, ``"a.b"``) is ignored."""
    parts = flat_key.split(".")
    return any(".".join(parts[:i]) in ignored for i in range(1, len(parts) + 1))


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = json.dumps(value, sort_keys=True)
    return flat


def _differing_keys(configs: Sequence[Mapping[str, str]]) -> list[str]:
    """The keys whose (JSON-encoded) values are not the same in every config; absent counts as a value."""
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({c.get(k) for c in configs}) > 1]


def _config_labels(configs: list[dict[str, str]], differing: list[str]) -> list[str]:
    labels = [", ".join(f"{k}={_label_value(c.get(k))}" for k in differing) for c in configs]
    if len(set(labels)) < len(labels):  # e.g. "1" and 1: fall back to the JSON spelling
        labels = [", ".join(f"{k}={c.get(k, '(unset)')}" for k in differing) for c in configs]
    return labels


def _label_value(encoded: str | None) -> str:
    if encoded is None:
        return "(unset)"
    value = json.loads(encoded)
    return value if isinstance(value, str) else encoded


def _common_parent_name(runs: Sequence[Run]) -> str:
    return Path(os.path.commonpath([run.path.resolve().parent for run in runs])).name
