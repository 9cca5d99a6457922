"""The whole upgrade story: two baked projects meet the next rlcore release.

1. Two projects are baked from this template, pinned to the current rlcore: ``alpha`` by a
   version range (``rlcore_source=index``), ``beta`` by a git tag of the template's own
   repository (``rlcore_source=git``: a copy of this repository at the release, made by
   ``helpers.release_repo``, so ``rlcore @ git+file://<copy>@v<current>#subdirectory=rlcore``).
   ``alpha`` calls a function the next release removes, ``beta`` one it deprecates; each has a
   test exercising that call. ``rlcore check`` with the current rlcore finds nothing wrong.
2. The next rlcore (one minor up, e.g. 0.3.0) is built from this checkout in a temporary folder:
   the version bumped, ``DEPRECATED`` marked with ``rlcore.deprecation.deprecated``, ``REMOVED``
   deleted, a CHANGELOG section added. It is installed the way a wheel lays it out (the package,
   its CHANGELOG.md inside it as hatch's ``force-include`` puts it, a ``.dist-info``) into an
   overlay venv that reuses this venv's packages, so this venv's editable rlcore is untouched.
3. ``rlcore check`` reports both uses with file and line, and the CHANGELOG between versions.
4. ``rlcore upgrade`` refuses both: ``alpha``'s tests cannot import the removed name, ``beta``'s
   fail on the deprecation warning (tests run with it as an error); both are left byte for byte
   as they were (every file hashed, ``.git`` included).
5. The template's repository releases the next rlcore (``rlcore/`` at the next version, the
   template's default ``rlcore_version`` moved to it, tag ``v<next>``). ``cruft update -y
   --checkout v<next>`` brings it to ``beta`` and leaves its rlcore requirement byte for byte:
   the template renders it from the stored answer ``rlcore_version``, so a template update
   cannot move the requirement past the tests (as it once did: the range moved, the update
   reported success, and the tests then failed on the deprecation). ``rlcore upgrade`` is the
   channel that moves it, and it still refuses ``beta``, restoring ``pyproject.toml`` and
   ``.cruft.json`` byte for byte.
6. ``beta`` moves to the replacement; ``rlcore upgrade`` now upgrades it: the tag becomes
   ``v<next>`` in ``pyproject.toml`` and the answer ``rlcore_version`` becomes ``<next>`` in
   ``.cruft.json`` (every other byte of both kept), and ``rlcore check`` is clean. ``alpha`` is
   still untouched.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import REPO, bake, make_overlay_venv, release_repo, run
from packaging.version import Version

import rlcore

#: (module, function) the next release deprecates, its replacement, and the one it removes.
DEPRECATED = ("rlcore.returns", "discounted_returns")
REPLACEMENT = "rlcore.returns.td_lambda_returns(..., lam=1.0)"
# (A function nothing inside rlcore uses, so that removing it leaves rlcore whole.)
REMOVED = ("rlcore.nn.polyak", "polyak_update")

CURRENT = Version(rlcore.__version__)
NEXT = f"{CURRENT.major}.{CURRENT.minor + 1}.0" if CURRENT.major == 0 else f"{CURRENT.major + 1}.0.0"
AFTER_NEXT = f"0.{CURRENT.minor + 2}.0" if CURRENT.major == 0 else f"{CURRENT.major + 2}.0.0"
CRUFT = Path(sys.executable).with_name("cruft")
GIT_IDENTITY = [
    "-c",
    "user.name=Upgrade Story",
    "-c",
    "user.email=upgrade@example.org",
    "-c",
    "commit.gpgsign=false",
]

ALPHA_CODE = f'''\
"""Target networks: a soft update of the target's parameters towards the online network's."""

from __future__ import annotations

import torch
from {REMOVED[0]} import {REMOVED[1]}


def soft_update(target: torch.nn.Module, online: torch.nn.Module, tau: float) -> None:
    """``target <- tau * online + (1 - tau) * target``, parameter by parameter."""
    {REMOVED[1]}(target, online, tau)
'''
ALPHA_TEST = """\
from __future__ import annotations

import torch

from alpha.targets import soft_update


def test_moves_a_quarter_of_the_way() -> None:
    target, online = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    expected = 0.75 * target.weight.detach() + 0.25 * online.weight.detach()
    soft_update(target, online, 0.25)
    torch.testing.assert_close(target.weight.detach(), expected)
"""
BETA_CODE = f'''\
"""Monte Carlo targets of one episode that terminates at its last step."""

from __future__ import annotations

import numpy as np
from {DEPRECATED[0]} import {DEPRECATED[1]}


def mc_targets(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted sums of ``rewards`` (shape ``(T,)``) to the end of the episode."""
    r = np.asarray(rewards, dtype=np.float64)[:, None]
    terminated = np.zeros(r.shape, dtype=bool)
    terminated[-1] = True
    truncated = np.zeros(r.shape, dtype=bool)
    return {DEPRECATED[1]}(r, np.zeros_like(r), terminated, truncated, gamma=gamma)[:, 0]
'''
BETA_FIXED_CALL = "td_lambda_returns(r, np.zeros_like(r), terminated, truncated, gamma=gamma, lam=1.0)"
BETA_TEST = """\
from __future__ import annotations

import numpy as np

from beta.targets import mc_targets


def test_matches_a_python_loop() -> None:
    rewards = [1.0, 0.0, 2.0, -1.0]
    expected, running = [], 0.0
    for reward in reversed(rewards):
        running = reward + 0.9 * running
        expected.insert(0, running)
    np.testing.assert_allclose(mc_targets(np.array(rewards), 0.9), expected)
"""


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` (``.git`` included) -> SHA-256 of its bytes."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def _functions_named(tree: ast.Module, name: str) -> list[ast.FunctionDef]:
    return [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]


def _first_line(node: ast.FunctionDef) -> int:
    return min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])


def _drop_name(path: Path, name: str, *, module: str, defining: bool) -> None:
    """Delete ``name`` from ``path``: its definitions (if ``defining``), imports from ``module``, ``__all__``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    edits: list[tuple[int, int, list[str]]] = []  # (first line index, end line index, replacement)
    for node in ast.parse("".join(lines)).body:
        span = (
            (_first_line(node) if isinstance(node, ast.FunctionDef) else node.lineno) - 1,
            node.end_lineno or node.lineno,
        )
        if defining and isinstance(node, ast.FunctionDef) and node.name == name:
            edits.append((*span, []))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == module
            and any(a.name == name for a in node.names)
        ):
            kept = [alias for alias in node.names if alias.name != name]
            statement = ast.unparse(ast.ImportFrom(module=module, names=kept, level=0)) + "\n"
            edits.append((*span, [statement] if kept else []))
        elif _assigns_all(node) and isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            exported = ast.literal_eval(node.value)
            if name in exported:
                edits.append((*span, [f"__all__ = {[n for n in exported if n != name]!r}\n"]))
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start:end] = replacement
    path.write_text("".join(lines), encoding="utf-8")


def _assigns_all(node: ast.stmt) -> bool:
    targets = (
        node.targets
        if isinstance(node, ast.Assign)
        else [node.target]
        if isinstance(node, ast.AnnAssign)
        else []
    )
    return any(getattr(target, "id", None) == "__all__" for target in targets)


def _refers_to(path: Path, name: str) -> bool:
    """Whether the code of ``path`` (not its docstrings) still names ``name``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Name) and node.id == name) or (
            isinstance(node, ast.Attribute) and node.attr == name
        ):
            return True
        if isinstance(node, (ast.ImportFrom, ast.Import)) and any(alias.name == name for alias in node.names):
            return True
    return False


def build_next_rlcore(destination: Path) -> Path:
    """Copy this checkout's rlcore and turn it into release ``NEXT``; return the copy's root."""
    root = destination / "rlcore"
    shutil.copytree(REPO / "rlcore", root, ignore=shutil.ignore_patterns("__pycache__", "tests", ".*"))
    package = root / "src" / "rlcore"

    version_file = package / "_version.py"
    text = version_file.read_text(encoding="utf-8")
    assert f'__version__ = "{CURRENT}"' in text
    version_file.write_text(
        text.replace(f'__version__ = "{CURRENT}"', f'__version__ = "{NEXT}"'), encoding="utf-8"
    )

    # Deprecate: a decorator on the implementation (the overload stubs stay as they are).
    module = package / (DEPRECATED[0].split(".", 1)[1].replace(".", "/") + ".py")
    lines = module.read_text(encoding="utf-8").splitlines(keepends=True)
    tree = ast.parse("".join(lines))
    (implementation,) = [
        node
        for node in _functions_named(tree, DEPRECATED[1])
        if not any("overload" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]
    at = _first_line(implementation) - 1
    lines[at:at] = [
        "from rlcore.deprecation import deprecated as _deprecated\n",
        f'@_deprecated(since="{NEXT}", removed_in="{AFTER_NEXT}", replacement="{REPLACEMENT}")\n',
    ]
    module.write_text("".join(lines), encoding="utf-8")

    # Remove: every definition of the function, its re-exports and its entries in __all__.
    defining = package / (REMOVED[0].split(".", 1)[1].replace(".", "/") + ".py")
    for path in sorted(package.rglob("*.py")):
        _drop_name(path, REMOVED[1], module=REMOVED[0], defining=path == defining)
    users = [
        path.relative_to(package).as_posix() for path in package.rglob("*.py") if _refers_to(path, REMOVED[1])
    ]
    assert not users, f"{REMOVED[1]} is used inside rlcore by {users}: pick another function to remove"

    changelog = root / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    section = textwrap.dedent(
        f"""\
        ## [{NEXT}] - 2030-01-31

        ### Deprecated
        - `{".".join(DEPRECATED)}`: use `{REPLACEMENT}`; removed in {AFTER_NEXT}.

        ### Removed
        - `{".".join(REMOVED)}`: deprecated long enough; update target parameters with `torch.lerp_`.

        """
    )
    # NEXT goes right below the Unreleased section, whose entries (if any) stay unreleased, so
    # that NEXT's section holds exactly the changes above.
    unreleased = text.index("## [Unreleased]\n")
    released = text.index("\n## [", unreleased + 1) + 1
    changelog.write_text(text[:released] + section + text[released:], encoding="utf-8")
    return root


def install_like_a_wheel(source: Path, site_packages: Path, version: str) -> None:
    """Lay rlcore out in ``site_packages`` as its wheel does (the CHANGELOG inside the package)."""
    shutil.copytree(source / "src" / "rlcore", site_packages / "rlcore")
    shutil.copy2(source / "CHANGELOG.md", site_packages / "rlcore" / "CHANGELOG.md")
    dist_info = site_packages / f"rlcore-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: rlcore\nVersion: {version}\n")
    (dist_info / "entry_points.txt").write_text("[console_scripts]\nrlcore = rlcore.cli:main\n")
    (dist_info / "INSTALLER").write_text("test_upgrade_e2e\n")
    (dist_info / "RECORD").write_text("")


def rlcore_cli(python: Path | str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``<python> -m rlcore.cli ARGS``, its exit status left to the caller."""
    return subprocess.run(
        [str(python), "-m", "rlcore.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )


def _line_of(path: Path, needle: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (commits unsigned, with a fixed identity); return its stdout."""
    return run(["git", *GIT_IDENTITY, *args], repo).stdout


def bake_fresh(template: Path, output: Path, **answers: object) -> Path:
    """``helpers.bake``, with the template's own ``local_extensions`` imported afresh.

    cookiecutter imports the template's extension module by name, and Python keeps the first one
    a process imported (another template's, whose ``template_root()`` is another folder).
    """
    sys.modules.pop("local_extensions", None)
    return bake(template, output, **answers)


def release_next_template(release: Path, next_rlcore: Path) -> str:
    """The template's repository at the next release: rlcore ``NEXT`` in ``rlcore/``, the
    template's default ``rlcore_version`` moved to it, tagged ``v<NEXT>``; return the tag."""
    shutil.rmtree(release / "rlcore")
    shutil.copytree(next_rlcore, release / "rlcore")
    config = release / "cookiecutter.json"
    text = config.read_text(encoding="utf-8")
    default = f'"rlcore_version": "{CURRENT}"'
    assert text.count(default) == 1, "cookiecutter.json's rlcore_version default is not rlcore.__version__"
    config.write_text(text.replace(default, f'"rlcore_version": "{NEXT}"'), encoding="utf-8")
    git(release, "add", "--all")
    git(release, "commit", "--quiet", "-m", f"rlcore {NEXT}")
    git(release, "tag", "-a", f"v{NEXT}", "-m", f"rlcore {NEXT}")
    return f"v{NEXT}"


@pytest.mark.slow
def test_upgrade_story(tmp_path: Path) -> None:
    # 1. Two baked projects on the current rlcore, each using a name the next release touches.
    common = {"example_agent": "none", "notebooks": "none", "ci": "none", "logger": "csv", "init_git": True}
    alpha = bake_fresh(REPO, tmp_path / "work", project_name="Alpha", rlcore_source="index", **common)
    release = release_repo(tmp_path / "template")
    beta = bake_fresh(release, tmp_path / "work", project_name="Beta", rlcore_source="git", **common)
    beta_requirement = f"rlcore @ git+{release.resolve().as_uri()}@v{CURRENT}#subdirectory=rlcore"
    assert f'    "{beta_requirement}",\n' in (beta / "pyproject.toml").read_text()
    for project in (alpha, beta):
        text = "\n".join(path.read_text() for path in project.rglob("*.py"))
        for module, name in (DEPRECATED, REMOVED):
            assert name not in text, f"the template now uses {module}.{name}: pick other names for this story"
    (alpha / "src" / "alpha" / "targets.py").write_text(ALPHA_CODE)
    (alpha / "tests" / "test_targets.py").write_text(ALPHA_TEST)
    (beta / "src" / "beta" / "targets.py").write_text(BETA_CODE)
    (beta / "tests" / "test_targets.py").write_text(BETA_TEST)
    alpha_use = (
        "src/alpha/targets.py",
        _line_of(alpha / "src/alpha/targets.py", f"import {REMOVED[1]}"),
    )
    beta_use = ("src/beta/targets.py", _line_of(beta / "src/beta/targets.py", f"import {DEPRECATED[1]}"))
    git(beta, "add", "--all")
    git(beta, "commit", "--quiet", "-m", "Monte Carlo targets")

    baseline = rlcore_cli(sys.executable, "check", alpha, beta, cwd=tmp_path)
    assert baseline.returncode == 0, (
        f"the baked projects are not clean on rlcore {CURRENT}:\n{baseline.stdout}"
    )

    # 2. rlcore NEXT, installed in an overlay venv that sees this venv's torch & co.
    next_rlcore = build_next_rlcore(tmp_path / "next")
    python = make_overlay_venv(tmp_path / "env", rlcore_checkout=False)
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # This venv's editable rlcore is a .pth file, which Python does not follow from a .pth-added folder.
    # (cwd: from the repository root, `import rlcore` would find the folder rlcore/ as a namespace package)
    # (An editable install of rlcore may leave site-packages/rlcore/CHANGELOG.md, hatchling's
    # force-include, which is a namespace package without code: that is no rlcore either.)
    probe_spec = (
        "import importlib.util as u; s = u.find_spec('rlcore'); print(s is not None and s.origin is not None)"
    )
    isolated = subprocess.run(
        [python, "-c", probe_spec], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert isolated.stdout.strip() == "False", "the overlay venv already sees an rlcore"
    install_like_a_wheel(next_rlcore, site, NEXT)
    # The projects are installed editable, as `pip install -e` would (hatchling is not needed here).
    (site / "_projects.pth").write_text(f"{alpha / 'src'}\n{beta / 'src'}\n")
    probe = "import importlib.metadata as m, json, rlcore; print(json.dumps([rlcore.__version__, m.version('rlcore'), rlcore.__file__]))"
    version, metadata_version, location = json.loads(
        subprocess.check_output([python, "-c", probe], text=True)
    )
    assert (version, metadata_version) == (NEXT, NEXT)
    assert Path(location).parent == site / "rlcore"
    assert rlcore.__version__ == str(CURRENT)  # this venv still has its own rlcore

    # 3. check: both uses, with file and line, and the CHANGELOG between the versions.
    checked = rlcore_cli(python, "check", "--json", alpha, beta, cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    document = json.loads(checked.stdout)
    installed = {key: document["rlcore"].get(key) for key in ("version", "changelog")}
    assert installed == {"version": NEXT, "changelog": str(site / "rlcore" / "CHANGELOG.md")}
    report_alpha, report_beta = document["projects"]
    assert report_alpha["satisfied"] is False and report_beta["satisfied"] is False
    assert report_beta["requirement"] == beta_requirement
    assert [(use["path"], use["line"], use["name"]) for use in report_alpha["removed"]] == [
        (*alpha_use, ".".join(REMOVED))
    ]
    assert (
        "(CHANGELOG [" + NEXT + "] Removed: `" + ".".join(REMOVED) + "`"
        in report_alpha["removed"][0]["message"]
    )
    assert report_alpha["deprecated"] == [] and report_beta["removed"] == []
    (use,) = report_beta["deprecated"]
    assert (use["path"], use["line"], use["name"]) == (*beta_use, ".".join(DEPRECATED))
    assert (use["removed_in"], use["replacement"]) == (AFTER_NEXT, REPLACEMENT)
    for report in (report_alpha, report_beta):
        (section,) = report["changelog"]
        assert section["version"] == NEXT and set(section["changes"]) == {"Deprecated", "Removed"}
    text_report = rlcore_cli(python, "check", alpha, beta, cwd=tmp_path).stdout
    assert (
        f"    {alpha_use[0]}:{alpha_use[1]}:0: {'.'.join(REMOVED)}: {REMOVED[0]} has no name" in text_report
    )
    assert (
        f"    {beta_use[0]}:{beta_use[1]}:0: {'.'.join(DEPRECATED)}: {'.'.join(DEPRECATED)} is deprecated"
        in text_report
    )

    # 4. upgrade refuses both, and leaves every byte as it was.
    before = {project.name: tree_hashes(project) for project in (alpha, beta)}
    refused = rlcore_cli(python, "upgrade", alpha, beta, cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"cannot import name '{REMOVED[1]}' from '{REMOVED[0]}'" in refused.stdout
    assert (
        f"RLCoreDeprecationWarning: {'.'.join(DEPRECATED)} is deprecated since rlcore {NEXT}"
        in refused.stdout
    )
    assert (
        f"uses names removed in rlcore {NEXT}: {alpha_use[0]}:{alpha_use[1]} {'.'.join(REMOVED)}"
        in refused.stdout
    )
    rows = {line.split()[0]: line for line in refused.stdout.splitlines()[-2:]}
    assert "failed: tests failed (" in rows["alpha"] and "failed: tests failed (" in rows["beta"]
    assert f"rlcore>=0.{CURRENT.minor}" in rows["alpha"] and f"@v{NEXT}#" in rows["beta"]
    assert "alpha [" in refused.stderr and "beta [" in refused.stderr  # progress with elapsed seconds
    assert {project.name: tree_hashes(project) for project in (alpha, beta)} == before

    # 5. The template releases the next rlcore; its update leaves beta's requirement alone, and
    # `rlcore upgrade`, the channel that moves it, still refuses beta and restores both files.
    tag = release_next_template(release, next_rlcore)
    pyproject_before = (beta / "pyproject.toml").read_bytes()
    updated = subprocess.run(
        [CRUFT, "update", "-y", "--checkout", tag], cwd=beta, capture_output=True, text=True, check=False
    )
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "Good work!" in updated.stdout, updated.stdout + updated.stderr
    assert not list(beta.rglob("*.rej")), "the template update left rejected hunks"
    assert (beta / "pyproject.toml").read_bytes() == pyproject_before
    state = json.loads((beta / ".cruft.json").read_text(encoding="utf-8"))
    assert (state["checkout"], state["context"]["cookiecutter"]["rlcore_version"]) == (tag, str(CURRENT))
    assert git(beta, "status", "--porcelain").split() == ["M", ".cruft.json"]
    git(beta, "commit", "--quiet", "--all", "-m", f"Template {tag}")
    before_beta = tree_hashes(beta)
    cruft_before = (beta / ".cruft.json").read_bytes()
    refused = rlcore_cli(python, "upgrade", beta, cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        f"RLCoreDeprecationWarning: {'.'.join(DEPRECATED)} is deprecated since rlcore {NEXT}"
        in refused.stdout
    )
    assert "failed: tests failed (" in refused.stdout.splitlines()[-1]
    assert (beta / "pyproject.toml").read_bytes() == pyproject_before
    assert (beta / ".cruft.json").read_bytes() == cruft_before
    assert tree_hashes(beta) == before_beta

    # 6. beta moves to the replacement; now the upgrade goes through.
    targets = beta / "src" / "beta" / "targets.py"
    code = targets.read_text()
    code = code.replace(
        f"from {DEPRECATED[0]} import {DEPRECATED[1]}", f"from {DEPRECATED[0]} import td_lambda_returns"
    )
    targets.write_text(
        code.replace(
            f"{DEPRECATED[1]}(r, np.zeros_like(r), terminated, truncated, gamma=gamma)", BETA_FIXED_CALL
        )
    )
    upgraded = rlcore_cli(python, "upgrade", beta, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert upgraded.stdout.splitlines()[-1].endswith("  upgraded")
    assert (beta / "pyproject.toml").read_bytes() == pyproject_before.replace(
        f"@v{CURRENT}#subdirectory".encode(), f"@v{NEXT}#subdirectory".encode()
    )
    # The answer the template renders the requirement from moves with it, in place.
    answer = f'"rlcore_version": "{CURRENT}"'.encode()
    assert cruft_before.count(answer) == 1
    assert (beta / ".cruft.json").read_bytes() == cruft_before.replace(
        answer, f'"rlcore_version": "{NEXT}"'.encode()
    )
    clean = json.loads(rlcore_cli(python, "check", "--json", beta, cwd=tmp_path).stdout)
    assert clean["ok"] is True and clean["projects"][0]["satisfied"] is True
    assert tree_hashes(alpha) == before["alpha"]
