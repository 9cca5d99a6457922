"""The rlcore an interpreter imports versus pip's record of it, as ``rlcore check`` and ``rlcore upgrade`` see it.

After a ``git pull`` in the checkout of an editable install, the interpreter imports the new
``__version__`` while the ``.dist-info`` pip wrote at install time still names the old one. The
stale install is reproduced here with ``PYTHONPATH``: a checkout whose ``rlcore/__init__.py``
says 0.3.0 and, after it, a ``rlcore-0.2.0.dist-info`` whose ``direct_url.json`` says editable;
both come before the virtual environment's own rlcore.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cli_kit import cruft_json, cruft_record, make_project, snapshot
from packaging.version import Version

import rlcore
from rlcore.cli import main
from rlcore.cli._errors import ProjectError
from rlcore.cli._installed import InstalledRlcore, installed_rlcore

RLCORE_ROOT = Path(__file__).resolve().parents[1]


def _dist_info(site: Path, checkout: Path, version: str = "0.2.0", *, editable: bool = True) -> None:
    """pip's record of an install of ``checkout``: METADATA and, if editable, direct_url.json (PEP 610)."""
    dist_info = site / f"rlcore-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: rlcore\nVersion: {version}\n")
    if editable:
        direct_url = {"url": checkout.as_uri(), "dir_info": {"editable": True}}
        (dist_info / "direct_url.json").write_text(json.dumps(direct_url))


def _stub_install(root: Path, init_source: str) -> tuple[Path, str]:
    """A checkout holding only ``src/rlcore/__init__.py``, recorded by pip as 0.2.0; (checkout, PYTHONPATH)."""
    checkout = root / "checkout"
    (checkout / "src" / "rlcore").mkdir(parents=True)
    (checkout / "src" / "rlcore" / "__init__.py").write_text(init_source)
    _dist_info(root / "site", checkout)
    return checkout, os.pathsep.join([str(checkout / "src"), str(root / "site")])


def _wrapper(path: Path, pythonpath: str, *flags: str) -> str:
    """An interpreter (a shell script) that runs this Python with ``PYTHONPATH`` set."""
    path.write_text(
        f"#!/bin/sh\nPYTHONPATH={shlex.quote(pythonpath)} exec {shlex.quote(sys.executable)} "
        + "".join(f"{flag} " for flag in flags)
        + '"$@"\n'
    )
    path.chmod(0o755)
    return str(path)


def _note(python: str, location: Path, checkout: Path) -> str:
    return (
        f"pip's record says rlcore 0.2.0, but {python} imports rlcore 0.3.0 from {location}; "
        f"reinstall it so that pip sees it too: {python} -m pip install -e {checkout}"
    )


# --------------------------------------------------------------------------- the helper


def test_installed_rlcore_reads_the_version_without_running_rlcore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout, pythonpath = _stub_install(
        tmp_path,
        '"""A stale checkout."""\n\n__version__ = "0.3.0"\nraise RuntimeError("rlcore was executed")\n',
    )
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    found = installed_rlcore(sys.executable, cwd=tmp_path)
    assert found == InstalledRlcore(
        python=sys.executable,
        version=Version("0.3.0"),
        location=checkout / "src" / "rlcore",
        metadata_version="0.2.0",
        editable_checkout=checkout,
    )
    assert found.metadata_stale
    assert found.reinstall_note == _note(sys.executable, checkout / "src" / "rlcore", checkout)
    assert found.as_dict()["metadata_version"] == "0.2.0"


def test_installed_rlcore_imports_rlcore_only_without_a_version_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pythonpath = _stub_install(tmp_path, "__version__ = '.'.join(['0', '4', '0'])\n")
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    found = installed_rlcore(sys.executable, cwd=tmp_path)
    assert (found.version, found.metadata_version) == (Version("0.4.0"), "0.2.0")


def test_installed_rlcore_in_process_agrees_with_a_subprocess() -> None:
    here = installed_rlcore()
    assert here == installed_rlcore(sys.executable)
    assert here.version == Version(rlcore.__version__)
    assert here.location == Path(rlcore.__file__).resolve().parent
    assert not here.metadata_stale and here.reinstall_note is None


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "missing",
            r"the interpreter .* has no rlcore to import \(importlib.util.find_spec\('rlcore'\) finds none\)",
        ),
        ("broken", r"has no rlcore to import \(RuntimeError: broken install\)"),
        (
            "not a version",
            r"imports rlcore from .*, whose __version__ 'banana' is not a version; expected e.g.",
        ),
        ("no interpreter", r"cannot run the interpreter '/nonexistent/python' to find its rlcore"),
        ("not python", r"did not report its rlcore \(exit 3: not python\); expected a Python interpreter"),
    ],
)
def test_installed_rlcore_errors(tmp_path: Path, case: str, message: str) -> None:
    if case == "missing":  # no site-packages (-S), nothing on PYTHONPATH: no rlcore at all
        python = _wrapper(tmp_path / "python", str(tmp_path / "empty"), "-S")
    elif case == "broken":
        _, pythonpath = _stub_install(tmp_path, "raise RuntimeError('broken install')\n")
        python = _wrapper(tmp_path / "python", pythonpath)
    elif case == "not a version":
        _, pythonpath = _stub_install(tmp_path, "__version__ = 'banana'\n")
        python = _wrapper(tmp_path / "python", pythonpath)
    elif case == "no interpreter":
        python = "/nonexistent/python"
    else:
        python = str(tmp_path / "python")
        Path(python).write_text("#!/bin/sh\necho 'not python' >&2\nexit 3\n")
        Path(python).chmod(0o755)
    with pytest.raises(ProjectError, match=message):
        installed_rlcore(python, cwd=tmp_path)


def test_reinstall_note_names_the_checkout_to_reinstall(tmp_path: Path) -> None:
    checkout = tmp_path / "my checkout"
    location = checkout / "src" / "rlcore"
    stale = InstalledRlcore("/venv/bin/python", Version("0.3.0"), location, "0.2.0", checkout)
    assert stale.reinstall_note == (
        f"pip's record says rlcore 0.2.0, but /venv/bin/python imports rlcore 0.3.0 from {location}; "
        f"reinstall it so that pip sees it too: /venv/bin/python -m pip install -e '{checkout}'"
    )
    # pip's checkout is elsewhere (rlcore is shadowed): the imported package's own src layout.
    (checkout / "pyproject.toml").parent.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'rlcore'\n")
    shadowed = InstalledRlcore("python", Version("0.3.0"), location, "0.2.0", tmp_path / "other")
    assert shadowed.source_checkout == checkout
    # Neither known: the command names what to fill in.
    unknown = InstalledRlcore("python", Version("0.3.0"), tmp_path / "site" / "rlcore", "0.2.0", None)
    assert unknown.reinstall_note is not None
    assert unknown.reinstall_note.endswith("python -m pip install -e <your rlcore checkout>")
    # In step (the same version, written another way), or no record at all: no note.
    assert InstalledRlcore("python", Version("0.3.0"), location, "0.3", checkout).reinstall_note is None
    assert InstalledRlcore("python", Version("0.3.0"), location, None, None).reinstall_note is None
    assert InstalledRlcore("python", Version("0.3.0"), location, "bogus", None).metadata_stale


# --------------------------------------------------------------------------- the commands


@dataclass(frozen=True)
class _StaleInstall:
    checkout: Path
    env: dict[str, str]
    python: str  # sys.executable as the commands see it (their interpreter, and the tests')

    @property
    def location(self) -> Path:
        return self.checkout / "src" / "rlcore"


@pytest.fixture(scope="module")
def stale_install(tmp_path_factory: pytest.TempPathFactory) -> _StaleInstall:
    """A copy of this rlcore whose checkout was pulled to 0.3.0 while pip's record says 0.2.0."""
    root = tmp_path_factory.mktemp("stale")
    checkout = root / "checkout"
    shutil.copytree(
        RLCORE_ROOT / "src" / "rlcore",
        checkout / "src" / "rlcore",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(RLCORE_ROOT / "CHANGELOG.md", checkout / "CHANGELOG.md")
    version_file = checkout / "src" / "rlcore" / "_version.py"
    source, count = re.subn(
        r'^__version__ = "[^"]*"$', '__version__ = "0.3.0"', version_file.read_text(), flags=re.M
    )
    assert count == 1
    version_file.write_text(source)
    _dist_info(root / "site", checkout)
    pythonpath = os.pathsep.join([str(checkout / "src"), str(root / "site")])
    env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
    python = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return _StaleInstall(checkout, env, python)


def _rlcore(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlcore.cli", *arguments], capture_output=True, text=True, env=env, check=False
    )


def test_check_and_upgrade_name_the_same_stale_versions(tmp_path: Path, stale_install: _StaleInstall) -> None:
    note = _note(stale_install.python, stale_install.location, stale_install.checkout)
    ready = make_project(tmp_path, "ready", requirement="rlcore>=0.3.0,<0.4")

    check = _rlcore(stale_install.env, "check", str(ready))
    assert check.returncode == 0, check.stdout + check.stderr  # the note does not fail a project
    assert check.stdout.splitlines()[0] == f"note: {note}"
    assert "  installed:   rlcore 0.3.0: satisfied" in check.stdout

    check_json = _rlcore(stale_install.env, "check", "--json", str(ready))
    assert check_json.returncode == 0 and check_json.stderr == ""
    document = json.loads(check_json.stdout)["rlcore"]
    assert (document["version"], document["metadata_version"], document["note"]) == ("0.3.0", "0.2.0", note)
    assert document["editable_checkout"] == str(stale_install.checkout)

    # upgrade tests with the same interpreter: it refuses, naming the same two versions.
    behind = make_project(tmp_path, "behind", requirement="rlcore>=0.2.0,<0.3")
    (behind / ".cruft.json").write_bytes(cruft_json(cruft_record("0.2.0")))
    pyproject_before, before = (behind / "pyproject.toml").read_bytes(), snapshot(behind)
    upgrade = _rlcore(stale_install.env, "upgrade", str(behind))
    assert upgrade.returncode == 1
    assert (
        "behind failed: the test interpreter's pip record is stale (rlcore 0.2.0; it imports 0.3.0)\n"
        f"{note}\n" in upgrade.stdout
    )
    assert (
        "failed: the test interpreter's pip record is stale (rlcore 0.2.0; it imports 0.3.0)"
        in (upgrade.stdout.splitlines()[-1])
    )
    assert (behind / "pyproject.toml").read_bytes() == pyproject_before
    assert snapshot(behind) == before


def test_upgrade_checks_the_version_the_test_interpreter_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # This process's rlcore is in step; the project's interpreter (--python) is stale.
    checkout, pythonpath = _stub_install(tmp_path, '__version__ = "0.3.0"\nraise RuntimeError("executed")\n')
    python = _wrapper(tmp_path / "python", pythonpath)
    project = make_project(tmp_path)
    before = snapshot(project)
    assert main(["upgrade", "--python", python, str(project)]) == 1
    out = capsys.readouterr().out
    assert "proj failed: the test interpreter's pip record is stale (rlcore 0.2.0; it imports 0.3.0)\n" in out
    assert _note(python, checkout / "src" / "rlcore", checkout) in out
    assert snapshot(project) == before
