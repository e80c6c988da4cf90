"""The errors dlcore raises on purpose. Every message says what went wrong and what to do about it."""
from __future__ import annotations


class DlcoreError(Exception):
    """Base class: an expected failure with a message meant for the user (one line, names the fix)."""


class DataError(DlcoreError):
    """Input data that cannot be used: unreadable, malformed, or unsuitable for the task."""


class ModelError(DlcoreError):
    """A model that cannot be built, loaded, or used as asked."""


class UnsafeModelError(ModelError):
    """A model file refused on import because loading it could run code or touch the file system."""


class JobError(DlcoreError):
    """A training job that cannot be started, found, stopped or resumed."""


class ExplainError(DlcoreError):
    """An explanation that cannot be computed for this model or input."""


class FairnessError(DlcoreError):
    """A fairness audit or mitigation that cannot be run on this model, data or column."""
