"""A workflow that only calls the ISV connector, to watch Temporal's activity retry deliver a call (tests only;
a module of its own because the workflow sandbox re-imports a workflow's module)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from activities import names

with workflow.unsafe.imports_passed_through():
    from domain.subscription.model import ConnectorCall, ConnectorReply

RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=2, maximum_attempts=5)


@workflow.defn
class ConnectorCallWorkflow:
    @workflow.run
    async def run(self, call: ConnectorCall) -> ConnectorReply:
        reply: ConnectorReply = await workflow.execute_activity(
            names.CALL_CONNECTOR,
            call,
            result_type=ConnectorReply,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RETRY,
        )
        return reply
