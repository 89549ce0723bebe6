"""Temporal Schedules the worker keeps in place: the monthly payout (docs/architecture.md).

The time-skipping test server implements no Schedules; this runs against a dev server or a cluster.
"""

import logging

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from settings import Settings
from workflows.payout import PayoutInput, PayoutWorkflow

logger = logging.getLogger(__name__)

PAYOUT_SCHEDULE_ID = "payout-monthly"
# 02:00 in Berlin is already the 1st in UTC too (00:00 or 01:00), so the workflow's UTC clock names the month
# that just ended as the previous one.
PAYOUT_SPEC = ScheduleSpec(
    calendars=[
        ScheduleCalendarSpec(
            day_of_month=(ScheduleRange(1),),
            hour=(ScheduleRange(2),),
            minute=(ScheduleRange(0),),
            comment="monthly payout of the previous month",
        )
    ],
    time_zone_name="Europe/Berlin",
)


def payout_action(settings: Settings) -> ScheduleActionStartWorkflow:
    # Temporal appends the scheduled time to this id; the run itself pays the month as `payout-{yyyy-mm}`.
    return ScheduleActionStartWorkflow(
        PayoutWorkflow.run, PayoutInput(month=None), id=PAYOUT_SCHEDULE_ID, task_queue=settings.task_queue
    )


async def ensure_payout_schedule(client: Client, settings: Settings) -> None:
    """Creates the monthly payout Schedule, or brings an existing one to this spec and action.

    An existing Schedule keeps its state and policies (an operator may have paused it); it is only updated when
    its calendar, time zone or action differ, so a worker restart leaves it untouched.
    """
    action = payout_action(settings)
    try:
        await client.create_schedule(PAYOUT_SCHEDULE_ID, Schedule(action=action, spec=PAYOUT_SPEC))
        logger.info("created schedule %s", PAYOUT_SCHEDULE_ID)
        return
    except ScheduleAlreadyRunningError:
        pass
    # Compared before the codec: encrypted args differ on every encoding (a fresh nonce each time).
    desired_args = client.data_converter.payload_converter.to_payloads(action.args)
    codec = client.data_converter.payload_codec

    async def updated(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        schedule = current.description.schedule
        existing = schedule.action
        if (
            isinstance(existing, ScheduleActionStartWorkflow)
            and _same_spec(schedule.spec, PAYOUT_SPEC)
            and (existing.workflow, existing.id, existing.task_queue) == (action.workflow, action.id, action.task_queue)
            and (await codec.decode(existing.args) if codec else list(existing.args)) == desired_args
        ):
            return None
        logger.info("updating schedule %s to the current spec and action", PAYOUT_SCHEDULE_ID)
        schedule.spec = PAYOUT_SPEC
        schedule.action = action
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).update(updated)


def _same_spec(current: ScheduleSpec, desired: ScheduleSpec) -> bool:
    # The server hands calendars back normalized, so compare the calendars and the time zone, what this spec sets.
    return (list(current.calendars), current.time_zone_name) == (list(desired.calendars), desired.time_zone_name)
