"""Deprecation policy, enforced in code.

Public names are removed only in a new minor release while rlcore is 0.x (a new major release
from 1.0 on), after at least one release in which they warn. :func:`deprecated` marks a
function or class, :func:`deprecated_argument` a keyword argument, and
:func:`deprecated_alias` a renamed name; each emits :class:`RLCoreDeprecationWarning` and
records itself in :data:`DEPRECATIONS`, which ``rlcore check`` reads to find uses in a project.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "DEPRECATIONS",
    "Deprecation",
    "RLCoreDeprecationWarning",
    "deprecated",
    "deprecated_alias",
    "deprecated_argument",
]

F = TypeVar("F", bound=Callable[..., Any])


class RLCoreDeprecationWarning(DeprecationWarning):
    """Warning emitted when a deprecated rlcore name is used.

    It subclasses :class:`DeprecationWarning`, so ``-W error::DeprecationWarning`` catches it;
    ``rlcore upgrade`` runs a project's tests with exactly this category turned into errors.
    """


@dataclass(frozen=True)
class Deprecation:
    """One deprecated public name.

    Attributes:
        name: dotted public name, e.g. ``"rlcore.returns.old_gae"``; for an argument,
            ``"rlcore.returns.gae(lam_)"``.
        since: the version that started warning.
        removed_in: the version that removes it.
        replacement: what to use instead (free text, usually a dotted name).
        kind: ``"function"``, ``"class"``, ``"argument"`` or ``"alias"``.
    """

    name: str
    since: str
    removed_in: str
    replacement: str | None
    kind: str

    @property
    def message(self) -> str:
        instead = f"; use {self.replacement} instead" if self.replacement else ""
        return f"{self.name} is deprecated since rlcore {self.since} and will be removed in {self.removed_in}{instead}."


#: Every deprecation registered so far, keyed by the deprecated dotted name.
DEPRECATIONS: dict[str, Deprecation] = {}


def _register(entry: Deprecation) -> Deprecation:
    _check_versions(entry)
    DEPRECATIONS[entry.name] = entry
    return entry


def _check_versions(entry: Deprecation) -> None:
    since, removed = _parse(entry.since), _parse(entry.removed_in)
    if removed <= since:
        raise ValueError(f"{entry.name}: removed_in={entry.removed_in} must come after since={entry.since}")


def _parse(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split(".")[:3])
    except ValueError:
        raise ValueError(f"expected a version like '0.2.0', got {version!r}") from None


def _warn(entry: Deprecation, stacklevel: int = 3) -> None:
    warnings.warn(entry.message, RLCoreDeprecationWarning, stacklevel=stacklevel)


def deprecated(
    *, since: str, removed_in: str, replacement: str | None = None, name: str | None = None
) -> Callable[[F], F]:
    """Mark a function or class as deprecated.

    Example:
        >>> @deprecated(since="0.1.0", removed_in="0.2.0", replacement="new_fn", name="mymod.old_fn")
        ... def old_fn(x):
        ...     return x
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _ = old_fn(1)
        >>> caught[0].category.__name__, str(caught[0].message)
        ('RLCoreDeprecationWarning', 'mymod.old_fn is deprecated since rlcore 0.1.0 and will be removed in 0.2.0; use new_fn instead.')
    """

    def decorate(obj: F) -> F:
        full_name = name or f"{obj.__module__}.{obj.__qualname__}"
        kind = "class" if inspect.isclass(obj) else "function"
        entry = _register(Deprecation(full_name, since, removed_in, replacement, kind))
        if inspect.isclass(obj):
            original_init = obj.__init__

            @functools.wraps(original_init)
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                _warn(entry)
                original_init(self, *args, **kwargs)

            obj.__init__ = __init__  # type: ignore[method-assign]
            obj.__deprecated__ = entry  # type: ignore[attr-defined]
            return obj

        @functools.wraps(obj)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _warn(entry)
            return obj(*args, **kwargs)

        wrapper.__deprecated__ = entry  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def deprecated_argument(
    old: str, *, since: str, removed_in: str, new: str | None = None, name: str | None = None
) -> Callable[[F], F]:
    """Mark keyword argument ``old`` of a function as deprecated, forwarding it to ``new`` if given.

    Example:
        >>> @deprecated_argument("lam_", new="lam", since="0.1.0", removed_in="0.2.0", name="f")
        ... def f(lam=0.95):
        ...     return lam
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     f(lam_=0.9)
        0.9
    """

    def decorate(fn: F) -> F:
        full_name = f"{name or fn.__module__ + '.' + fn.__qualname__}({old})"
        entry = _register(Deprecation(full_name, since, removed_in, new, "argument"))

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                _warn(entry)
                value = kwargs.pop(old)
                if new is not None:
                    if new in kwargs:
                        raise TypeError(f"{full_name}: pass either '{old}' (deprecated) or '{new}', not both")
                    kwargs[new] = value
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def deprecated_alias(
    module_globals: dict[str, Any], old: str, new_obj: Any, *, since: str, removed_in: str, replacement: str
) -> Callable[[str], Any]:
    """Keep ``old`` importable from a module as an alias of ``new_obj``, warning on access.

    Use it to build a module-level ``__getattr__`` (PEP 562)::

        __getattr__ = deprecated_alias(globals(), "old_name", new_name, since="0.2.0",
                                       removed_in="0.3.0", replacement="rlcore.mod.new_name")
    """
    module = module_globals["__name__"]
    entry = _register(Deprecation(f"{module}.{old}", since, removed_in, replacement, "alias"))
    previous = module_globals.get("__getattr__")

    def __getattr__(attr: str) -> Any:
        if attr == old:
            _warn(entry, stacklevel=2)
            return new_obj
        if previous is not None:
            return previous(attr)
        raise AttributeError(f"module {module!r} has no attribute {attr!r}")

    return __getattr__
