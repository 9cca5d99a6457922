"""Modules that nbdev exports from the notebooks in nbs/: edit the notebooks, never these files."""
