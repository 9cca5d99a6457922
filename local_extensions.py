"""Jinja helpers for the template, loaded by Cookiecutter through ``_extensions`` in cookiecutter.json.

* ``quoted`` (filter): ``{{ cookiecutter.author_name | quoted }}`` renders a double-quoted string
  literal that means the same string in TOML, Python, JSON and YAML, whatever the answer holds
  (quotes, backslashes, control characters, non-ASCII text).
* ``template_root()`` (global): the absolute path of the template's root folder, so that the
  post-generation hook can record where the project came from (``.cruft.json``).
* ``project_folder`` (filter, applied by :meth:`TemplateExtension.preprocess` to the name of the
  template's root folder): rejects a ``project_slug`` that is a path rather than a name.
  Cookiecutter creates the project folder *before* the pre-generation hook runs and, when the
  hook fails, deletes only that folder: a slug such as ``a/b`` would leave ``a/`` behind. An
  ``UndefinedError`` raised while the folder name is rendered stops Cookiecutter before it
  creates anything (it reports ``UndefinedVariableInTemplate`` with this message).

Cookiecutter imports this file as the module ``local_extensions`` from the template's root
(``cookiecutter`` adds that folder to ``sys.path``; cruft clones the template into a temporary
folder that it adds there too).
"""

from __future__ import annotations

import os

from jinja2 import Environment
from jinja2.exceptions import UndefinedError
from jinja2.ext import Extension

__all__ = ["TemplateExtension", "project_folder", "quoted", "template_root"]

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
    text = str(value)
    parts = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            parts.append("\\" + char)
        elif code in _ESCAPED:
            parts.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate (e.g. from undecodable bytes) can be written in none of the
            # four formats; failing here names the answer instead of writing a broken file.
            raise ValueError(f"quoted: the answer {text!r} holds the lone surrogate U+{code:04X}")
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def template_root() -> str:
    """Return the absolute path of the template's root folder (the folder of this file)."""
    return os.path.dirname(os.path.abspath(__file__))


def project_folder(slug: object) -> str:
    """Return ``slug`` if it can name a folder inside the output folder; raise ``UndefinedError`` if not.

    Example:
        >>> project_folder("my-project")
        'my-project'
        >>> project_folder("runs/my-project")
        Traceback (most recent call last):
        ...
        jinja2.exceptions.UndefinedError: project_slug 'runs/my-project' is a path, not a name: ...
    """
    text = str(slug)
    if text in ("", ".", "..") or any(sep in text for sep in ("/", "\\", os.sep)):
        raise UndefinedError(
            f"project_slug {text!r} is a path, not a name: it names the project folder, so use "
            f"ASCII letters, digits, '.', '-' and '_' (e.g. 'my-project')"
        )
    return text


class TemplateExtension(Extension):
    """Registers the filters :func:`quoted` and :func:`project_folder` and the global :func:`template_root`."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["quoted"] = quoted
        environment.filters["project_folder"] = project_folder
        environment.globals["template_root"] = template_root

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """Route the project folder's name through :func:`project_folder` (see the module docstring)."""
        if source == _PROJECT_FOLDER_TEMPLATE:
            return "{{ cookiecutter.project_slug | project_folder }}"
        return source
