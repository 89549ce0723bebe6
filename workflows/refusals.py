"""How a workflow validator turns a domain refusal into the error the caller receives."""

from collections.abc import Callable
from typing import TypeVar

from temporalio.exceptions import ApplicationError

from domain.errors import CommandRefused

StateT = TypeVar("StateT")
CommandT = TypeVar("CommandT")


def refuse_unless(check: Callable[[StateT, CommandT], None], state: StateT, command: CommandT) -> None:
    """Runs a domain check; a refusal becomes a non-retryable ApplicationError whose type is the rule's code."""
    try:
        check(state, command)
    except CommandRefused as refused:
        raise ApplicationError(refused.message, refused.details, type=refused.code, non_retryable=True) from refused
