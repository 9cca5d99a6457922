"""Jinja helpers for the template, loaded by Cookiecutter through ``_extensions`` in cookiecutter.json.

* ``quoted`` (filter): ``{{ cookiecutter.author_name | quoted }}`` renders a double-quoted string
  literal that means the same string in TOML, Python, JSON and YAML, whatever the answer holds
  (quotes, backslashes, control characters, non-ASCII text).
* ``escaped_answers`` (filter): ``{%- set cookiecutter = cookiecutter | escaped_answers %}`` at
  the top of a file makes every ``"{{ cookiecutter.x }}"`` below it a well-formed double-quoted
  string (the text between the quotes of :func:`quoted`), like Jinja's HTML autoescaping: no
  answer rendered in that file can be forgotten, nor end its string early.
* ``template_root()`` (global): the absolute path of the template's root folder, so that the
  post-generation hook can record where the project came from (``.cruft.json``).
* ``project_folder`` (filter, applied by :meth:`TemplateExtension.preprocess` to the name of the
  template's root folder): rejects a ``project_slug`` that cannot name a folder: a path, an
  over-long name, text that is not UTF-8 or holds control characters. Cookiecutter creates the
  project folder *before* the pre-generation hook runs and, when the hook fails, deletes only
  that folder: a slug such as ``a/b`` would leave ``a/`` behind, and one of 260 characters, or
  holding a NUL, fails inside Cookiecutter with an ``OSError``. An ``UndefinedError`` raised
  while the folder name is rendered stops Cookiecutter before it creates anything (it reports
  ``UndefinedVariableInTemplate`` with this message). The checks are the pre-generation hook's
  own (``hooks/pre_gen_project.py``, imported unrendered), so the two cannot disagree.

Cookiecutter imports this file as the module ``local_extensions`` from the template's root
(``cookiecutter`` adds that folder to ``sys.path``; cruft clones the template into a temporary
folder that it adds there too).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from jinja2 import Environment
from jinja2.exceptions import UndefinedError
from jinja2.ext import Extension

__all__ = ["TemplateExtension", "escaped_answers", "project_folder", "quoted", "template_root"]

# The name of the template's root folder, exactly as Cookiecutter renders it.
_PROJECT_FOLDER_TEMPLATE = "{{cookiecutter.project_slug}}"

# Characters written as \uXXXX: every control character (TOML forbids them raw in a basic
# string, JSON forbids U+0000..U+001F), the ones YAML 1.1 reads as line breaks inside a
# double-quoted scalar (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR), which it would fold, and the
# two noncharacters that YAML does not accept raw (U+FFFE, U+FFFF).
_ESCAPED = frozenset([*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, 0xFFFE, 0xFFFF])


def quoted(value: object) -> str:
    r"""Return ``str(value)`` as a double-quoted literal valid in TOML, Python, JSON and YAML.

    The four grammars share exactly three escapes: ``\\``, ``\"`` and ``\uXXXX`` (four hex
    digits). Only those are used; every other character, non-ASCII included, is kept as is
    (``\u`` escapes of characters outside the BMP would need surrogate pairs, which TOML
    rejects).

    Example:
        >>> print(quoted('Ada "the" Lovelace \\ Zoë'))
        "Ada \"the\" Lovelace \\ Zoë"
        >>> print(quoted("tab\there"))
        "tab\u0009here"
    """
    return f'"{_escape(str(value), "quoted")}"'


def escaped_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    r"""Return ``answers`` with every text value escaped for a double-quoted string (see :func:`quoted`).

    Other values (yes/no answers, Cookiecutter's own lists and dicts) are kept as they are.

    Example:
        >>> escaped_answers({"author_name": 'Ada "A." \\', "init_git": True})
        {'author_name': 'Ada \\"A.\\" \\\\', 'init_git': True}
    """
    return {
        key: _escape(value, "escaped_answers") if isinstance(value, str) else value
        for key, value in answers.items()
    }


def _escape(text: str, caller: str) -> str:
    parts = []
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            parts.append("\\" + char)
        elif code in _ESCAPED:
            parts.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate (e.g. from undecodable bytes) can be written in none of the
            # four formats; failing here names the answer instead of writing a broken file.
            raise ValueError(f"{caller}: the answer {text!r} holds the lone surrogate U+{code:04X}")
        else:
            parts.append(char)
    return "".join(parts)


def template_root() -> str:
    """Return the absolute path of the template's root folder (the folder of this file)."""
    return os.path.dirname(os.path.abspath(__file__))


def _load_pre_gen_hook() -> ModuleType:
    path = os.path.join(template_root(), "hooks", "pre_gen_project.py")
    spec = importlib.util.spec_from_file_location("_template_pre_gen_project", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PRE_GEN = _load_pre_gen_hook()


def project_folder(slug: object) -> str:
    """Return ``slug`` if it can name a folder inside the output folder; raise ``UndefinedError`` if not.

    Example:
        >>> project_folder("my-project")
        'my-project'
        >>> project_folder("runs/my-project")
        Traceback (most recent call last):
        ...
        jinja2.exceptions.UndefinedError: project_slug 'runs/my-project' is a path, not a name: ...
        >>> project_folder("a" * 260)
        Traceback (most recent call last):
        ...
        jinja2.exceptions.UndefinedError: project_slug 'aaa...'... is too long (260 characters): at most 100, ...
    """
    text = str(slug)
    if not text:
        # The default slug is project_name slugified, which is empty when the name holds no
        # letter or digit.
        raise UndefinedError(
            "project_slug is empty: it names the project folder, so give one, or a project_name "
            "with letters or digits (e.g. 'my-project')"
        )
    if text in (".", "..") or any(sep in text for sep in ("/", "\\", os.sep)):
        raise UndefinedError(
            f"project_slug {text!r} is a path, not a name: it names the project folder, so use "
            f"ASCII letters, digits, '.', '-' and '_' (e.g. 'my-project')"
        )
    problem = _PRE_GEN.check_text("project_slug", text) or _PRE_GEN.check_name_length("project_slug", text)
    if problem:
        raise UndefinedError(problem)
    return text


class TemplateExtension(Extension):
    """Registers the filters :func:`quoted`, :func:`escaped_answers` and :func:`project_folder`, and the global :func:`template_root`."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["quoted"] = quoted
        environment.filters["escaped_answers"] = escaped_answers
        environment.filters["project_folder"] = project_folder
        environment.globals["template_root"] = template_root

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """Route the project folder's name through :func:`project_folder` (see the module docstring)."""
        if source == _PROJECT_FOLDER_TEMPLATE:
            return "{{ cookiecutter.project_slug | project_folder }}"
        return source
