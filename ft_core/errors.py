"""The one error type a user sees.

Core code raises ``UserError("what went wrong ... what to do")``. The UI turns it into
``gr.Error`` (a readable toast, the app keeps serving) and the CLI prints it and exits
non-zero. Anything else reaching the user is a bug.
"""


class UserError(Exception):
    """A problem the user can fix: bad input, missing file, offline Hub id, ..."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} {hint}")

    def __str__(self) -> str:  # what the UI and CLI print
        return self.message if not self.hint else f"{self.message} {self.hint}"


def require(condition: bool, message: str, *, hint: str | None = None) -> None:
    """Raise UserError(message) unless condition holds."""
    if not condition:
        raise UserError(message, hint=hint)
