"""Ray, imported when a sweep runs: the import, the cluster's token, the session, its capacity.

Ray is an optional extra: ``import rlcore.sweep``, the grid, the summary, their tests and mypy
work without it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["capacity", "check_resources", "import_ray", "ray_session", "use_cluster_token"]


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise ImportError(
            "sweeps need Ray, which is not installed: install the project's sweep extra "
            '(pip install -e ".[sweep]") or pip install "rlcore[ray]"'
        ) from error


def use_cluster_token(address: str | None) -> None:
    """Authenticate to the cluster at ``address`` with a token if one exists, as ``ray start`` does.

    ``ray start`` turns Ray's token authentication on when ``RAY_AUTH_MODE`` is unset and a
    token exists (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``), but a
    driver joining with ``ray.init(address=...)`` does not (Ray 2.60), and then retries forever
    with "Authentication token is missing". So do the same here; a driver that sends a token
    still joins a cluster without authentication. A Ray started here sets itself up. Ray reads
    the setting when it is imported: call this first.
    """
    if address is None or "RAY_AUTH_MODE" in os.environ:
        return
    token_file = Path.home() / ".ray" / "auth_token"
    if token_file.is_file() or any(os.environ.get(f"RAY_AUTH_TOKEN{end}") for end in ("", "_PATH")):
        os.environ["RAY_AUTH_MODE"] = "token"


@contextmanager
def ray_session(address: str | None, num_cpus: int | None, *, log_to_driver: bool) -> Iterator[Any]:
    """The ``ray`` module, connected: to a Ray running already in this process (the caller's
    ``ray.init``), to the cluster at ``address`` (``"auto"``, ``"HOST:PORT"``), else to a Ray
    started here with ``num_cpus`` (default: all). What was started here is shut down at the end.
    """
    use_cluster_token(address)
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=log_to_driver,
        )
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def check_resources(ray: Any, cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Raise ValueError if one trial asks for more CPUs or GPUs than the whole cluster has."""
    resources = ray.cluster_resources()
    for amount, kind in ((cpus_per_trial, "CPU"), (gpus_per_trial, "GPU")):
        if amount > resources.get(kind, 0.0):
            raise ValueError(
                f"each trial asks for {amount:g} {kind}(s) but the Ray cluster has "
                f"{resources.get(kind, 0.0):g}: lower --{kind.lower()}s-per-trial"
            )


def capacity(ray: Any, cpus_per_trial: float, gpus_per_trial: float, max_concurrent: int | None) -> int:
    """How many trials fit in the cluster at once (ask again each time: clusters can grow)."""
    resources = ray.cluster_resources()
    slots = [int(resources.get("CPU", 0.0) // cpus_per_trial)]
    if gpus_per_trial > 0:
        slots.append(int(resources.get("GPU", 0.0) // gpus_per_trial))
    fits = max(1, min(slots))
    return fits if max_concurrent is None else min(fits, max_concurrent)
