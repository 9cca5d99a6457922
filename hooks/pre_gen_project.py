"""Validate the template answers before Cookiecutter writes any file of the project.

Cookiecutter renders this file with Jinja, then runs it with the new project folder (created
and still empty) as the working directory. When it exits non-zero, Cookiecutter 2.x deletes that
folder again and raises ``FailedHookException``, so a rejected answer leaves nothing on disk.

Each problem is printed on one line of stderr: what is wrong, the value received, and what
would be valid. All problems are reported at once, so one run shows everything to fix.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "RESERVED_NAMES",
    "check_email",
    "check_git_url",
    "check_package_name",
    "check_project_slug",
    "check_single_line",
    "validate",
]

# Rendered by Cookiecutter: the answers as JSON (ASCII only, every quote escaped, so a raw
# triple-quoted string always holds it intact). Unrendered, this module can be imported by tests.
ANSWERS_JSON = r"""{{ cookiecutter | jsonify }}"""

# Names a package (or a distribution) may not take: `src`, `test` and `tests` are folders of
# the project's own layout, and the rest are its dependencies, which the package would shadow
# (an `import torch` inside the project would find the project).
RESERVED_NAMES = ("src", "test", "tests", "rlcore", "torch", "gymnasium", "numpy")

# PEP 508 / Core metadata: a distribution name is ASCII letters and digits, with `.`, `-`, `_`
# allowed inside.
_DISTRIBUTION_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_ASCII_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Deliberately loose: one @, no spaces, and a dot in the domain. Real validation is sending mail.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_GIT_SCHEMES = ("https", "http", "ssh", "git", "file")


def _suggest_identifier(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "project"
    if cleaned[0].isdigit():
        cleaned = "project_" + cleaned
    return cleaned


def check_package_name(name: str) -> str | None:
    """Return why ``name`` cannot be the import name of the package, or ``None`` if it can."""
    if not _ASCII_IDENTIFIER.match(name):
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
    if name in RESERVED_NAMES:
        return (
            f"package_name {name!r} is reserved ({', '.join(RESERVED_NAMES)} are the project's "
            f"folders or dependencies): choose another name (e.g. '{name}_rl')"
        )
    return None


def _normalize(name: str) -> str:
    # PEP 503 normalisation: how pip compares distribution names.
    return re.sub(r"[-_.]+", "-", name).lower()


def check_project_slug(slug: str) -> str | None:
    """Return why ``slug`` cannot be the distribution name, or ``None`` if it can."""
    if not _DISTRIBUTION_NAME.match(slug):
        suggestion = re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-") or "my-project"
        return (
            f"project_slug {slug!r} is not a valid distribution name (PEP 508): use ASCII letters, "
            f"digits, '.', '-' and '_', starting and ending with a letter or digit "
            f"(e.g. {suggestion!r})"
        )
    if _normalize(slug) in RESERVED_NAMES:
        return (
            f"project_slug {slug!r} is the name of a dependency or a project folder "
            f"({', '.join(RESERVED_NAMES)}): choose another name (e.g. '{_normalize(slug)}-experiments')"
        )
    return None


def check_email(email: str) -> str | None:
    """Return why ``email`` does not look like an email address, or ``None`` if it does."""
    if not _EMAIL.match(email):
        return (
            f"author_email {email!r} does not look like an email address: expected name@domain.tld "
            f"(e.g. 'ada@example.org')"
        )
    return None


def check_single_line(key: str, value: str) -> str | None:
    """Return why the free-text answer ``key`` is unusable (empty or several lines), or ``None``."""
    if not value.strip():
        return f"{key} is empty ({value!r}): expected some text on one line"
    if any(char in value for char in "\r\n\x0b\x0c\x85\u2028\u2029"):
        return f"{key} {value!r} spans several lines: expected a single line of text"
    return None


def check_git_url(url: str) -> str | None:
    """Return why pip cannot clone ``url`` as ``git+<url>@<tag>``, or ``None`` if it can."""
    parts = urlsplit(url)
    valid = (
        parts.scheme in _GIT_SCHEMES
        and not any(char.isspace() for char in url)
        and not parts.query
        and not parts.fragment
        and "@" not in parts.path
        and (bool(parts.netloc) or (parts.scheme == "file" and bool(parts.path)))
    )
    if not valid:
        return (
            f"rlcore_git_url {url!r} is not a repository URL pip can clone: expected "
            f"{', '.join(s + '://' for s in _GIT_SCHEMES)} followed by the repository, without a "
            f"'git+' prefix, '@tag' or '#fragment' (e.g. 'https://github.com/your-lab/rlcore.git')"
        )
    return None


def validate(answers: Mapping[str, Any]) -> list[str]:
    """Return one message per invalid answer (an empty list when all are valid)."""
    problems = [
        check_single_line("project_name", str(answers["project_name"])),
        check_single_line("project_short_description", str(answers["project_short_description"])),
        check_single_line("author_name", str(answers["author_name"])),
        check_project_slug(str(answers["project_slug"])),
        check_package_name(str(answers["package_name"])),
        check_email(str(answers["author_email"])),
    ]
    if answers["rlcore_source"] == "git":
        problems.append(check_git_url(str(answers["rlcore_git_url"])))
    return [problem for problem in problems if problem is not None]


def main() -> int:
    problems = validate(json.loads(ANSWERS_JSON))
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
