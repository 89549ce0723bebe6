"""The refusal every process's rules raise when a command does not fit the state it meets."""

from typing import Any


class CommandRefused(Exception):
    """The process refuses a command now; `code` names the rule, `message` explains it."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
