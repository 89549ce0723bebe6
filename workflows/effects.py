"""What every workflow does the same way: run an activity with the project's retry policy, and keep its
search attributes current without writing an upsert to history when nothing changed."""

from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair

# Activities are idempotent, so they are retried until they succeed (or fail for good with a non-retryable error).
# The backoff stays short: most failures are outages of the store or an endpoint, and work should resume within
# half a minute of their end. The timeout is what a worker killed mid-activity costs: its attempt counts as failed
# (and runs again elsewhere) once it passes; every activity's own waits (store, ISV calls) are shorter.
ACTIVITY_TIMEOUT = timedelta(seconds=20)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

ResultT = TypeVar("ResultT")


async def run_activity(name: str, argument: BaseModel, result_type: type[ResultT] | None = None) -> Any:
    return await workflow.execute_activity(
        name,
        argument,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=ACTIVITY_RETRY,
        result_type=result_type,
    )


class SearchAttributePublisher:
    def __init__(self) -> None:
        self._published: list[SearchAttributePair[Any]] = []

    def publish(self, pairs: list[SearchAttributePair[Any]]) -> None:
        if pairs != self._published:
            workflow.upsert_search_attributes([pair.key.value_set(pair.value) for pair in pairs])
            self._published = pairs
