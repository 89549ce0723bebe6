"""Which failed queries mean "no worker answered" (503 worker_unavailable) rather than "Temporal is not answering"."""

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.workflow_commands import _no_worker_answered


@pytest.mark.parametrize(
    "error",
    [
        RPCError("operation was cancelled", RPCStatusCode.CANCELLED, b""),
        RPCError("query timed out before a worker could process it", RPCStatusCode.DEADLINE_EXCEEDED, b""),
    ],
)
def test_a_query_no_worker_took_up_in_time_is_a_missing_worker(error: RPCError):
    assert _no_worker_answered(error)


@pytest.mark.parametrize(
    "error",
    [
        RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b""),
        RPCError("connection reset", RPCStatusCode.UNAVAILABLE, b""),
        RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""),
    ],
)
def test_other_failures_are_not_put_down_to_the_worker(error: RPCError):
    assert not _no_worker_answered(error)
