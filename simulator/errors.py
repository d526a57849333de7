"""Errors a user can act on. Each renders as one line naming the file, the field and what was expected."""

from __future__ import annotations


class UserInputError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""

    exit_status = 2


class ScenarioError(UserInputError):
    def __init__(self, file: str, field: str, expected: str, got: object | None = None) -> None:
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(self.one_line())

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

    def __init__(self, file: str, name: str, expected: str, got: object | None = None) -> None:
        self.inner = ScenarioError(file, name, expected, got)
        super().__init__(self.inner.one_line())
