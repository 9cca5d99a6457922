"""A project's rlcore requirement in its ``pyproject.toml``: read it, plan the next one, rewrite it (private).

The requirement is the rlcore entry of ``[project] dependencies``: a version range
(``rlcore>=0.1.0,<0.2``) or a git reference whose tag is the version
(``rlcore @ git+URL@v0.1.0#subdirectory=rlcore``). :func:`read_requirement` reads it,
:func:`compatible_range` and :meth:`RlcoreRequirement.retarget` write the next one, and
:func:`rewrite_pyproject` changes only that string in the file, checked by re-parsing.

Imported only by the CLI subcommands, so ``import rlcore`` never loads ``packaging``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rlcore.cli._errors import ProjectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib

__all__ = ["RlcoreRequirement", "compatible_range", "read_requirement", "rewrite_pyproject"]

_DIST_NAME = canonicalize_name("rlcore")


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
