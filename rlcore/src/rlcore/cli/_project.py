"""What ``rlcore check`` and ``rlcore upgrade`` know about a generated project (private).

* The rlcore requirement in ``pyproject.toml``'s ``[project] dependencies``: a version range
  (``rlcore>=0.1.0,<0.2``) or a git reference whose tag is the version
  (``rlcore @ git+URL@v0.1.0#subdirectory=rlcore``); :func:`read_requirement` reads it,
  :func:`compatible_range` and :meth:`RlcoreRequirement.retarget` write the next one, and
  :func:`rewrite_pyproject` changes only that string in the file, checked by re-parsing;
  :func:`rewrite_cruft_answer` keeps the template's stored answer ``rlcore_version`` in
  ``.cruft.json`` in step with it.
* The rlcore an interpreter really imports (:func:`installed_rlcore`): the version in the
  imported package's ``__init__.py``, which can differ from pip's record of an editable install
  after a ``git pull`` in its checkout.
* rlcore's ``CHANGELOG.md`` (Keep a Changelog): :func:`find_changelog` locates the installed
  one, :func:`parse_changelog` splits it into :class:`ChangelogSection`.
* Static uses of deprecated or removed rlcore names in the project's code (:func:`scan_project`):
  the project is parsed with :mod:`ast`, never imported; the installed rlcore is imported to
  learn which names exist and which carry a :class:`rlcore.deprecation.Deprecation`.

The upgrade journal lives in :mod:`rlcore.cli._journal`.

Imported only by the CLI subcommands, so ``import rlcore`` never loads ``packaging``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rlcore._version import __version__
from rlcore.deprecation import DEPRECATIONS, Deprecation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib

__all__ = [
    "CRUFT_FILE",
    "ChangelogSection",
    "InstalledRlcore",
    "ProjectError",
    "RlcoreRequirement",
    "ScanResult",
    "Use",
    "add_projects_argument",
    "compatible_range",
    "find_changelog",
    "installed_rlcore",
    "parse_changelog",
    "read_requirement",
    "removal_notes",
    "rewrite_cruft_answer",
    "rewrite_pyproject",
    "scan_project",
    "sections_between",
]

_DIST_NAME = canonicalize_name("rlcore")
# Directories that hold no code of the project's own: caches, build outputs, installed
# packages, run directories (W&B copies code into them). Virtual envs are found by pyvenv.cfg.
_SKIP_DIRS = frozenset({"__pycache__", "build", "dist", "node_modules", "site-packages", "runs", "wandb"})


class ProjectError(Exception):
    """A project that ``rlcore check`` / ``rlcore upgrade`` cannot work on; the message says why."""


def add_projects_argument(parser: argparse.ArgumentParser) -> None:
    """The ``PROJECT ...`` positional argument that ``rlcore check`` and ``rlcore upgrade`` share."""
    parser.add_argument(
        "projects",
        nargs="*",
        type=Path,
        default=[Path(".")],
        metavar="PROJECT",
        help="project root directories (default: the current directory)",
    )


# --------------------------------------------------------------------------- requirement


@dataclass(frozen=True)
class RlcoreRequirement:
    """The rlcore requirement of a project, as written in its ``pyproject.toml``.

    Attributes:
        text: the dependency string exactly as written, e.g. ``"rlcore>=0.1.0,<0.2"``.
        requirement: the parsed requirement.
    """

    text: str
    requirement: Requirement

    @property
    def kind(self) -> str:
        """``"range"`` (a specifier set), ``"git"`` (a ``git+`` reference) or ``"url"`` (any other)."""
        if self.requirement.url is None:
            return "range"
        return "git" if self.requirement.url.startswith("git+") else "url"

    @property
    def git_ref(self) -> str | None:
        """The ref after ``@`` in a git reference's path (``"v0.1.0"``), or ``None``."""
        if self.kind != "git":
            return None
        return _split_git_ref(self.requirement.url or "")[1]

    @property
    def version(self) -> Version | None:
        """The version the project is written against.

        For a range, its lower bound (from ``>=``, ``>``, ``==``, ``~=`` or ``===``; the
        largest if several); for a git reference, the tag without its leading ``v``;
        ``None`` when there is none (``rlcore<0.2``, a branch, a plain URL).
        """
        if self.kind == "range":
            return _lower_bound(self.requirement.specifier)
        ref = self.git_ref
        if ref is None:
            return None
        try:
            return Version(ref[1:] if ref[:1] in ("v", "V") else ref)
        except InvalidVersion:
            return None

    def satisfied_by(self, installed: Version) -> bool | None:
        """Whether ``installed`` meets the requirement; ``None`` when that cannot be known.

        A range contains the version (pre-releases included); a git tag is met by exactly its
        version. A git branch or a plain URL names no version, hence ``None``.
        """
        if self.kind == "range":
            return self.requirement.specifier.contains(installed, prereleases=True)
        pinned = self.version
        return None if pinned is None else pinned == installed

    def retarget(self, version: Version) -> str:
        """The dependency string for ``version``, keeping the name, extras, URL and marker.

        A range becomes :func:`compatible_range` of ``version``; a git reference gets the tag
        ``v<version>``. A plain URL cannot be rewritten (:class:`ProjectError`).
        """
        req = self.requirement
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        if self.kind == "range":
            # The marker as written (its quotes and spacing): a specifier never contains ';'.
            marker = ""
            if req.marker is not None:
                head = self.text[: self.text.index(";")]
                marker = self.text[len(head.rstrip()) :]
            return f"{req.name}{extras}{compatible_range(version)}{marker}"
        if self.kind == "git":
            url = req.url or ""
            base, _ref, fragment = _split_git_ref(url)
            new_url = f"{base}@v{version}{fragment}"
            if url not in self.text:
                raise ProjectError(f"rlcore requirement {self.text!r}: cannot locate its URL {url!r}")
            return self.text.replace(url, new_url, 1)
        raise ProjectError(
            f"rlcore requirement {self.text!r} is a direct URL with no version to rewrite; "
            "expected a version range or a git reference tagged vX.Y.Z"
        )

    def same_target(self, other_text: str) -> bool:
        """Whether the dependency string ``other_text`` asks for the same rlcore as this one."""
        other = Requirement(other_text)
        if self.requirement.url is not None or other.url is not None:
            return self.requirement.url == other.url and self.requirement.marker == other.marker
        return (
            self.requirement.specifier == other.specifier
            and self.requirement.extras == other.extras
            and self.requirement.marker == other.marker
        )


def compatible_range(version: Version | str) -> str:
    """The specifier rlcore promises compatibility for, starting at ``version``.

    While rlcore is 0.x a minor release may remove deprecated names, so the range stops at the
    next minor: ``0.Y.Z`` gives ``>=0.Y.Z,<0.(Y+1)``. From 1.0 only a major release may, so
    ``X.Y.Z`` gives ``>=X.Y,<X+1``.

    Example:
        >>> compatible_range("0.1.0"), compatible_range("0.2.3"), compatible_range("1.4.2")
        ('>=0.1.0,<0.2', '>=0.2.3,<0.3', '>=1.4,<2')
    """
    parsed = Version(str(version)) if not isinstance(version, Version) else version
    plain = not (parsed.is_prerelease or parsed.is_postrelease or parsed.is_devrelease)
    if parsed.major == 0:
        low = f"0.{parsed.minor}.{parsed.micro}" if plain else str(parsed)
        return f">={low},<0.{parsed.minor + 1}"
    low = f"{parsed.major}.{parsed.minor}" if plain else str(parsed)
    return f">={low},<{parsed.major + 1}"


def _lower_bound(specifier: SpecifierSet) -> Version | None:
    bounds = []
    for spec in specifier:
        if spec.operator in (">=", ">", "~=", "===") or (spec.operator == "==" and "*" not in spec.version):
            try:
                bounds.append(Version(spec.version))
            except InvalidVersion:
                continue
    return max(bounds, default=None)


def _split_git_ref(url: str) -> tuple[str, str | None, str]:
    """``git+URL@ref#frag`` -> (``git+URL``, ``ref``, ``#frag``); the ref is the ``@`` in the path."""
    base, hash_sign, fragment = url.partition("#")
    path = urlsplit(base[len("git+") :] if base.startswith("git+") else base).path
    if "@" not in path:
        return base, None, hash_sign + fragment
    head, ref = base.rsplit("@", 1)
    return head, ref, hash_sign + fragment


def _load_toml(path: Path, data: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(f"{path}: not valid TOML ({error})") from None


def read_requirement(project: Path) -> RlcoreRequirement:
    """Read the rlcore requirement from ``project/pyproject.toml``'s ``[project] dependencies``.

    Raises:
        ProjectError: no ``pyproject.toml``, invalid TOML, no rlcore dependency, several, or
            one that is not a valid requirement.
    """
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise ProjectError(f"{project}: no pyproject.toml; expected a generated project's root directory")
    data = _load_toml(pyproject, pyproject.read_bytes())
    dependencies = data.get("project", {}).get("dependencies", [])
    if not isinstance(dependencies, list):
        raise ProjectError(f"{pyproject}: [project] dependencies is {dependencies!r}; expected a list")
    found = []
    for text in dependencies:
        try:
            parsed = Requirement(text)
        except InvalidRequirement as error:
            if re.match(r"\s*rlcore\b", str(text), re.IGNORECASE):
                raise ProjectError(f"{pyproject}: invalid rlcore requirement {text!r} ({error})") from None
            continue
        if canonicalize_name(parsed.name) == _DIST_NAME:
            found.append(RlcoreRequirement(text, parsed))
    if not found:
        raise ProjectError(
            f"{pyproject}: no rlcore requirement in [project] dependencies {dependencies!r}; "
            "expected e.g. 'rlcore>=0.1.0,<0.2'"
        )
    if len(found) > 1:
        raise ProjectError(
            f"{pyproject}: {len(found)} rlcore requirements {[r.text for r in found]}; expected one"
        )
    return found[0]


def _replace_string(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {key: _replace_string(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_string(item, old, new) for item in value]
    return new if value == old else value


def _toml_basic_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_literal_string(value: str) -> str | None:
    return None if "'" in value else f"'{value}'"


def rewrite_pyproject(path: Path, data: bytes, old: str, new: str) -> bytes:
    """``data`` (the bytes of ``path``) with the TOML string ``old`` replaced by ``new``.

    ``old`` is found as a basic (``"..."``) or literal (``'...'``) string, and ``new`` written
    in the same kind of string, escaped as TOML requires (a literal string that cannot hold
    ``new``, because ``new`` contains ``'``, becomes a basic string). Everything else stays
    byte for byte. The result is parsed again and must equal the original document with that
    one string value changed, so the rewrite can never corrupt the file.

    Raises:
        ProjectError: ``old`` is not written as a plain string (with other escapes, or as a
            multi-line string), or ``new`` contains a control character.
    """
    text = data.decode("utf-8")
    before = _load_toml(path, data)
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in new):
        raise ProjectError(
            f"new requirement {new!r} contains a control character; expected a plain requirement"
        )
    replaced = text
    for encode in (_toml_basic_string, _toml_literal_string):
        written = encode(old)
        if written is not None:
            replaced = replaced.replace(written, encode(new) or _toml_basic_string(new))
    if replaced == text:
        raise ProjectError(f"{path}: the requirement {old!r} is not written as a plain quoted string")
    result = replaced.encode("utf-8")
    if _load_toml(path, result) != _replace_string(before, old, new):
        raise ProjectError(f"{path}: rewriting {old!r} would change more than that string; left unchanged")
    return result


#: cruft's record of the template and of the answers a project was generated with.
CRUFT_FILE = ".cruft.json"
# `"rlcore_version": "<a JSON string>"`: the places an in-place rewrite may change.
_CRUFT_VALUE = re.compile(r'"rlcore_version"\s*:\s*("(?:[^"\\]|\\.)*")')


def rewrite_cruft_answer(path: Path, data: bytes, version: Version) -> bytes | None:
    """``data`` (the bytes of a project's ``.cruft.json``) with the answer ``rlcore_version`` set to ``version``.

    cruft keeps the answers a project was generated with under ``context.cookiecutter`` and
    renders the template with them again on ``cruft update``; rlcore's template renders the
    rlcore requirement from ``rlcore_version``, so the answer must move with the requirement or
    cruft goes on rendering the old one. Only a record of rlcore's template is changed: one whose
    ``context.cookiecutter`` object has an ``rlcore_source`` key; any other JSON gives ``None``.

    An answer already there is replaced in place, so every other byte stays; a missing one is
    added after ``rlcore_source`` and the record written as cruft writes it
    (``json.dumps(record, ensure_ascii=False, indent=2)`` and a newline). An in-place rewrite is
    parsed again and kept only if it equals the record with that one answer set.

    Args:
        path: the file, for messages.
        data: its bytes.
        version: the rlcore release the project is now written against.

    Returns:
        The new bytes (``data`` itself when the answer is already ``str(version)``), or ``None``.

    Raises:
        ProjectError: ``data`` is not UTF-8 JSON, or holds the answer as something other than a string.
    """
    try:
        text = data.decode("utf-8")
        record = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProjectError(
            f"{path}: not valid JSON ({error}); expected cruft's record of the template's answers"
        ) from None
    context = record.get("context") if isinstance(record, dict) else None
    if not isinstance(context, dict) or not isinstance(context.get("cookiecutter"), dict):
        return None
    answers = context["cookiecutter"]
    if "rlcore_source" not in answers:
        return None
    new = str(version)
    old = answers.get("rlcore_version")
    if old == new:
        return data
    if old is not None and not isinstance(old, str):
        raise ProjectError(
            f"{path}: context.cookiecutter.rlcore_version is {old!r}; expected a version string such as '0.2.0'"
        )
    if old is None:
        # After rlcore_source, where the template declares it, rather than at the end.
        updated: dict[str, Any] = {}
        for key, value in answers.items():
            updated[key] = value
            if key == "rlcore_source":
                updated["rlcore_version"] = new
        context["cookiecutter"] = updated
        return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    answers["rlcore_version"] = new
    # The key may appear elsewhere too (cookiecutter's own copy of the template's defaults):
    # the candidate whose re-parse equals the intended record is the answer.
    for match in _CRUFT_VALUE.finditer(text):
        candidate = text[: match.start(1)] + json.dumps(new, ensure_ascii=False) + text[match.end(1) :]
        with contextlib.suppress(json.JSONDecodeError):
            if json.loads(candidate) == record:
                return candidate.encode("utf-8")
    return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- installed rlcore


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
    and its version read from the ``__version__ = "..."`` literal of its ``__init__.py``,
    without running rlcore (it is imported only if the literal is missing). pip's record is
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


# --------------------------------------------------------------------------- changelog


@dataclass(frozen=True)
class ChangelogSection:
    """One ``## [version]`` section of a Keep a Changelog file.

    Attributes:
        version: as written in the heading, e.g. ``"0.2.0"`` or ``"Unreleased"``.
        date: the text after ``" - "`` in the heading, or ``None``.
        changes: ``### Kind`` (``Added``, ``Changed``, ``Deprecated``, ``Removed``, ``Fixed``,
            ...) to its entries, each entry one string with continuation lines joined.
    """

    version: str
    date: str | None
    changes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def parsed_version(self) -> Version | None:
        """The heading's version, or ``None`` for ``Unreleased`` and anything unparsable."""
        try:
            return Version(self.version)
        except InvalidVersion:
            return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"version": self.version, "date": self.date, "changes": self.changes}


_SECTION = re.compile(r"^##\s+\[(?P<version>[^\]]+)\](?:\s*-\s*(?P<date>\S.*?))?\s*$")
_KIND = re.compile(r"^###\s+(?P<kind>\S.*?)\s*$")
_ENTRY = re.compile(r"^[-*+]\s+(?P<text>.*)$")
_LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s")


def parse_changelog(text: str) -> list[ChangelogSection]:
    """Split a Keep a Changelog document into its sections, in file order.

    Example:
        >>> doc = "# Changelog\\n## [0.2.0] - 2025-01-31\\n### Removed\\n- `a.b`: gone;\\n  use `a.c`.\\n"
        >>> parse_changelog(doc)
        [ChangelogSection(version='0.2.0', date='2025-01-31', changes={'Removed': ['`a.b`: gone; use `a.c`.']})]
    """
    sections: list[ChangelogSection] = []
    kind: str | None = None
    entries: list[str] | None = None
    for line in text.splitlines():
        if heading := _SECTION.match(line):
            sections.append(ChangelogSection(heading["version"].strip(), heading["date"]))
            kind, entries = None, None
        elif (sub := _KIND.match(line)) and sections:
            kind = sub["kind"]
            entries = sections[-1].changes.setdefault(kind, [])
        elif line.startswith("#") or _LINK_DEFINITION.match(line):
            kind, entries = None, None
        elif entries is not None and (item := _ENTRY.match(line)):
            entries.append(item["text"].strip())
        elif entries and line.strip() and line[:1].isspace():
            entries[-1] = f"{entries[-1]} {line.strip()}"
    return sections


def sections_between(
    sections: Sequence[ChangelogSection], low: Version | None, high: Version
) -> list[ChangelogSection]:
    """The released sections with ``low < version <= high`` (all up to ``high`` when ``low`` is None).

    Ordered newest first, as in the file; ``Unreleased`` is never included.
    """
    chosen = []
    for section in sections:
        version = section.parsed_version
        if version is not None and (low is None or version > low) and version <= high:
            chosen.append(section)
    return sorted(chosen, key=lambda section: section.parsed_version or high, reverse=True)


def find_changelog(package_dir: Path | None = None) -> Path | None:
    """The installed rlcore's ``CHANGELOG.md``, or ``None`` if it was not shipped.

    Looked up beside the package: ``rlcore/CHANGELOG.md`` inside the package (where a wheel
    puts it through hatch's ``force-include``), then two levels above ``src/rlcore/`` (a
    source checkout or an editable install).

    Args:
        package_dir: the directory of the ``rlcore`` package; default: the imported one.
    """
    if package_dir is None:
        package_dir = Path(__file__).resolve().parent.parent
    candidates = [package_dir / "CHANGELOG.md"]
    if package_dir.parent.name == "src":
        candidates.append(package_dir.parent.parent / "CHANGELOG.md")
    return next((path for path in candidates if path.is_file()), None)


def removal_notes(sections: Sequence[ChangelogSection], name: str) -> list[str]:
    """The ``Removed`` / ``Deprecated`` entries that mention ``name`` (or its last component) in backticks."""
    short = name.rsplit(".", 1)[-1]
    pattern = re.compile(rf"`(?:[\w.]*\.)?{re.escape(short)}(?:\(\))?`")
    notes = []
    for section in sections:
        for kind in ("Removed", "Deprecated"):
            for entry in section.changes.get(kind, []):
                if f"`{name}`" in entry or pattern.search(entry):
                    notes.append(f"[{section.version}] {kind}: {entry}")
    return notes


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True)
class Use:
    """One use of a deprecated or removed rlcore name in a project's code.

    Attributes:
        path: the file, relative to the project, with ``/`` separators.
        line: 1-based line number.
        col: 0-based column.
        name: the dotted rlcore name; for an argument ``"rlcore.mod.fn(arg)"``.
        status: ``"deprecated"`` or ``"removed"``.
        message: what is wrong and what to use instead.
        removed_in: for a deprecated name, the release that removes it.
        replacement: for a deprecated name, what to use instead, if known.
    """

    path: str
    line: int
    col: int
    name: str
    status: str
    message: str
    removed_in: str | None = None
    replacement: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "removed_in": self.removed_in,
            "replacement": self.replacement,
        }


@dataclass
class ScanResult:
    """Uses found in a project, and the files that could not be parsed (with the reason)."""

    uses: list[Use] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def deprecated(self) -> list[Use]:
        """The uses of deprecated names."""
        return [use for use in self.uses if use.status == "deprecated"]

    @property
    def removed(self) -> list[Use]:
        """The uses of names the installed rlcore no longer has."""
        return [use for use in self.uses if use.status == "removed"]


_MISSING = object()  # the name does not exist
_UNKNOWN = object()  # cannot tell: the module exists but fails to import (an optional dependency)


@dataclass(frozen=True)
class _Resolved:
    """Where a dotted rlcore name leads: the object, or the first missing prefix, or unknown."""

    obj: Any = _UNKNOWN
    missing: str | None = None
    deprecation: Deprecation | None = None


class _Resolver:
    """Resolves dotted rlcore names against the installed rlcore (imports, never the project)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self._cache: dict[str, _Resolved] = {}

    def resolve(self, dotted: str) -> _Resolved:
        if dotted not in self._cache:
            self._cache[dotted] = self._resolve(dotted)
        return self._cache[dotted]

    def _resolve(self, dotted: str) -> _Resolved:
        parts = dotted.split(".")
        try:
            obj: Any = importlib.import_module(parts[0])
        except ImportError:
            return _Resolved()
        deprecation = None
        for index in range(1, len(parts)):
            prefix = ".".join(parts[: index + 1])
            parent = obj
            obj = _lookup(parent, parts[index], prefix)
            if obj is _MISSING:
                # Only a module's namespace is closed; an attribute missing from a class may
                # be set on its instances, so only a module can prove a name gone.
                if isinstance(parent, types.ModuleType):
                    return _Resolved(missing=prefix, deprecation=deprecation)
                return _Resolved(deprecation=deprecation)
            if obj is _UNKNOWN:
                return _Resolved(deprecation=deprecation)
            if deprecation is None:
                deprecation = _deprecation_of(prefix, obj)
        return _Resolved(obj=obj, deprecation=deprecation)

    def deprecated_arguments(self, obj: Any) -> dict[str, Deprecation]:
        """Deprecated keyword arguments of the callable ``obj`` (a class: of its ``__init__``)."""
        targets = [obj]
        if inspect.isclass(obj):
            targets.append(obj.__init__)
        found = {}
        for entry in list(DEPRECATIONS.values()):
            if entry.kind != "argument" or not entry.name.endswith(")") or "(" not in entry.name:
                continue
            target_name, _, argument = entry.name[:-1].partition("(")
            target = self.resolve(target_name).obj
            if target is not _UNKNOWN and any(target is candidate for candidate in targets):
                found[argument] = entry
        return found


def _lookup(parent: Any, attribute: str, dotted: str) -> Any:
    with warnings.catch_warnings():
        # Reading a deprecated alias warns; the scan reports it instead.
        warnings.simplefilter("ignore")
        try:
            return getattr(parent, attribute)
        except AttributeError:
            pass
        except Exception:  # a module's __getattr__ that fails otherwise: not evidence of removal
            return _UNKNOWN
    if not isinstance(parent, types.ModuleType):
        return _MISSING
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as error:
        return _MISSING if error.name == dotted else _UNKNOWN
    except Exception:  # the submodule exists but fails to import (an optional dependency)
        return _UNKNOWN


def _deprecation_of(dotted: str, obj: Any) -> Deprecation | None:
    entry = DEPRECATIONS.get(dotted)
    if entry is not None and entry.kind != "argument":
        return entry
    marker = getattr(obj, "__deprecated__", None)
    return marker if isinstance(marker, Deprecation) else None


class _FileScanner(ast.NodeVisitor):
    """Collects the uses of rlcore names in one module's syntax tree."""

    def __init__(self, path: str, resolver: _Resolver, notes: Sequence[ChangelogSection]) -> None:
        self.path = path
        self.resolver = resolver
        self.notes = notes
        self.bindings: dict[str, str] = {}
        self.uses: list[Use] = []

    def scan(self, tree: ast.AST) -> list[Use]:
        # Bindings are collected first and per file, whatever the scope: a static check that
        # would rather report a shadowed name than miss an import inside a function.
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _is_rlcore(alias.name):
                        if alias.asname:
                            self.bindings[alias.asname] = alias.name
                        else:
                            self.bindings[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_rlcore(node.module or ""):
                for alias in node.names:
                    if alias.name != "*":
                        self.bindings[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.visit(tree)
        return self.uses

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_rlcore(alias.name):
                self._report(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and _is_rlcore(node.module or ""):
            module = node.module or ""
            if self._report(module, node):
                return
            for alias in node.names:
                if alias.name != "*":
                    self._report(f"{module}.{alias.name}", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted is None:
            self.generic_visit(node)
        else:
            self._report(dotted, node)

    def visit_Call(self, node: ast.Call) -> None:
        target = node.func
        dotted = self._dotted(target) if isinstance(target, ast.Attribute) else None
        if isinstance(target, ast.Name) and target.id in self.bindings:
            dotted = self.bindings[target.id]
        if dotted is not None and node.keywords:
            self._check_keywords(dotted, node)
        self.generic_visit(node)

    def _dotted(self, node: ast.expr) -> str | None:
        attributes = []
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.bindings:
            return None
        return ".".join([self.bindings[node.id], *reversed(attributes)])

    def _check_keywords(self, dotted: str, node: ast.Call) -> None:
        resolved = self.resolver.resolve(dotted)
        if resolved.obj is _UNKNOWN or not callable(resolved.obj):
            return
        deprecated_args = self.resolver.deprecated_arguments(resolved.obj)
        accepted = _accepted_keywords(resolved.obj)
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            name = f"{dotted}({keyword.arg})"
            if keyword.arg in deprecated_args:
                entry = deprecated_args[keyword.arg]
                self._add(
                    keyword, entry.name, "deprecated", entry.message, entry.removed_in, entry.replacement
                )
            elif accepted is not None and keyword.arg not in accepted:
                message = f"{dotted}() has no argument {keyword.arg!r} in rlcore {self.resolver.version}"
                self._add(keyword, name, "removed", self._with_notes(message, name))

    def _report(self, dotted: str, node: ast.AST) -> bool:
        """Record ``dotted`` if deprecated or missing; return whether it was missing."""
        resolved = self.resolver.resolve(dotted)
        if resolved.deprecation is not None:
            entry = resolved.deprecation
            self._add(node, entry.name, "deprecated", entry.message, entry.removed_in, entry.replacement)
        if resolved.missing is not None:
            parent, _, last = resolved.missing.rpartition(".")
            message = f"{parent} has no name {last!r} in rlcore {self.resolver.version}"
            self._add(node, resolved.missing, "removed", self._with_notes(message, resolved.missing))
            return True
        return False

    def _with_notes(self, message: str, name: str) -> str:
        notes = removal_notes(self.notes, name.partition("(")[0])
        return f"{message} (CHANGELOG {'; '.join(notes)})" if notes else message

    def _add(
        self,
        node: ast.AST,
        name: str,
        status: str,
        message: str,
        removed_in: str | None = None,
        replacement: str | None = None,
    ) -> None:
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        self.uses.append(Use(self.path, line, col, name, status, message, removed_in, replacement))


def _is_rlcore(module: str) -> bool:
    return module == "rlcore" or module.startswith("rlcore.")


def _accepted_keywords(obj: Any) -> set[str] | None:
    """The keyword names ``obj`` accepts, or ``None`` if any (``**kwargs``) or unknown."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    names = set()
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(parameter.name)
    return names


def _python_files(project: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(
            name
            for name in dirs
            if not name.startswith(".")
            and name not in _SKIP_DIRS
            and not (Path(root, name, "pyvenv.cfg").exists())
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(root) / name


def scan_project(project: Path, notes: Sequence[ChangelogSection] = ()) -> ScanResult:
    """Find the uses of deprecated and removed rlcore names in ``project``'s Python files.

    Static: each file is parsed with :mod:`ast`. Found are imports (``from rlcore.x import y``,
    ``import rlcore.x``), attribute chains from an imported rlcore module (``import rlcore.x
    as m; m.y``, ``rlcore.x.y``), and keyword arguments of calls whose target resolves to an
    rlcore callable (deprecated ones, and ones its signature no longer accepts). Hidden
    directories, virtual environments, build outputs and run directories are skipped.

    Args:
        project: the project's root directory.
        notes: CHANGELOG sections whose ``Removed`` entries are quoted next to a removed name.
    """
    resolver = _Resolver(__version__)
    result = ScanResult()
    seen = set()
    for path in _python_files(project):
        relative = path.relative_to(project).as_posix()
        try:
            tree = ast.parse(path.read_bytes(), filename=relative)
        except (SyntaxError, ValueError, OSError) as error:
            result.unreadable.append(f"{relative}: {error}")
            continue
        for use in _FileScanner(relative, resolver, notes).scan(tree):
            key = (use.path, use.line, use.name, use.status)
            if key not in seen:
                seen.add(key)
                result.uses.append(use)
    result.uses.sort(key=lambda use: (use.path, use.line, use.col, use.name))
    return result
