"""Errors a user can act on. Each renders as one line naming the file, the field and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

# How alike a misspelt name and a known one must be to suggest the known one (difflib's ratio: 0.6 is
# its own default; 0.7 keeps suggestions to real near-misses such as "cohrt" for "cohort").
SUGGESTION_CUTOFF = 0.7


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest known name, or "" when none is close."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=SUGGESTION_CUTOFF)
    return f" (did you mean {close[0]!r}?)" if close else ""


class UserInputError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""

    exit_status = 2


class ScenarioError(UserInputError):
    def __init__(self, file: Path | str, field: str, expected: str, got: object | None = None) -> None:
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(self.one_line())

    def __reduce__(self):
        # Raised in a worker process, the error travels back pickled: rebuilt from its own fields
        # (the default would call __init__ with the one-line message alone and break the pool).
        return (type(self), (self.file, self.field, self.expected, self.got))

    def one_line(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        message = f"{where}: expected {self.expected}"
        if self.got is not None:
            shown = repr(self.got)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            message += f", got {shown}"
        return " ".join(message.split())  # one line whatever the input contained


class ParameterError(UserInputError):
    """A parameter file entry or override that cannot be used."""

    def __init__(self, file: Path | str, name: str, expected: str, got: object | None = None) -> None:
        self.inner = ScenarioError(file, name, expected, got)
        super().__init__(self.inner.one_line())

    def __reduce__(self):
        inner = self.inner
        return (type(self), (inner.file, inner.field, inner.expected, inner.got))


class ScenarioWarning(UserWarning):
    """Valid but surely unintended input (e.g. a rule that can never fire): one line on stderr, exit 0."""


class ModalityDeclarationError(Exception):
    """A treatment modality whose declarations are incomplete (pathways/base.py): a programming error in
    the model, raised when a model using it is built rather than leaving it silently out of a list."""
