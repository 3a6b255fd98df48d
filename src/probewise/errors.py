"""One error family for probewise: every message says what went wrong and what to do.

Example:
    >>> from probewise.errors import ProbewiseError, DataError
    >>> issubclass(DataError, ProbewiseError) and issubclass(DataError, ValueError)
    True
"""

from __future__ import annotations


class ProbewiseError(Exception):
    """Base class of every error probewise raises on purpose."""


class DataError(ProbewiseError, ValueError):
    """Bad input data: files, columns, labels, splits, text."""


class ConfigError(ProbewiseError, ValueError):
    """Bad configuration: unknown option, value out of range, inconsistent settings."""


class SourceError(ProbewiseError, ValueError):
    """A model could not be loaded or does not offer what was asked (layer, pooling)."""


class StoreError(ProbewiseError):
    """An activation store is missing, incomplete, corrupted, locked or written for another config."""


class ProbeError(ProbewiseError, ValueError):
    """A probe could not be fitted, loaded or applied."""
