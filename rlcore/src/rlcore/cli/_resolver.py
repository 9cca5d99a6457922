"""Where a dotted rlcore name leads in the installed rlcore: an object, a removal, a deprecation (private).

:class:`Resolver` imports the installed rlcore (never the project being scanned) to learn which
names exist and which carry a :class:`rlcore.deprecation.Deprecation`; the scan of a project's
code (:mod:`rlcore.cli._deprecated_scan`) asks it about every rlcore name the code uses.
"""

from __future__ import annotations

import importlib
import inspect
import types
import warnings
from dataclasses import dataclass
from typing import Any

from rlcore.deprecation import DEPRECATIONS, Deprecation

__all__ = ["UNKNOWN", "Resolved", "Resolver", "accepted_keywords"]

_MISSING = object()  # the name does not exist
UNKNOWN = object()  # cannot tell: the module exists but fails to import (an optional dependency)


@dataclass(frozen=True)
class Resolved:
    """Where a dotted rlcore name leads: the object, or the first missing prefix, or unknown."""

    obj: Any = UNKNOWN
    missing: str | None = None
    deprecation: Deprecation | None = None


class Resolver:
    """Resolves dotted rlcore names against the installed rlcore (imports, never the project)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self._cache: dict[str, Resolved] = {}

    def resolve(self, dotted: str) -> Resolved:
        """Where ``dotted`` leads (cached: each name is looked up once)."""
        if dotted not in self._cache:
            self._cache[dotted] = self._resolve(dotted)
        return self._cache[dotted]

    def _resolve(self, dotted: str) -> Resolved:
        parts = dotted.split(".")
        try:
            obj: Any = importlib.import_module(parts[0])
        except ImportError:
            return Resolved()
        deprecation = None
        for index in range(1, len(parts)):
            prefix = ".".join(parts[: index + 1])
            parent = obj
            obj = _lookup(parent, parts[index], prefix)
            if obj is _MISSING:
                # Only a module's namespace is closed; an attribute missing from a class may
                # be set on its instances, so only a module can prove a name gone.
                if isinstance(parent, types.ModuleType):
                    return Resolved(missing=prefix, deprecation=deprecation)
                return Resolved(deprecation=deprecation)
            if obj is UNKNOWN:
                return Resolved(deprecation=deprecation)
            if deprecation is None:
                deprecation = _deprecation_of(prefix, obj)
        return Resolved(obj=obj, deprecation=deprecation)

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
            if target is not UNKNOWN and any(target is candidate for candidate in targets):
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
            return UNKNOWN
    if not isinstance(parent, types.ModuleType):
        return _MISSING
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as error:
        return _MISSING if error.name == dotted else UNKNOWN
    except Exception:  # the submodule exists but fails to import (an optional dependency)
        return UNKNOWN


def _deprecation_of(dotted: str, obj: Any) -> Deprecation | None:
    entry = DEPRECATIONS.get(dotted)
    if entry is not None and entry.kind != "argument":
        return entry
    marker = getattr(obj, "__deprecated__", None)
    return marker if isinstance(marker, Deprecation) else None


def accepted_keywords(obj: Any) -> set[str] | None:
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
