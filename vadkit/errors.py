"""Exceptions with messages that name the file or item and the problem.

Every error a user can trigger with bad input derives from :class:`VadkitError`, so batch jobs can
catch it, record it and move on without swallowing programming errors.
"""

from __future__ import annotations


class VadkitError(Exception):
    """Base class of all user-facing vadkit errors."""


class VideoReadError(VadkitError):
    """A video is missing, corrupt, truncated or has zero frames."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class AnnotationError(VadkitError):
    """An annotation file is missing or malformed (the message names the file and line)."""


class LengthMismatchError(VadkitError):
    """Ground truth and scores disagree in length and no alignment policy was named."""


class ScoreError(VadkitError):
    """Scores are NaN/inf or have the wrong shape."""


class ParseError(VadkitError):
    """Model output (LLM/VLM text) could not be parsed strictly."""

    def __init__(self, text: str, expected: str, source: str | None = None):
        self.text = text
        self.expected = expected
        self.source = source
        where = f" [{source}]" if source else ""
        snippet = text if len(text) < 200 else text[:200] + "..."
        super().__init__(f"could not parse model output{where} as {expected}: {snippet!r}")


class ConfigError(VadkitError):
    """A profile, parameter or config value is unknown or has the wrong type."""


class CacheMismatchError(VadkitError):
    """A cache was written with other settings than the ones requested."""


class ModelNotFoundError(VadkitError):
    """A model name is neither a tiny-zoo entry, a local path nor (offline) a cached hub id."""


class DatasetError(VadkitError):
    """A dataset root is missing files or has an unexpected layout."""
