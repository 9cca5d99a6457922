"""The rlcore release: one literal that the build (hatch), ``rlcore check`` and every module read."""

__version__ = "0.2.0"
