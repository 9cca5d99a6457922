"""Validate the template answers before Cookiecutter writes any file of the project.

Cookiecutter renders this file with Jinja, then runs it with the new project folder (created
and still empty) as the working directory. When it exits non-zero, Cookiecutter 2.x deletes that
folder again and raises ``FailedHookException``, so a rejected answer leaves nothing on disk.
A project_slug that cannot name that folder (a path, too long, not text) never gets this far:
local_extensions.py runs this module's checks of it while Cookiecutter renders the folder name.

Each problem is printed on one line of stderr: what is wrong, the value received, and what
would be valid. All problems are reported at once, so one run shows everything to fix.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

__all__ = [
    "DEPENDENCY_MODULES",
    "MAX_NAME_LENGTH",
    "NOTEBOOKS_KIND",
    "NOTEBOOK_KINDS",
    "PROJECT_FOLDERS",
    "RESERVED_NAMES",
    "check_email",
    "check_git_url",
    "check_name_length",
    "check_notebooks",
    "check_package_name",
    "check_project_slug",
    "check_single_line",
    "check_text",
    "check_version",
    "compatible_range",
    "rlcore_requirement",
    "template_git_url",
    "validate",
]

# Rendered by Cookiecutter: the answers as JSON (ASCII only, every quote escaped, so a raw
# triple-quoted string always holds it intact). Unrendered, this module can be imported by tests
# and by local_extensions.py, which runs some of these checks before the project folder exists.
ANSWERS_JSON = r"""{{ cookiecutter | jsonify }}"""
# The template's root folder on this machine (local_extensions.template_root): where the
# template was read, a clone when it came from a URL.
TEMPLATE_ROOT = r"""{{ template_root() }}"""

# Folders of the project's own layout, which a package or distribution of the same name would
# be confused with.
PROJECT_FOLDERS = ("src", "test", "tests")

# Every distribution the generated project installs or runs, with every option on (PEP 503
# names), and the top-level modules it installs: the template's pyproject.toml (dependencies,
# extras, dev tools, build backend), and rlcore's own dependencies and runtime extras, which
# rlcore imports on the project's behalf. A package named like one of these modules shadows it
# (the project's `train.py` runs `import tyro` and gets the project; `python -m pytest` runs the
# project), and a distribution named like one of these conflicts with it on install.
# Transitive dependencies are not listed. tests/test_adversarial_answers.py fails when the
# template declares a requirement missing here, or when an installed one has more modules.
DEPENDENCY_MODULES: dict[str, tuple[str, ...]] = {
    "rlcore": ("rlcore",),
    "torch": ("torch", "functorch", "torchgen"),
    "gymnasium": ("gymnasium",),
    "numpy": ("numpy",),
    "packaging": ("packaging",),
    "tomli": ("tomli",),
    "tyro": ("tyro",),
    "matplotlib": ("matplotlib", "mpl_toolkits", "pylab"),
    "tensorboard": ("tensorboard",),
    "wandb": ("wandb",),
    "ray": ("ray",),
    "moviepy": ("moviepy",),
    # Videos of evaluation episodes: moviepy (above), its ffmpeg, pygame (classic-control frames).
    "imageio-ffmpeg": ("imageio_ffmpeg",),
    "pygame": ("pygame",),
    # The PyBullet env (custom_env=pybullet): its pybullet extra, also in dev.
    "pybullet": (
        "pybullet",
        "pybullet_data",
        "pybullet_envs",
        "pybullet_examples",
        "pybullet_robots",
        "pybullet_utils",
        "eglRenderer",
    ),
    # One run on several processes (the fabric extra, also in dev): Lightning Fabric.
    "lightning-fabric": ("lightning_fabric",),
    # Atari games (the atari extra, also in dev): the emulator with its ROMs, OpenCV for the frames.
    "ale-py": ("ale_py",),
    "opencv-python-headless": ("cv2",),
    # The notebooks: Jupyter (the notebooks extra), a kernel and its client (pytest runs them),
    # nbdev (notebooks=nbdev).
    "jupyter": (),
    "ipykernel": ("ipykernel", "ipykernel_launcher"),
    "nbclient": ("nbclient",),
    "nbdev": ("nbdev",),
    "pytest": ("pytest", "py"),
    "pre-commit": ("pre_commit",),
    "ruff": ("ruff",),
    "mypy": ("mypy", "mypyc"),
    "hatchling": ("hatchling",),
}

# The names a distribution (project_slug) may not take, PEP 503 normalised.
RESERVED_NAMES = (*PROJECT_FOLDERS, *DEPENDENCY_MODULES)

# project_slug and package_name become folder names (the project, src/<package>) and, with the
# version and tags added, file names (`<name>-<version>-py3-none-any.whl`, the editable
# install's `__editable___<name>_<version>_finder.py`), which most file systems limit to 255
# bytes. 100 leaves room for those additions and is GitHub's limit for a repository name, which
# the slug usually becomes.
MAX_NAME_LENGTH = 100

# PEP 508 / Core metadata: a distribution name is ASCII letters and digits, with `.`, `-`, `_`
# allowed inside. (Patterns are used with fullmatch: `$` would accept a trailing newline.)
_DISTRIBUTION_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
_ASCII_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Deliberately loose: one @, no spaces, and a dot in the domain. Real validation is sending mail.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
# RFC 3986: the characters a URL holds (unreserved, reserved, and `%` of a percent-escape). Any
# other (quotes, backslashes, spaces, `<>{}|^` and backticks, non-ASCII letters) is not part of
# a URL that pip reads from a PEP 508 requirement, and a quote would end the TOML string.
_URL_CHARACTER = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]")
_BROKEN_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# The embedding, override and isolate controls of bidirectional text: they make text display in
# another order than it is stored ("Trojan Source", CVE-2021-42574). No name needs them: the
# Unicode bidirectional algorithm orders right-to-left scripts without them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shorten(value: str, limit: int = 40) -> str:
    # A 260-character answer, quoted whole, would bury the message.
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}..."


def check_text(key: str, value: str) -> str | None:
    """Return why ``value`` cannot be written into a file as the answer ``key``, or ``None``.

    Every answer lands in files written as UTF-8, so it must be valid Unicode text: a lone
    surrogate (what Python makes of bytes that are not UTF-8, e.g. an argument typed in a
    Latin-1 terminal) cannot be encoded, and control characters (a tab aside) and bidirectional
    controls change how the file reads.
    """
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return (
                f"{key} {_shorten(value)} is not valid text: it holds the lone surrogate U+{code:04X}, "
                f"which is what undecodable bytes become (was it typed in a terminal that does not use "
                f"UTF-8?): expected UTF-8 text"
            )
        if (unicodedata.category(char) == "Cc" and char != "\t") or char in _BIDI_CONTROLS:
            name = unicodedata.name(char, "")
            return (
                f"{key} {_shorten(value)} holds the control character U+{code:04X}"
                f"{f' ({name})' if name else ''}: expected printable text"
            )
    return None


def check_name_length(key: str, value: str) -> str | None:
    """Return why ``value`` is too long for the name ``key`` (project_slug, package_name), or ``None``."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_LENGTH:
        counted = f"{len(value)} characters" + (f", {size} bytes in UTF-8" if size != len(value) else "")
        return (
            f"{key} {_shorten(value)} is too long ({counted}): at most {MAX_NAME_LENGTH}, as it "
            f"names folders and files (and usually the repository)"
        )
    return None


def _suggest_identifier(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "project"
    if cleaned[0].isdigit():
        cleaned = "project_" + cleaned
    return cleaned[:MAX_NAME_LENGTH]


def _dependency_of_module(name: str) -> tuple[str, str] | None:
    # Case-insensitively: `Torch/` and `torch/` are one folder on macOS and Windows.
    for distribution, modules in DEPENDENCY_MODULES.items():
        for module in modules:
            if module.lower() == name.lower():
                return distribution, module
    return None


def check_package_name(name: str) -> str | None:
    """Return why ``name`` cannot be the import name of the package, or ``None`` if it can."""
    too_long = check_name_length("package_name", name)
    if too_long:
        return too_long
    if not _ASCII_IDENTIFIER.fullmatch(name):
        return (
            f"package_name {name!r} is not a valid Python identifier: use ASCII letters, digits "
            f"and underscores, not starting with a digit (e.g. {_suggest_identifier(name)!r})"
        )
    if keyword.iskeyword(name):
        return f"package_name {name!r} is a Python keyword: choose another name (e.g. '{name}_rl')"
    if name in sys.stdlib_module_names:
        return (
            f"package_name {name!r} is a standard-library module, which it would shadow: "
            f"choose another name (e.g. '{name}_rl')"
        )
    if name.startswith("_"):
        return (
            f"package_name {name!r} starts with an underscore, the mark of modules private to "
            f"another package (e.g. pytest's '_pytest') or of the interpreter's own ('__main__', "
            f"'__init__'): choose a public name (e.g. {name.strip('_') or 'project'!r})"
        )
    if name.lower() in PROJECT_FOLDERS:
        return (
            f"package_name {name!r} is reserved: it is a folder of the project's layout "
            f"({', '.join(PROJECT_FOLDERS)}): choose another name (e.g. '{name}_rl')"
        )
    dependency = _dependency_of_module(name)
    if dependency:
        distribution, module = dependency
        return (
            f"package_name {name!r} is reserved: it is the module {module!r} of the project's "
            f"dependency {distribution!r}, which it would shadow (`import {module}` would find the "
            f"project): choose another name (e.g. '{name}_rl')"
        )
    return None


def _normalize(name: str) -> str:
    # PEP 503 normalisation: how pip compares distribution names.
    return re.sub(r"[-_.]+", "-", name).lower()


def check_project_slug(slug: str) -> str | None:
    """Return why ``slug`` cannot be the distribution name, or ``None`` if it can."""
    too_long = check_name_length("project_slug", slug)
    if too_long:
        return too_long
    if not _DISTRIBUTION_NAME.fullmatch(slug):
        suggestion = re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-") or "my-project"
        return (
            f"project_slug {slug!r} is not a valid distribution name (PEP 508): use ASCII letters, "
            f"digits, '.', '-' and '_', starting and ending with a letter or digit "
            f"(e.g. {suggestion!r})"
        )
    if _normalize(slug) in RESERVED_NAMES:
        return (
            f"project_slug {slug!r} is the name of a dependency or a project folder "
            f"({_normalize(slug)!r}, as pip compares names): choose another name "
            f"(e.g. '{_normalize(slug)}-experiments')"
        )
    return None


def check_email(email: str) -> str | None:
    """Return why ``email`` does not look like an email address, or ``None`` if it does."""
    if not _EMAIL.fullmatch(email):
        return (
            f"author_email {email!r} does not look like an email address: expected name@domain.tld "
            f"(e.g. 'ada@example.org')"
        )
    return None


def check_single_line(key: str, value: str) -> str | None:
    """Return why the free-text answer ``key`` is unusable (empty or several lines), or ``None``."""
    if not value.strip():
        return f"{key} is empty ({value!r}): expected some text on one line"
    if any(char in value for char in _LINE_BREAKS):
        return f"{key} {_shorten(value)} spans several lines: expected a single line of text"
    return None


def check_git_url(url: str, key: str = "the template URL") -> str | None:
    """Return why pip cannot clone ``url`` as ``git+<url>@<tag>``, or ``None`` if it can.

    ``key`` names the URL in the message.
    """
    outside = [char for char in url if not _URL_CHARACTER.fullmatch(char)]
    if outside:
        return (
            f"{key} {url!r} holds {outside[0]!r}, which is not a URL character "
            f"(RFC 3986): percent-encode it (e.g. {quote(outside[0], safe='')!r}) or remove it"
        )
    if _BROKEN_PERCENT_ESCAPE.search(url):
        return (
            f"{key} {url!r} holds a '%' that does not start a percent-escape "
            f"(%XX, two hex digits): write '%25' for a literal '%'"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is not None and parts.password is not None:
        return (
            f"{key} {_redact(parts)!r} holds a password or token, which would be committed "
            f"with pyproject.toml: use the URL without it and a git credential helper or ssh://"
        )
    valid = (
        parts is not None
        and parts.scheme in _GIT_SCHEMES
        and not parts.query
        and not parts.fragment
        and "@" not in parts.path
        and (bool(parts.netloc) or (parts.scheme == "file" and bool(parts.path)))
    )
    if not valid:
        return (
            f"{key} {url!r} is not a repository URL pip can clone: expected "
            f"{', '.join(s + '://' for s in _GIT_SCHEMES)} followed by the repository, without a "
            f"'git+' prefix, '@tag' or '#fragment' (e.g. 'https://github.com/your-lab/rlcore.git')"
        )
    return None


def _redact(parts: SplitResult) -> str:
    # The message must not echo a secret onto the terminal (and into CI logs).
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# cookiecutter's abbreviations of hosted repositories (its default `abbreviations`).
_ABBREVIATIONS = {
    "gh": "https://github.com/{0}.git",
    "gl": "https://gitlab.com/{0}.git",
    "bb": "https://bitbucket.org/{0}",
}
_RELEASE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


def template_git_url(template: str, template_root: str) -> str:
    """Return the URL pip clones the template's own repository from (without ``git+``).

    ``template`` is what the template was generated from (Cookiecutter's and cruft's
    ``_template`` answer): a path, a URL or an abbreviation; ``template_root`` is the template's
    folder on this machine, which is where a relative path leads (Cookiecutter reads a local
    template in place; cruft records local paths as absolute ones). A local path becomes a
    ``file://`` URL, an scp-like address ``git@host:path`` becomes ``ssh://git@host/path``, and
    ``gh:``, ``gl:`` and ``bb:`` their hosts' URLs, so that the same answers give the same URL on
    every render (``cruft update`` renders with the recorded ``_template``). The templates render
    it with the same rules in Jinja (``templates/rlcore.jinja``).

    Example:
        >>> template_git_url("gh:your-lab/rl-template", "/tmp/clone")
        'https://github.com/your-lab/rl-template.git'
        >>> template_git_url("git@github.com:your-lab/rl-template.git", "/tmp/clone")
        'ssh://git@github.com/your-lab/rl-template.git'
        >>> template_git_url("/srv/templates/rl template", "/tmp/clone")
        'file:///srv/templates/rl%20template'
    """
    text = template.strip()
    if text.startswith("git+"):
        text = text[len("git+") :]
    prefix, _, rest = text.partition(":")
    if prefix in _ABBREVIATIONS and rest and not rest.startswith("//"):
        return _ABBREVIATIONS[prefix].format(rest)
    if "://" in text:
        return text
    if rest and "@" in prefix and "/" not in prefix and not rest.startswith("/"):
        return f"ssh://{prefix}/{rest}"
    return Path(text if text.startswith("/") else template_root).as_uri()


def compatible_range(version: str) -> str:
    """The specifier of the rlcore releases that keep every public name of ``version``.

    rlcore removes deprecated names in minor releases while it is 0.x, in major releases from
    1.0 (its deprecation policy), so ``0.Y.Z`` gives ``>=0.Y.Z,<0.(Y+1)`` and ``X.Y.Z`` (X >= 1)
    gives ``>=X.Y,<X+1``.

    Example:
        >>> compatible_range("0.2.0"), compatible_range("1.4.2")
        ('>=0.2.0,<0.3', '>=1.4,<2')
    """
    major, minor, patch = (int(part) for part in version.split("."))
    if major == 0:
        return f">=0.{minor}.{patch},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def rlcore_requirement(answers: Mapping[str, Any], extras: str, template_root: str) -> str:
    """Return the project's rlcore requirement (PEP 508) for these answers.

    It depends on the stored answers alone (``rlcore_source``, ``rlcore_version`` and the
    recorded ``_template``), so a template update, which renders the old and the new template
    with the same answers, never moves it: ``rlcore upgrade`` does, after the tests pass, and
    records the new version in ``.cruft.json``. ``extras`` is ``""`` or ``"[a,b]"``.
    """
    version = str(answers["rlcore_version"])
    if answers["rlcore_source"] == "git":
        url = template_git_url(str(answers.get("_template", "")), template_root)
        return f"rlcore{extras} @ git+{url}@v{version}#subdirectory=rlcore"
    return f"rlcore{extras}{compatible_range(version)}"


def check_version(version: str) -> str | None:
    """Return why ``version`` is not an rlcore release number (``X.Y.Z``), or ``None``."""
    if not _RELEASE.fullmatch(version):
        return (
            f"rlcore_version {_shorten(version)} is not a release number: expected X.Y.Z "
            f"(e.g. '0.2.0'), the rlcore release the project is written against"
        )
    return None


# The free-text answers; the answers with a specific format have their own check.
_FREE_TEXT = ("project_name", "project_short_description", "author_name")
_FORMAT_CHECKS: dict[str, Callable[[str], str | None]] = {
    "project_slug": check_project_slug,
    "package_name": check_package_name,
    "author_email": check_email,
    "rlcore_version": check_version,
}


# The kinds of notebooks a project can have (the answer ``notebooks``, a text question), and the
# answer cookiecutter.json renders from it: the kind itself, or the former yes/no question's
# values as cookiecutter read them (true, t, yes, y, 1, on: jupyter; false, f, no, n, 0, off: none),
# which projects made before the three kinds store in .cruft.json. That Jinja expression is the
# one mapping: the templates and both hooks read its result, never the answer itself. (Not a
# filter of local_extensions.py: `cruft update` renders the old template first and the new one
# in the same process, where the old template's module stays imported, without the filter.)
NOTEBOOK_KINDS = ("jupyter", "nbdev", "none")
NOTEBOOKS_KIND = "__notebooks_kind"


def check_notebooks(answer: object, kind: object) -> str | None:
    """Return why the answer ``notebooks`` is not a kind of notebooks, or ``None``.

    ``kind`` is what cookiecutter.json's ``__notebooks_kind`` made of ``answer``.
    """
    if kind in NOTEBOOK_KINDS:
        return None
    shown = _shorten(answer) if isinstance(answer, str) else repr(answer)
    return (
        f"notebooks {shown} is not a kind of notebooks: expected 'jupyter' (a quickstart notebook "
        f"that pytest runs), 'nbdev' (notebooks that are a module and its tests) or 'none' "
        f"(the former yes/no answers still work: yes for jupyter, no for none)"
    )


def validate(answers: Mapping[str, Any], template_root: str | None = None) -> list[str]:
    """Return one message per invalid answer (an empty list when all are valid).

    Every text answer is checked (:func:`check_text`), whether or not it is rendered: Cookiecutter
    writes all of them into the replay file and the post-generation hook into ``.cruft.json``.
    Choices and yes/no answers are Cookiecutter's to check; ``_``-keys are its own entries (the
    answer ``notebooks``, text with a closed set of values, is checked on what cookiecutter.json
    renders from it, ``__notebooks_kind``: :func:`check_notebooks`, in the hook's ``main``). With
    ``rlcore_source == "git"`` and the ``template_root`` known, the URL the project will take
    rlcore from (:func:`template_git_url`) must be one pip can clone and hold no secret.
    """
    # The rendered JSON has its keys sorted: report the answers with a check of their own first.
    checked = [*_FREE_TEXT, *_FORMAT_CHECKS]
    keys = [key for key in checked if key in answers] + sorted(set(answers) - set(checked))
    problems: list[str | None] = []
    for key in keys:
        value = answers[key]
        if key.startswith("_") or not isinstance(value, str):
            continue
        problem = check_single_line(key, value) if key in _FREE_TEXT else None
        problem = problem or check_text(key, value)
        if problem is None and key in _FORMAT_CHECKS:
            problem = _FORMAT_CHECKS[key](value)
        problems.append(problem)
    if answers.get("rlcore_source") == "git" and template_root is not None:
        url = template_git_url(str(answers.get("_template", "")), template_root)
        problems.append(
            check_git_url(url, "rlcore_source=git takes rlcore from the template's repository, but its URL")
        )
    return [problem for problem in problems if problem is not None]


def main() -> int:
    answers = json.loads(ANSWERS_JSON)
    problems = validate(answers, TEMPLATE_ROOT)
    notebooks = check_notebooks(answers.get("notebooks"), answers.get(NOTEBOOKS_KIND))
    if notebooks:
        problems.append(notebooks)
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
