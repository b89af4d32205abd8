"""Importing this package registers every handler the YAML can name."""

from dialog.handlers import answers, financing, handoff, search, selection

__all__ = ["answers", "financing", "handoff", "search", "selection"]
