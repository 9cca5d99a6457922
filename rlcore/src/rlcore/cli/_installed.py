"""The rlcore an interpreter really imports, and pip's record of it (private).

:func:`installed_rlcore` reads the version from the imported package's ``_version.py`` (or
older releases' ``__init__.py``), which can differ from pip's record of an editable install
after a ``git pull`` in its checkout. For another interpreter it runs the source of
:func:`_probe_rlcore` there (``python -c``), so that function stays self-contained: standard
library only, imported inside it.

Imported only by the CLI subcommands, so ``import rlcore`` never loads ``packaging``.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.version import InvalidVersion, Version

from rlcore.cli._errors import ProjectError

__all__ = ["InstalledRlcore", "installed_rlcore"]


@dataclass(frozen=True)
class InstalledRlcore:
    """The rlcore a Python interpreter imports, and pip's record of it.

    The two differ after a ``git pull`` in the checkout of an editable install: the interpreter
    imports the new code, while the ``.dist-info`` pip wrote at install time (what
    ``importlib.metadata``, ``pip list`` and pip's resolver see) still names the old version.

    Attributes:
        python: the interpreter.
        version: the version it imports: the ``__version__`` literal of the package it finds.
        location: the imported package's directory.
        metadata_version: the version in pip's record, ``None`` if it has none.
        editable_checkout: for an editable install, the directory pip's record points to.
    """

    python: str
    version: Version
    location: Path
    metadata_version: str | None = None
    editable_checkout: Path | None = None

    @property
    def metadata_stale(self) -> bool:
        """Whether pip's record names another version than the one imported."""
        if self.metadata_version is None:
            return False
        try:
            return Version(self.metadata_version) != self.version
        except InvalidVersion:
            return True

    @property
    def source_checkout(self) -> Path | None:
        """The checkout to reinstall from: pip's editable checkout if it holds the imported package,
        else the project root of a ``src/rlcore`` layout; ``None`` if neither is known."""
        checkout = self.editable_checkout
        if checkout is not None and (checkout == self.location or checkout in self.location.parents):
            return checkout
        if self.location.parent.name == "src" and (self.location.parent.parent / "pyproject.toml").is_file():
            return self.location.parent.parent
        return None

    @property
    def reinstall_note(self) -> str | None:
        """What is out of step and the command that fixes it, when :attr:`metadata_stale`; else ``None``."""
        if not self.metadata_stale:
            return None
        checkout = self.source_checkout
        where = "<your rlcore checkout>" if checkout is None else shlex.quote(str(checkout))
        return (
            f"pip's record says rlcore {self.metadata_version}, but {self.python} imports rlcore "
            f"{self.version} from {self.location}; reinstall it so that pip sees it too: "
            f"{shlex.quote(self.python)} -m pip install -e {where}"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "python": self.python,
            "version": str(self.version),
            "location": str(self.location),
            "metadata_version": self.metadata_version,
            "editable_checkout": None if self.editable_checkout is None else str(self.editable_checkout),
            "note": self.reinstall_note,
        }


def _probe_rlcore() -> dict[str, object]:
    """Where this interpreter finds rlcore, the version its ``_version.py`` (or older releases'
    ``__init__.py``) declares, pip's record.

    Self-contained (standard library only, imported inside), because :func:`installed_rlcore`
    also runs its source in another interpreter. rlcore is imported only when that file holds
    no ``__version__ = "..."`` literal.
    """
    import importlib
    import importlib.metadata
    import importlib.util
    import os
    import re

    found: dict[str, object] = {}
    try:
        spec = importlib.util.find_spec("rlcore")
    except (ImportError, ValueError) as error:
        spec, found["error"] = None, f"{type(error).__name__}: {error}"
    origin = None if spec is None else spec.origin  # None for a namespace package: no rlcore
    if origin is not None and os.path.isfile(origin):
        found["location"] = location = os.path.dirname(os.path.abspath(origin))
        # rlcore/_version.py since 0.2.1; the package's __init__.py before.
        version_file = os.path.join(location, "_version.py")
        try:
            with open(version_file if os.path.isfile(version_file) else origin, encoding="utf-8") as stream:
                source = stream.read()
        except (OSError, UnicodeDecodeError):
            source = ""
        # The whole right-hand side a string literal, as hatch's version source reads it.
        literal = re.search(
            r"^__version__\s*(?::\s*str\s*)?=\s*([\"'])([^\"'\n]+)\1[ \t]*(?:#.*)?$", source, re.MULTILINE
        )
        if literal:
            found["version"] = literal.group(2)
    if origin is not None and "version" not in found:
        try:
            module = importlib.import_module("rlcore")
            found["version"] = str(module.__version__)
        except Exception as error:  # whatever a broken install raises, reported, not raised
            found["error"] = f"{type(error).__name__}: {error}"
    try:
        distribution = importlib.metadata.distribution("rlcore")
    except importlib.metadata.PackageNotFoundError:
        return found
    found["metadata_version"] = distribution.version
    found["direct_url"] = distribution.read_text("direct_url.json")
    return found


_PROBE_MARKER = "rlcore-probe:"


def _run_probe(python: str, cwd: Path | None, timeout: float) -> dict[str, object]:
    try:
        probe = inspect.getsource(_probe_rlcore)
    except (OSError, TypeError) as error:  # an install without its .py files
        raise ProjectError(
            f"cannot read the source of rlcore's probe to run it in {python!r}: {error}"
        ) from None
    code = (
        "from __future__ import annotations\n"
        + probe
        + f"\nimport json\nprint({_PROBE_MARKER!r} + json.dumps(_probe_rlcore()))\n"
    )
    try:
        done = subprocess.run(
            [python, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ProjectError(f"cannot run the interpreter {python!r} to find its rlcore: {error}") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_PROBE_MARKER):
            with contextlib.suppress(json.JSONDecodeError):
                found = json.loads(line[len(_PROBE_MARKER) :])
                if isinstance(found, dict):
                    return found
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise ProjectError(
        f"the interpreter {python!r} did not report its rlcore (exit {done.returncode}: {tail}); "
        "expected a Python interpreter"
    )


def _editable_checkout(direct_url: object) -> Path | None:
    """The directory of an editable install, from the text of its ``direct_url.json`` (PEP 610)."""
    try:
        record = json.loads(direct_url) if isinstance(direct_url, str) else None
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("url"), str):
        return None
    dir_info = record.get("dir_info")
    if not (isinstance(dir_info, dict) and dir_info.get("editable") is True):
        return None
    url = urlsplit(record["url"])
    return Path(url2pathname(url.path)) if url.scheme == "file" else None


def installed_rlcore(
    python: str | None = None, *, cwd: Path | None = None, timeout: float = 120.0
) -> InstalledRlcore:
    """The rlcore that ``python`` really imports, and pip's record of it.

    The package is found as the interpreter finds it (``importlib.util.find_spec("rlcore")``)
    and its version read from the ``__version__ = "..."`` literal of its ``_version.py`` (older
    releases: ``__init__.py``), without running rlcore (it is imported only if the literal is missing). pip's record is
    ``importlib.metadata``'s: the version in the ``.dist-info`` and, for an editable install,
    the checkout its ``direct_url.json`` points to.

    Args:
        python: the interpreter, run as a subprocess; ``None``: this one, in this process.
        cwd: the subprocess' working directory (on its ``sys.path`` under ``-c``, as under
            ``python -m pytest``); ignored for this interpreter.
        timeout: seconds the subprocess may take.

    Raises:
        ProjectError: the interpreter cannot be run, imports no rlcore, or declares a version
            that is not one.
    """
    if python is None:
        label, found = sys.executable or "python", _probe_rlcore()
    else:
        label, found = python, _run_probe(python, cwd, timeout)
    version, location = found.get("version"), found.get("location")
    if not isinstance(version, str) or not isinstance(location, str):
        reason = found.get("error") or "importlib.util.find_spec('rlcore') finds none"
        raise ProjectError(
            f"the interpreter {label} has no rlcore to import ({reason}); install rlcore there"
        )
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ProjectError(
            f"{label} imports rlcore from {location}, whose __version__ {version!r} is not a version; "
            "expected e.g. '0.2.0'"
        ) from None
    metadata_version = found.get("metadata_version")
    return InstalledRlcore(
        python=label,
        version=parsed,
        location=Path(location),
        metadata_version=metadata_version if isinstance(metadata_version, str) else None,
        editable_checkout=_editable_checkout(found.get("direct_url")),
    )
